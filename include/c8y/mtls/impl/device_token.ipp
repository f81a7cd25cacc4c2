// c8y-mtls: the definitions device_token.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/device_token.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::optional<std::int64_t> numeric_date(std::string_view number)
{
    const bool negative = !number.empty() && number.front() == '-';
    if (negative) {
        number.remove_prefix(1);
    }
    const std::size_t exponent_at = number.find_first_of("eE");
    std::int64_t exponent = 0;
    if (exponent_at != std::string_view::npos) {
        std::string_view e = number.substr(exponent_at + 1);
        const bool exponent_negative = e.front() == '-';
        if (e.front() == '-' || e.front() == '+') {
            e.remove_prefix(1);
        }
        // Saturate: any exponent this large already decides the outcome.
        for (const char c : e) {
            exponent = std::min<std::int64_t>(exponent * 10 + (c - '0'), 1'000'000);
        }
        if (exponent_negative) {
            exponent = -exponent;
        }
        number = number.substr(0, exponent_at);
    }
    const std::size_t dot = number.find('.');
    std::string digits(number.substr(0, dot));
    std::int64_t integer_digits = static_cast<std::int64_t>(digits.size()) + exponent;
    if (dot != std::string_view::npos) {
        digits.append(number.substr(dot + 1));
    }
    const std::size_t first = digits.find_first_not_of('0');
    if (first == std::string::npos) {
        return 0;
    }
    digits.erase(0, first);
    integer_digits -= static_cast<std::int64_t>(first);
    if (integer_digits <= 0) {
        return 0; // a fraction of a second, truncated
    }
    if (negative || integer_digits > 12) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (std::int64_t i = 0; i < integer_digits; ++i) {
        const auto at = static_cast<std::size_t>(i);
        value = value * 10 + (at < digits.size() ? digits[at] - '0' : 0);
    }
    if (value > max_numeric_date) {
        return std::nullopt;
    }
    return value;
}

C8Y_MTLS_DECL std::string_view without_line_end(std::string_view text) noexcept
{
    if (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
        if (!text.empty() && text.back() == '\r') {
            text.remove_suffix(1);
        }
    }
    return text;
}

} // namespace c8y::mtls::detail

namespace c8y::mtls {

C8Y_MTLS_DECL bool device_token::expired_at(std::chrono::sys_seconds now, std::chrono::seconds margin) const noexcept
{
    return now >= expires_at_ - margin;
}

} // namespace c8y::mtls
