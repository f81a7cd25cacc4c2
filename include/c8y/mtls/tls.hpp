// c8y-mtls: the Tls policy concept and the options every TLS backend honours.
#pragma once

#include "c8y/mtls/config.hpp"

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/tls_hello.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

/// The cipher suites the SDK can offer, by their IANA code points: authenticated encryption
/// (AEAD) with a fresh key exchange only. TLS 1.3's AES-GCM and ChaCha20-Poly1305 suites, and
/// for TLS 1.2 ECDHE signed by ECDSA or RSA with the same ciphers. Nothing anonymous, nothing
/// without encryption, no RC4, 3DES, CBC or static RSA key exchange: no option can offer those.
enum class tls_cipher_suite : std::uint16_t {
    tls13_aes_128_gcm_sha256 = 0x1301,
    tls13_aes_256_gcm_sha384 = 0x1302,
    tls13_chacha20_poly1305_sha256 = 0x1303,
    ecdhe_ecdsa_aes_128_gcm_sha256 = 0xC02B,
    ecdhe_ecdsa_aes_256_gcm_sha384 = 0xC02C,
    ecdhe_rsa_aes_128_gcm_sha256 = 0xC02F,
    ecdhe_rsa_aes_256_gcm_sha384 = 0xC030,
    ecdhe_rsa_chacha20_poly1305_sha256 = 0xCCA8,
    ecdhe_ecdsa_chacha20_poly1305_sha256 = 0xCCA9,
};

/// Every suite the SDK offers by default, in the order of preference sent.
inline constexpr tls_cipher_suite default_tls_cipher_suites[] = {
    tls_cipher_suite::tls13_aes_128_gcm_sha256,
    tls_cipher_suite::tls13_aes_256_gcm_sha384,
    tls_cipher_suite::tls13_chacha20_poly1305_sha256,
    tls_cipher_suite::ecdhe_ecdsa_aes_128_gcm_sha256,
    tls_cipher_suite::ecdhe_rsa_aes_128_gcm_sha256,
    tls_cipher_suite::ecdhe_ecdsa_aes_256_gcm_sha384,
    tls_cipher_suite::ecdhe_rsa_aes_256_gcm_sha384,
    tls_cipher_suite::ecdhe_ecdsa_chacha20_poly1305_sha256,
    tls_cipher_suite::ecdhe_rsa_chacha20_poly1305_sha256,
};

/// The groups (curves) for the key exchange, by their IANA code points.
enum class tls_group : std::uint16_t {
    secp256r1 = 23,
    secp384r1 = 24,
    x25519 = 29,
};

/// Every group the SDK offers by default, in order: X25519 first, and its key share is the one
/// sent with TLS 1.3's first flight.
inline constexpr tls_group default_tls_groups[] = {tls_group::x25519, tls_group::secp256r1, tls_group::secp384r1};

/// How the server is authenticated. Secure by default: both checks on, TLS 1.2 at least.
struct tls_options {
    /// Verify the server's certificate chain against the truststore.
    bool verify_server_certificate = true;
    /// Check that the server certificate names the host (RFC 6125: a DNS host against the
    /// subjectAltName's DNS names, or the CN when there is no subjectAltName; an IP address
    /// against its IP addresses only).
    bool verify_host_name = true;
    /// Name used for SNI and the name check instead of the host connected to (for example when
    /// the host is given as an IP address). Empty: the host.
    std::string server_name;
    /// Narrows the cipher suites offered to these, in this order (for example TLS 1.3 only).
    /// The versions offered follow: TLS 1.2's suites alone offer TLS 1.2 only, TLS 1.3's alone
    /// TLS 1.3 only. Empty: default_tls_cipher_suites. A value that is not one of those is refused with
    /// invalid_argument when the TLS context is made: the list cannot be widened.
    std::vector<tls_cipher_suite> cipher_suites;
    /// Narrows the key-exchange groups to these, in this order; the first one's key share goes
    /// with TLS 1.3's first flight. Empty: default_tls_groups. Refused as cipher_suites is.
    std::vector<tls_group> groups;
};

