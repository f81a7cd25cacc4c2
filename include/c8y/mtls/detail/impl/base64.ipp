// c8y-mtls: the definitions base64.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/base64.hpp"

namespace c8y::mtls::detail::base64_impl {

C8Y_MTLS_DECL std::string encode(std::string_view data, std::string_view alphabet, bool pad)
{
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    const auto byte = [&](std::size_t at) -> std::uint32_t { return static_cast<unsigned char>(data[at]); };
    for (std::size_t i = 0; i < data.size(); i += 3) {
        // n bytes make n + 1 characters; padding fills the group of 4.
        const std::size_t n = std::min<std::size_t>(3, data.size() - i);
        std::uint32_t group = byte(i) << 16;
        if (n > 1) {
            group |= byte(i + 1) << 8;
        }
        if (n > 2) {
            group |= byte(i + 2);
        }
        for (std::size_t k = 0; k <= n; ++k) {
            out += alphabet[(group >> (18 - 6 * k)) & 0x3F];
        }
        if (pad) {
            out.append(3 - n, '=');
        }
    }
    return out;
}

C8Y_MTLS_DECL int digit(char c, std::string_view alphabet) noexcept
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == alphabet[62]) {
        return 62;
    }
    if (c == alphabet[63]) {
        return 63;
    }
    return -1;
}

C8Y_MTLS_DECL const char* why_not_a_digit(char c, bool url) noexcept
{
    if (c == '=') {
        return url ? "padding '=' is not allowed in base64url" : "padding '=' before the end";
    }
    if (url && (c == '+' || c == '/')) {
        return "'+' and '/' belong to standard base64, base64url uses '-' and '_'";
    }
    if (!url && (c == '-' || c == '_')) {
        return "'-' and '_' belong to base64url, standard base64 uses '+' and '/'";
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        return "whitespace is not allowed";
    }
    return "character outside the base64 alphabet";
}

} // namespace c8y::mtls::detail::base64_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string base64_encode(std::string_view data)
{
    return base64_impl::encode(data, base64_impl::standard_alphabet, true);
}

C8Y_MTLS_DECL std::string base64url_encode(std::string_view data)
{
    return base64_impl::encode(data, base64_impl::url_alphabet, false);
}

C8Y_MTLS_DECL std::optional<std::string> base64_decode(std::string_view text, base64_error* error)
{
    std::string_view body = text;
    for (int pad = 0; pad < 2 && !body.empty() && body.back() == '='; ++pad) {
        body.remove_suffix(1);
    }
    auto data = base64_impl::decode_body(body, base64_impl::standard_alphabet, false, error);
    if (data && text.size() % 4 != 0) {
        if (error != nullptr) {
            *error = {text.size(), "length is not a multiple of 4 (padding missing or too short)"};
        }
        return std::nullopt;
    }
    return data;
}

C8Y_MTLS_DECL std::optional<std::string> base64url_decode(std::string_view text, base64_error* error)
{
    return base64_impl::decode_body(text, base64_impl::url_alphabet, true, error);
}

} // namespace c8y::mtls::detail
