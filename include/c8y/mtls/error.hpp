// c8y-mtls: the error model. Every failure is a std::error_code in one of the SDK's categories,
// and exceptions carry that code plus the detail a person needs to fix the cause.
#pragma once

#include "c8y/mtls/config.hpp"

#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

namespace c8y::mtls {

/// Failures that the SDK itself detects. Values are stable.
enum class errc {
    // Arguments and local input
    invalid_argument = 1,
    file_unreadable,
    pem_malformed,
    no_certificate,
    private_key_malformed,
    private_key_password_wrong,
    private_key_mismatch,
    pkcs12_malformed,
    pkcs12_password_wrong,
    truststore_empty,
    client_id_invalid,
    keystore_malformed,
    keystore_password_wrong,
    key_password_wrong,
    keystore_alias_missing,
    keystore_format_unsupported,
    // Keys in PKCS#11 tokens (secure elements, TPMs, HSMs)
    pkcs11_uri_malformed,
    pkcs11_module_unloadable,
    pkcs11_token_missing,
    pkcs11_pin_wrong,
    pkcs11_object_missing,
    pkcs11_key_unusable,
    pkcs11_failed,

    // Network
    host_not_found = 100,
    connection_refused,
    connection_closed,
    timeout,
    connect_timeout,
    operation_aborted,

    // TLS
    server_not_trusted = 200,
    server_name_mismatch,
    server_certificate_expired,
    server_certificate_not_yet_valid,
    tls_handshake_failed,
    tls_protocol_version,
    server_key_too_weak,
    server_signature_too_weak,
    server_certificate_usage,
    tls_cipher_suite_refused,

    // MQTT codec and session
    mqtt_malformed_remaining_length = 300,
    mqtt_packet_too_large,
    mqtt_invalid_packet_type,
    mqtt_invalid_flags,
    mqtt_truncated_packet,
    mqtt_trailing_bytes,
    mqtt_invalid_utf8,
    mqtt_invalid_topic,
    mqtt_invalid_packet_id,
    mqtt_invalid_return_code,
    mqtt_unexpected_packet,
    mqtt_payload_too_large,
    subscription_refused,
    not_connected,
    send_queue_full,
    message_dropped,

    // Device token
    token_answer_malformed = 400,
    token_unexpected_template,
    token_timeout,
    jwt_malformed,
    token_expired,

    // Device chain checked before connecting (chain_validator)
    chain_rejected = 500,
    trusted_certificate_malformed,

    // HTTPS client and SmartREST
    http_malformed_status_line = 600,
    http_malformed_header,
    http_invalid_content_length,
    http_unsupported_transfer_encoding,
    http_malformed_chunk,
    http_header_too_large,
    http_body_too_large,
    http_truncated_response,
    http_request_timeout,
    http_invalid_url,
    http_invalid_request,
    smartrest_malformed,
    smartrest_platform_error,

    // Provisioning: keys, certificates, keystores, registration files
    key_generation_failed = 700,
    common_name_invalid,
    certificate_creation_failed,
    certificate_request_invalid,
    keystore_creation_failed,
    bulk_registration_invalid,
    signing_failed,
    validity_invalid,

    // Provisioning: the platform's administrator REST API
    platform_refused = 750,
    certificate_already_uploaded,
    proof_of_possession_rejected,
    platform_answer_malformed,
    platform_unavailable,

    // The durable store of accepted messages
    store_unusable = 800,
    store_corrupt,
    store_incompatible,

    // Enrollment through the platform's certificate authority (EST), and renewal
    est_answer_malformed = 900,
    device_not_registered,
    device_certificate_expired,
    credentials_unwritable,
};

namespace detail {

class errc_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "c8y.mtls"; }
    C8Y_MTLS_DECL std::string message(int value) const override;
};

// CONNACK return codes of MQTT 3.1.1, as the platform uses them.
class connack_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "c8y.mtls.connack"; }
    C8Y_MTLS_DECL std::string message(int value) const override;
};

// TLS alerts received from the peer, by their RFC 8446 description number.
class tls_alert_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "c8y.mtls.tls_alert"; }
    C8Y_MTLS_DECL std::string message(int value) const override;
};

} // namespace detail

C8Y_MTLS_DECL const std::error_category& error_category() noexcept;

/// Category of CONNACK refusals: the value is the CONNACK return code (1..5).
C8Y_MTLS_DECL const std::error_category& connack_category() noexcept;

/// Category of fatal TLS alerts sent by the peer: the value is the alert description.
C8Y_MTLS_DECL const std::error_category& tls_alert_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

C8Y_MTLS_DECL std::error_code make_connack_error(std::uint8_t return_code) noexcept;

inline std::error_code make_tls_alert_error(int description) noexcept { return {description, tls_alert_category()}; }

/// Whether trying again may succeed where this error ended an attempt: another connection, or
/// the same request later. False for what only a person can fix: the broker rejecting the
/// device's certificate (a TLS alert about it), a server the truststore does not trust, that
/// does not match the host or whose certificates or cipher suite are too weak, a TLS version
/// refused, CONNACK refusals other than 3 (server unavailable), bad local input, a message that
/// can never be sent (too large, an invalid topic, not UTF-8), the platform refusing a request.
/// True for the network, timeouts, protocol faults of a peer, queues that drain, and a server
/// certificate not yet valid (the device clock may still be at its boot value before NTP sets
/// it). Every errc value is decided here (the switch has no default).
C8Y_MTLS_DECL bool retry_can_help(const std::error_code& ec) noexcept;

/// The exception the SDK throws: a std::system_error whose what() is the code's message
/// followed by the detail of this occurrence ("server certificate not trusted: issuer CN=...").
class error : public std::system_error {
public:
    C8Y_MTLS_DECL explicit error(std::error_code ec, std::string detail = {});
    error(errc e, std::string detail = {}) : error(make_error_code(e), std::move(detail)) {}

    /// What this occurrence adds to the code's message (a file name, a subject, a byte offset).
    const std::string& detail() const noexcept { return detail_; }
    const char* what() const noexcept override { return what_.c_str(); }

private:
    std::string detail_;
    std::string what_;
};

namespace detail {
// Set by the SDK around the call of a completion handler (detail/async_op.hpp).
inline thread_local const error* completion_error_now = nullptr;
} // namespace detail

/// The whole error of the SDK's completion handler running now on this thread, or null when it
/// succeeded or none is running. An operation completed through a completion token other than
/// asio::use_awaitable or asio::use_future gets a std::error_code, and the detail of the
/// occurrence ("server certificate not trusted: no CA in the truststore signed /CN=localhost")
/// is read here, during the handler's call:
///
///     device.connect(options, [](std::error_code ec) {
///         if (ec)
///             std::cerr << c8y::mtls::completion_error()->what() << "\n";
///     });
///
/// The pointer is valid until the handler returns (copy the error to keep it). With
/// asio::as_tuple(asio::use_awaitable) or asio::redirect_error, the awaiting coroutine resumes
/// inside that call: it can read it right after the co_await, before it awaits anything else.
inline const error* completion_error() noexcept { return detail::completion_error_now; }

} // namespace c8y::mtls

template <>
struct std::is_error_code_enum<c8y::mtls::errc> : std::true_type {};

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/error.ipp"
#endif