/// The IANA name of a suite ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").
C8Y_MTLS_DECL std::string to_string(tls_cipher_suite suite);

/// The IANA name of a group ("x25519", "secp256r1").
C8Y_MTLS_DECL std::string to_string(tls_group group);

namespace detail {

/// What an option narrows a default list to: `wanted` in its order, or all of `allowed` when it
/// is empty. Throws invalid_argument for a value outside `allowed`.
template <class E, std::size_t N>
std::vector<E> narrowed(const std::vector<E>& wanted, const E (&allowed)[N], std::string_view what)
{
    if (wanted.empty())
        return std::vector<E>(std::begin(allowed), std::end(allowed));
    for (const E value : wanted)
        if (std::find(std::begin(allowed), std::end(allowed), value) == std::end(allowed))
            throw error(errc::invalid_argument,
                        "tls_options::" + std::string(what) + ": " + to_string(value) +
                            " is not one the SDK offers (the list can be narrowed, never widened)");
    return wanted;
}

} // namespace detail

/// Where a TLS session stands after a step.
enum class tls_status {
    done,      ///< the step completed
    want_read, ///< send pending_output(), then feed() what the peer sends, then repeat the step
    failed,    ///< the session is unusable; failure() says why
};

/// A TLS backend is a sans-I/O engine: it never touches a socket. The client moves its
/// ciphertext through the Transport (pending_output() out, feed() in), so any Transport can
/// carry TLS.
///
/// - `T::context` is built once from the device credentials, the truststore and the options,
///   and holds what all sessions share (it keeps its own copy of the private key). Credentials
///   without a certificate (credentials::none()) make a context that sends none.
/// - `T::session` is one TLS connection to `host` as a client; `protocol()` names the version
///   negotiated ("TLSv1.3"), `cipher_suite()` the suite by its IANA name
///   ("TLS_AES_128_GCM_SHA256"); both for logs and diagnostics.
/// - `T::crypto`, when the backend has it, is its Crypto policy (crypto.hpp): the client judges
///   the device's chain with it before connecting.
///
/// Every backend offers only what `tls_options` allows (default_tls_cipher_suites and
/// default_tls_groups, or a narrowing of them) and judges the server's certificates with the
/// SDK's own rules on top of its chain verification (detail/server_certificate.hpp: host name,
/// key usage, key and signature strength), inside the handshake, so that nothing of the
/// application is sent to a server that fails them.
template <class T>
concept Tls =
    std::constructible_from<typename T::context, const credentials&, const truststore&, const tls_options&> &&
    std::constructible_from<typename T::session, typename T::context&, std::string_view> &&
    requires(typename T::session& s, std::span<const char> in, std::span<char> out, std::size_t& n) {
        { s.handshake() } -> std::same_as<tls_status>;
        { s.write(in) } -> std::same_as<tls_status>;
        { s.read(out, n) } -> std::same_as<tls_status>;
        { s.feed(in) } -> std::same_as<void>;
        { s.feed_end() } -> std::same_as<void>;
        { s.pending_output() } -> std::same_as<std::span<const char>>;
        { s.consume_output(n) } -> std::same_as<void>;
        { s.close() } -> std::same_as<void>;
        { s.failure() } -> std::same_as<error>;
        { std::as_const(s).protocol() } -> std::convertible_to<std::string>;
        { std::as_const(s).cipher_suite() } -> std::convertible_to<std::string>;
    };

/// The backend the friendly names use (client, https_client): wolfSSL
/// (c8y/mtls/wolfssl/tls.hpp, which c8y/mtls.hpp includes). Only declared here, so that nothing
/// outside the backend's folder includes its headers.
struct wolfssl_tls;
using default_tls = wolfssl_tls;

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/tls.ipp"
#endif
