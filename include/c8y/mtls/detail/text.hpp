// c8y-mtls: text helpers for protocol code: UTF-8 encoding and sequence checks, quoting untrusted input in error details.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace c8y::mtls::detail {

/// Appends code point `cp` (at most U+10FFFF; callers check) to `out` as UTF-8.
inline void append_utf8(std::string& out, std::uint32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

/// Length of the well-formed UTF-8 sequence that starts `text` (1 to 4), or 0 when `text` is empty
/// or does not start with one. Overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points
/// above U+10FFFF are not well formed (RFC 3629, section 4).
inline std::size_t utf8_sequence_length(std::string_view text) noexcept
{
    if (text.empty()) {
        return 0;
    }
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const auto continuation = [&](std::size_t i, unsigned char low = 0x80, unsigned char high = 0xBF) {
        return i < text.size() && byte(i) >= low && byte(i) <= high;
    };
    const unsigned char lead = byte(0);
    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return continuation(1) ? 2 : 0;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        // E0 needs A0.. to avoid overlongs; ED stops at 9F to exclude the surrogates.
        const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
        const unsigned char high = lead == 0xED ? 0x9F : 0xBF;
        return continuation(1, low, high) && continuation(2) ? 3 : 0;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        // F0 needs 90.. to avoid overlongs; F4 stops at 8F to stay within U+10FFFF.
        const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
        const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
        return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
    }
    return 0;
}

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

/// Appends `u` as two hex digits from `digits` ("0123456789ABCDEF" or lower case).
inline void append_hex_byte(std::string& out, unsigned char u, const char* digits)
{
    out += digits[u >> 4];
    out += digits[u & 0x0F];
}

inline constexpr const char* hex_upper = "0123456789ABCDEF";
inline constexpr const char* hex_lower = "0123456789abcdef";

/// Bytes as hex, two digits each, `separator` between them unless it is '\0'.
inline std::string hex(std::span<const unsigned char> bytes, const char* digits = hex_lower, char separator = '\0')
{
    std::string out;
    out.reserve(bytes.size() * 3);
    for (const unsigned char b : bytes) {
        if (separator != '\0' && !out.empty())
            out += separator;
        append_hex_byte(out, b, digits);
    }
    return out;
}

/// One byte as "0x1F", as protocol errors name bytes.
inline std::string hex_byte(unsigned char b)
{
    std::string out = "0x";
    append_hex_byte(out, b, hex_upper);
    return out;
}

/// `text` percent-encoded for a URL path segment or query value: only RFC 3986's unreserved
/// bytes stay as they are.
inline std::string percent_encode(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            append_hex_byte(out, u, hex_upper);
        }
    }
    return out;
}

/// `text` in double quotes for an error detail: well-formed UTF-8 is kept, quotes and
/// backslashes are escaped, other bytes that would garble a log line are shown as \\xNN.
/// Input longer than `max_bytes` is cut, and its full length given, so a detail stays readable
/// whatever a peer sent.
inline std::string quoted(std::string_view text, std::size_t max_bytes = 96)
{
    const std::size_t full_size = text.size();
    const bool cut = full_size > max_bytes;
    if (cut) {
        text = text.substr(0, max_bytes);
    }
    std::string out = "\"";
    append_escaped(out, text, [](std::string& o, unsigned char u) {
        switch (u) {
        case '"': o += "\\\""; break;
        case '\\': o += "\\\\"; break;
        case '\n': o += "\\n"; break;
        case '\r': o += "\\r"; break;
        case '\t': o += "\\t"; break;
        default:
            o += "\\x";
            append_hex_byte(o, u, hex_upper);
        }
    });
    out += '"';
    if (cut) {
        out += "... (" + std::to_string(full_size) + " bytes)";
    }
    return out;
}

} // namespace c8y::mtls::detail
