// c8y-mtls: the definitions tls_hello.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/tls_hello.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string tls_code_point(std::uint16_t value)
{
    std::string text = "0x";
    append_hex_byte(text, static_cast<unsigned char>(value >> 8), hex_upper);
    append_hex_byte(text, static_cast<unsigned char>(value & 0xFF), hex_upper);
    return text;
}

C8Y_MTLS_DECL std::optional<server_hello> read_server_hello(std::span<const unsigned char> received)
{
    constexpr unsigned char handshake_record = 22;
    constexpr unsigned char server_hello_message = 2;
    constexpr std::uint16_t supported_versions = 43;

    // The handshake messages' bytes, from consecutive handshake records; enough for one message.
    unsigned char message[1024];
    std::size_t have = 0;
    std::size_t need = 4; // the handshake header, then the whole message
    std::size_t at = 0;
    while (have < need) {
        if (received.size() - at < 5 || received[at] != handshake_record)
            return std::nullopt;
        const std::size_t length = (std::size_t{received[at + 3]} << 8) | received[at + 4];
        const std::size_t available = std::min(length, received.size() - at - 5);
        for (std::size_t i = 0; i < available && have < sizeof message; ++i)
            message[have++] = received[at + 5 + i];
        if (have >= 4) {
            if (message[0] != server_hello_message)
                return std::nullopt;
            need = 4 + ((std::size_t{message[1]} << 16) | (std::size_t{message[2]} << 8) | message[3]);
            if (need > sizeof message)
                return std::nullopt; // no ServerHello is this long
        }
        if (available < length)
            break; // the record is still arriving
        at += 5 + length;
    }
    if (have < need)
        return std::nullopt;

    const std::span<const unsigned char> body(message + 4, need - 4);
    const auto u16 = [&](std::size_t i) { return static_cast<std::uint16_t>((body[i] << 8) | body[i + 1]); };
    std::size_t i = 2 + 32; // legacy_version, random
    if (body.size() < i + 1)
        return std::nullopt;
    i += 1 + body[i]; // legacy_session_id
    if (body.size() < i + 3)
        return std::nullopt;
    server_hello hello{u16(0), u16(i)};
    i += 3; // cipher_suite, legacy_compression_method
    if (body.size() < i + 2)
        return body.size() == i ? std::optional(hello) : std::nullopt; // TLS 1.2 allows no extensions
    const std::size_t end = i + 2 + u16(i);
    if (end != body.size())
        return std::nullopt;
    for (i += 2; i + 4 <= end;) {
        const std::uint16_t type = u16(i);
        const std::size_t size = u16(i + 2);
        if (i + 4 + size > end)
            return std::nullopt;
        if (type == supported_versions && size == 2)
            hello.version = u16(i + 4);
        i += 4 + size;
    }
    return i == end ? std::optional(hello) : std::nullopt;
}

C8Y_MTLS_DECL std::string tls_version_name(std::uint16_t version)
{
    switch (version) {
    case 0x0300: return "SSL 3.0";
    case 0x0301: return "TLS 1.0";
    case 0x0302: return "TLS 1.1";
    case 0x0303: return "TLS 1.2";
    case 0x0304: return "TLS 1.3";
    }
    return "version " + tls_code_point(version);
}

C8Y_MTLS_DECL std::string tls_cipher_suite_name(std::uint16_t suite)
{
    struct entry {
        std::uint16_t id;
        std::string_view name;
    };
    static constexpr entry names[] = {
        {0x1301, "TLS_AES_128_GCM_SHA256"},
        {0x1302, "TLS_AES_256_GCM_SHA384"},
        {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
        {0x1304, "TLS_AES_128_CCM_SHA256"},
        {0x1305, "TLS_AES_128_CCM_8_SHA256"},
        {0xC0B4, "TLS_SHA256_SHA256"},
        {0xC0B5, "TLS_SHA384_SHA384"},
        {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
        {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
        {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
        {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
        {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
        {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
        {0x0000, "TLS_NULL_WITH_NULL_NULL"},
        {0x0001, "TLS_RSA_WITH_NULL_MD5"},
        {0x0002, "TLS_RSA_WITH_NULL_SHA"},
        {0x003B, "TLS_RSA_WITH_NULL_SHA256"},
        {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
        {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
        {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
        {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"},
        {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
        {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
        {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
        {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
        {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
        {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
        {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
        {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
        {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
        {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
        {0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
        {0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"},
        {0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
        {0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"},
        {0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"},
        {0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"},
        {0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"},
        {0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"},
        {0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"},
        {0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
        {0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
        {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
        {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
        {0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"},
        {0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
        {0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
        {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
        {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
        {0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"},
        {0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"},
        {0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"},
        {0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"},
        {0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"},
        {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
        {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
        {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
        {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
    };
    for (const entry& e : names)
        if (e.id == suite)
            return std::string(e.name);
    return tls_code_point(suite);
}

} // namespace c8y::mtls::detail
