// c8y-mtls: the SDK's own judgement of the certificates a TLS server presents, the same for
// every TLS backend: the host name (RFC 6125), what the certificate is for (keyUsage,
// extendedKeyUsage), and the strength of its keys and signatures. The backend has already
// verified the chain up to the truststore; these rules come on top. No I/O.
#pragma once

#include "c8y/mtls/config.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

/// An IP address in network byte order: 4 bytes for IPv4, 16 for IPv6.
struct ip_address {
    unsigned char bytes[16] = {};
    std::size_t size = 0;

    std::span<const unsigned char> view() const noexcept { return {bytes, size}; }
};

namespace server_impl {

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Dotted-quad IPv4 as inet_pton reads it: four decimal parts of 0..255, no leading zeros.
C8Y_MTLS_DECL bool parse_ipv4(std::string_view text, unsigned char* out) noexcept;

// IPv6 text (RFC 4291 2.2): eight groups of up to four hex digits, one "::" for a run of
// zero groups, the last 32 bits optionally in dotted-quad form.
C8Y_MTLS_DECL bool parse_ipv6(std::string_view text, unsigned char* out) noexcept;

inline char fold(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

C8Y_MTLS_DECL bool equal_folded(std::string_view a, std::string_view b) noexcept;

C8Y_MTLS_DECL std::string_view without_final_dot(std::string_view name) noexcept;

C8Y_MTLS_DECL std::string ip_text(std::span<const unsigned char> bytes);

C8Y_MTLS_DECL std::string_view text_of(std::span<const unsigned char> bytes) noexcept;

} // namespace server_impl

/// The address an IP literal names ("192.0.2.1", "2001:db8::1", "[2001:db8::1]"); nullopt for
/// anything else, host names included.
C8Y_MTLS_DECL std::optional<ip_address> parse_ip_address(std::string_view text) noexcept;

/// Whether `host` is written as an IP address, valid or not (digits and dots only, or a ':'):
/// such a host is never sent as SNI and never matched against DNS names.
C8Y_MTLS_DECL bool looks_like_ip_literal(std::string_view host) noexcept;

/// How one DNS identifier a certificate presents relates to a host (RFC 6125 6.4).
enum class dns_name_match {
    matches,
    differs,
    lone_wildcard,    ///< "*": matches nothing
    partial_wildcard, ///< "f*.example.com", "*oo.example.com", "a.*.example.com": match nothing
    broad_wildcard,   ///< "*.com", "*.localhost": a wildcard needs two labels after it
};

/// Compares a presented DNS identifier with a host name: case-insensitive, one final dot
/// ignored; a wildcard only as the whole leftmost label, standing for exactly one non-empty
/// label, with at least two labels after it.
C8Y_MTLS_DECL dns_name_match match_dns_name(std::string_view presented, std::string_view host) noexcept;

/// The host-name check of a server certificate: an IP host matches iPAddress entries only; a
/// host name matches dNSName entries, and the CN only when the certificate has no
/// subjectAltName at all. nullopt when the certificate names the host, otherwise
/// server_name_mismatch naming the host, what the certificate names and why none counted.
C8Y_MTLS_DECL std::optional<error> check_host_name(const parsed_certificate& leaf, std::string_view host);

/// What the server certificate's extensions allow: digitalSignature when keyUsage is present
/// (every suite the SDK offers has the server sign its handshake), serverAuth when
/// extendedKeyUsage is present. The same rule whatever the TLS version.
C8Y_MTLS_DECL std::optional<error> check_server_usage(const parsed_certificate& leaf);

/// Why a key is too weak to rely on, or empty: RSA needs 2048 bits, EC a curve of P-256, P-384
/// or P-521; Ed25519 and Ed448 are strong; other algorithms are refused. The rule the platform
/// applies to device certificates, applied to the server's.
C8Y_MTLS_DECL std::string weak_key_reason(const x509_public_key& key);

/// The keys and signatures of the chain the server sent (leaf first): every key strong enough,
/// no certificate signed with SHA-1 or MD5, the self-signature of a self-issued certificate at
/// the end (a root) aside: nobody relies on it.
C8Y_MTLS_DECL std::optional<error> check_server_chain_strength(std::span<const parsed_certificate> chain);

/// Every rule above over the DER chain the server sent (leaf first); `host` empty skips the
/// host-name check. A certificate that does not parse is server_not_trusted, naming why.
inline std::optional<error> check_server_certificates(std::span<const byte_view> chain, std::string_view host,
                                                      bool check_host)
{
    if (chain.empty())
        return error(errc::server_not_trusted, "the server sent no certificate");
    std::vector<parsed_certificate> parsed(chain.size());
    for (std::size_t i = 0; i < chain.size(); ++i) {
        if (const std::string why = parse_certificate(chain[i], parsed[i]); !why.empty())
            return error(errc::server_not_trusted,
                         "certificate " + std::to_string(i) + " of the server's chain cannot be read: " + why);
        if (!parsed[i].duplicate_extension.empty())
            return error(errc::server_not_trusted, "certificate " + std::to_string(i) +
                                                       " of the server's chain has the extension " +
                                                       der::oid_text(parsed[i].duplicate_extension) +
                                                       " twice (RFC 5280 4.2 forbids it)");
    }
    if (auto e = check_server_chain_strength(parsed))
        return e;
    if (auto e = check_server_usage(parsed.front()))
        return e;
    if (check_host)
        return check_host_name(parsed.front(), host);
    return std::nullopt;
}

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/server_certificate.ipp"
#endif
