// c8y-mtls: text helpers for protocol code: UTF-8 encoding and sequence checks, quoting untrusted input in error details.
#pragma once

#include "c8y/mtls/config.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace c8y::mtls::detail {

/// Appends code point `cp` (at most U+10FFFF; callers check) to `out` as UTF-8.
C8Y_MTLS_DECL void append_utf8(std::string& out, std::uint32_t cp);

/// Length of the well-formed UTF-8 sequence that starts `text` (1 to 4), or 0 when `text` is empty
/// or does not start with one. Overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points
/// above U+10FFFF are not well formed (RFC 3629, section 4).
C8Y_MTLS_DECL std::size_t utf8_sequence_length(std::string_view text) noexcept;

/// Appends `text` to `out`: well-formed UTF-8 sequences as they are, and each byte that is a
/// quote, a backslash, a control character or not part of one through `escape(out, byte)`. The
/// one walk behind quoted() and the JSON writer, which differ only in how they escape.
template <class Escape>
void append_escaped(std::string& out, std::string_view text, Escape escape)
{
    while (!text.empty()) {
        const auto u = static_cast<unsigned char>(text.front());
        const std::size_t length = utf8_sequence_length(text);
        if (length == 0 || u < 0x20 || u == 0x7F || u == '"' || u == '\\') {
            escape(out, u);
            text.remove_prefix(1);
        } else {
            out.append(text.substr(0, length));
            text.remove_prefix(length);
        }
    }
}

/// The value of hex digit `c` (either case), or -1 for any other character.
C8Y_MTLS_DECL int hex_value(char c) noexcept;

/// Appends `u` as two hex digits from `digits` ("0123456789ABCDEF" or lower case).
C8Y_MTLS_DECL void append_hex_byte(std::string& out, unsigned char u, const char* digits);

inline constexpr const char* hex_upper = "0123456789ABCDEF";
inline constexpr const char* hex_lower = "0123456789abcdef";

/// Bytes as hex, two digits each, `separator` between them unless it is '\0'.
C8Y_MTLS_DECL std::string hex(std::span<const unsigned char> bytes, const char* digits = hex_lower, char separator = '\0');

/// One byte as "0x1F", as protocol errors name bytes.
C8Y_MTLS_DECL std::string hex_byte(unsigned char b);

/// `text` percent-encoded for a URL path segment or query value: only RFC 3986's unreserved
/// bytes stay as they are.
C8Y_MTLS_DECL std::string percent_encode(std::string_view text);

/// `text` in double quotes for an error detail: well-formed UTF-8 is kept, quotes and
/// backslashes are escaped, other bytes that would garble a log line are shown as \\xNN.
/// Input longer than `max_bytes` is cut, and its full length given, so a detail stays readable
/// whatever a peer sent.
C8Y_MTLS_DECL std::string quoted(std::string_view text, std::size_t max_bytes = 96);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/text.ipp"
#endif
