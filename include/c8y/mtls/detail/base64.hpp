// c8y-mtls: base64 (RFC 4648): strict base64url without padding for JWTs, standard base64 with padding for REST.
#pragma once

#include "c8y/mtls/config.hpp"

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

C8Y_MTLS_DECL std::string encode(std::string_view data, std::string_view alphabet, bool pad);

// The 6-bit value of `c` in `alphabet`, or -1. Only the last two characters differ between
// the alphabets, so the first 62 are computed rather than looked up.
C8Y_MTLS_DECL int digit(char c, std::string_view alphabet) noexcept;

C8Y_MTLS_DECL const char* why_not_a_digit(char c, bool url) noexcept;

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
C8Y_MTLS_DECL std::string base64_encode(std::string_view data);

/// base64url (RFC 4648, section 5) without padding, as JWTs use it (RFC 7515, section 2).
C8Y_MTLS_DECL std::string base64url_encode(std::string_view data);

/// Decodes strict standard base64: padding required, no whitespace, no line breaks, no
/// non-zero unused bits. Returns nullopt, and fills `error` when given, otherwise.
C8Y_MTLS_DECL std::optional<std::string> base64_decode(std::string_view text, base64_error* error = nullptr);

/// Decodes strict base64url without padding: rejects '=', '+', '/', whitespace, a length that no
/// encoder produces (length % 4 == 1) and non-zero unused bits. Returns nullopt, and fills
/// `error` when given, otherwise.
C8Y_MTLS_DECL std::optional<std::string> base64url_decode(std::string_view text, base64_error* error = nullptr);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/base64.ipp"
#endif
