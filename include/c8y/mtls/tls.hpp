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
///   and holds what all sessions share (it keeps its own copy of the private key).
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

} // namespace c8y::mtls
