// c8y-mtls: base64 (RFC 4648): strict base64url without padding for JWTs, standard base64 with padding for REST.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace c8y::mtls::detail {

/// Why a decoder refused its input, and at which byte offset of the input.
struct base64_error {
    std::size_t offset = 0;
    const char* reason = "";
};

namespace base64_impl {

inline constexpr std::string_view standard_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr std::string_view url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

inline std::string encode(std::string_view data, std::string_view alphabet, bool pad)
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

// The 6-bit value of `c` in `alphabet`, or -1. Only the last two characters differ between
// the alphabets, so the first 62 are computed rather than looked up.
inline int digit(char c, std::string_view alphabet) noexcept
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

inline const char* why_not_a_digit(char c, bool url) noexcept
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

// Decodes `body`, the input without its padding; error offsets are offsets into it. Bad
// characters are reported before a bad length: "whitespace" helps more than "impossible length".
inline std::optional<std::string> decode_body(std::string_view body, std::string_view alphabet, bool url,
                                              base64_error* error)
{
    const auto fail = [&](std::size_t at, const char* reason) -> std::optional<std::string> {
        if (error != nullptr) {
            *error = {at, reason};
        }
        return std::nullopt;
    };
    std::string out;
    out.reserve(body.size() / 4 * 3 + 2);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const int value = digit(body[i], alphabet);
        if (value < 0) {
            return fail(i, why_not_a_digit(body[i], url));
        }
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out += static_cast<char>((bits >> bit_count) & 0xFF);
            bits &= (1U << bit_count) - 1;
        }
    }
    if (body.size() % 4 == 1) {
        return fail(body.size(), "impossible length: one character more than a whole group of 4 cannot encode a byte");
    }
    // An encoder leaves the unused low bits of the last character at zero (RFC 4648, 3.5);
    // anything else means a second spelling of the same bytes.
    if (bits != 0) {
        return fail(body.size() - 1, "non-zero unused bits in the last character");
    }
    return out;
}

} // namespace base64_impl

/// Standard base64 (RFC 4648, section 4) with '=' padding, as `openssl base64 -A` prints it.
inline std::string base64_encode(std::string_view data)
{
    return base64_impl::encode(data, base64_impl::standard_alphabet, true);
}

/// base64url (RFC 4648, section 5) without padding, as JWTs use it (RFC 7515, section 2).
inline std::string base64url_encode(std::string_view data)
{
    return base64_impl::encode(data, base64_impl::url_alphabet, false);
}

/// Decodes strict standard base64: padding required, no whitespace, no line breaks, no
/// non-zero unused bits. Returns nullopt, and fills `error` when given, otherwise.
inline std::optional<std::string> base64_decode(std::string_view text, base64_error* error = nullptr)
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

/// Decodes strict base64url without padding: rejects '=', '+', '/', whitespace, a length that no
/// encoder produces (length % 4 == 1) and non-zero unused bits. Returns nullopt, and fills
/// `error` when given, otherwise.
inline std::optional<std::string> base64url_decode(std::string_view text, base64_error* error = nullptr)
{
    return base64_impl::decode_body(text, base64_impl::url_alphabet, true, error);
}

} // namespace c8y::mtls::detail
