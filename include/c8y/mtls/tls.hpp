// c8y-mtls: the Tls policy concept and the options every TLS backend honours.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

/// How the server is authenticated. Secure by default: both checks on, TLS 1.2 at least.
struct tls_options {
    /// Verify the server's certificate chain against the truststore.
    bool verify_server_certificate = true;
    /// Check that the server certificate names the host (SAN or CN).
    bool verify_host_name = true;
    /// Name used for SNI and the name check instead of the host connected to (for example when
    /// the host is given as an IP address). Empty: the host.
    std::string server_name;
};

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
/// - `T::session` is one TLS connection to `host` as a client.
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
    };

// ---- What the chain validator asks of a backend ------------------------------------------

/// Hash functions of X.509 signatures.
enum class hash_function { md5, sha1, sha224, sha256, sha384, sha512 };

/// Signature schemes of X.509 certificates that the chain validator checks.
enum class signature_scheme {
    rsa_pkcs1_v1_5, ///< sha256WithRSAEncryption and its siblings
    rsa_pss,        ///< RSASSA-PSS with MGF1 over the same hash
    ecdsa,          ///< ecdsa-with-SHA256 and its siblings
};

/// One certificate signature to check: `signature` over `signed_data` by the holder of the key
/// in `public_key`.
struct signature_check {
    signature_scheme scheme = signature_scheme::rsa_pkcs1_v1_5;
    hash_function hash = hash_function::sha256;
    std::size_t pss_salt_length = 0;            ///< RSASSA-PSS only
    std::span<const unsigned char> signed_data; ///< the DER TBSCertificate
    std::span<const unsigned char> signature;   ///< the signatureValue's bytes
    std::span<const unsigned char> public_key;  ///< the signer's DER SubjectPublicKeyInfo
};

/// Whether a private key belongs to a certificate's public key.
enum class key_match {
    matches,
    differs,
    unreadable, ///< not an RSA or EC private key in DER (PKCS#8, PKCS#1 or SEC1)
};

/// The cryptography the chain validator needs from a Tls backend, as static functions:
/// - `T::verify_signature(check)`: true when the signature is valid (false for any key or
///   signature the backend cannot read);
/// - `T::private_key_matches(private_key_der, subject_public_key_info_der)`.
template <class T>
concept certificate_crypto = requires(const signature_check& check, std::span<const unsigned char> der) {
    { T::verify_signature(check) } -> std::same_as<bool>;
    { T::private_key_matches(der, der) } -> std::same_as<key_match>;
};

} // namespace c8y::mtls
