// c8y-mtls: the first thing a TLS server says, read from its bytes (RFC 8446 4.1.3, RFC 5246
// 7.4.1.3), and the names of cipher suites, so that a refused handshake names the suite or the
// protocol version the server chose. No I/O.
#pragma once

#include "c8y/mtls/config.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "c8y/mtls/detail/text.hpp"

namespace c8y::mtls::detail {

/// "0x00A6": a code point of the TLS registries.
C8Y_MTLS_DECL std::string tls_code_point(std::uint16_t value);

/// What a ServerHello chose.
struct server_hello {
    std::uint16_t version = 0; ///< the supported_versions extension's choice, else legacy_version
    std::uint16_t cipher_suite = 0;
};

/// Reads the ServerHello from the first bytes a server sent (records, in the clear). nullopt
/// while they do not hold a whole ServerHello yet, and for anything else: an alert, another
/// message, malformed records. A ServerHello fragmented over several records is put together.
C8Y_MTLS_DECL std::optional<server_hello> read_server_hello(std::span<const unsigned char> received);

/// "TLS 1.2" for 0x0303, "SSL 3.0" for 0x0300, "version 0x7F1C" for what has no name.
C8Y_MTLS_DECL std::string tls_version_name(std::uint16_t version);

/// The IANA name of a cipher suite: the SDK's own, and those a hostile or outdated server is
/// likely to choose (anonymous, NULL, RC4, 3DES, CBC, static RSA, integrity-only TLS 1.3).
/// Others are named by their code point ("0xC0A0").
C8Y_MTLS_DECL std::string tls_cipher_suite_name(std::uint16_t suite);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/tls_hello.ipp"
#endif
