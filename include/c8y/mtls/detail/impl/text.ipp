// c8y-mtls: the definitions text.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/text.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL void append_utf8(std::string& out, std::uint32_t cp)
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

C8Y_MTLS_DECL std::size_t utf8_sequence_length(std::string_view text) noexcept
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

C8Y_MTLS_DECL int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

C8Y_MTLS_DECL void append_hex_byte(std::string& out, unsigned char u, const char* digits)
{
    out += digits[u >> 4];
    out += digits[u & 0x0F];
}

C8Y_MTLS_DECL std::string hex(std::span<const unsigned char> bytes, const char* digits, char separator)
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

C8Y_MTLS_DECL std::string hex_byte(unsigned char b)
{
    std::string out = "0x";
    append_hex_byte(out, b, hex_upper);
    return out;
}

C8Y_MTLS_DECL std::string quoted(std::string_view text, std::size_t max_bytes)
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

C8Y_MTLS_DECL std::string percent_encode(std::string_view text)
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

} // namespace c8y::mtls::detail
