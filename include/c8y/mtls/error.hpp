// c8y-mtls: the error model. Every failure is a std::error_code in one of the SDK's categories,
// and exceptions carry that code plus the detail a person needs to fix the cause.
#pragma once

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
};

namespace detail {

class errc_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "c8y.mtls"; }
    std::string message(int value) const override
    {
        switch (static_cast<errc>(value)) {
        case errc::invalid_argument: return "invalid argument";
        case errc::file_unreadable: return "file cannot be read";
        case errc::pem_malformed: return "PEM data is malformed";
        case errc::no_certificate: return "no certificate found";
        case errc::private_key_malformed: return "private key is malformed or of an unsupported type";
        case errc::private_key_password_wrong: return "private key cannot be decrypted: wrong or missing password";
        case errc::private_key_mismatch: return "private key does not match the device certificate";
        case errc::pkcs12_malformed: return "PKCS#12 keystore is malformed";
        case errc::pkcs12_password_wrong: return "PKCS#12 keystore cannot be opened: wrong password";
        case errc::truststore_empty: return "truststore holds no certificate";
        case errc::client_id_invalid: return "MQTT client id is invalid";
        case errc::host_not_found: return "host not found";
        case errc::connection_refused: return "connection refused";
        case errc::connection_closed: return "connection closed by the peer";
        case errc::timeout: return "operation timed out";
        case errc::connect_timeout: return "connection timed out";
        case errc::operation_aborted: return "operation aborted";
        case errc::server_not_trusted: return "server certificate not trusted";
        case errc::server_name_mismatch: return "server certificate does not match the host name";
        case errc::server_certificate_expired: return "server certificate expired";
        case errc::server_certificate_not_yet_valid: return "server certificate not yet valid";
        case errc::tls_handshake_failed: return "TLS handshake failed";
        case errc::tls_protocol_version: return "server does not offer TLS 1.2 or newer";
        case errc::server_key_too_weak: return "server certificate chain has a key too weak to trust";
        case errc::server_signature_too_weak: return "server certificate chain relies on a broken signature hash";
        case errc::server_certificate_usage: return "server certificate is not for TLS server authentication";
        case errc::tls_cipher_suite_refused: return "server chose a cipher suite the SDK does not offer";
        case errc::mqtt_malformed_remaining_length: return "MQTT packet has a malformed remaining length";
        case errc::mqtt_packet_too_large: return "MQTT packet exceeds the size limit";
        case errc::mqtt_invalid_packet_type: return "MQTT packet type is invalid";
        case errc::mqtt_invalid_flags: return "MQTT packet has invalid flags";
        case errc::mqtt_truncated_packet: return "MQTT packet ends before its fields";
        case errc::mqtt_trailing_bytes: return "MQTT packet has bytes after its fields";
        case errc::mqtt_invalid_utf8: return "MQTT string is not valid UTF-8";
        case errc::mqtt_invalid_topic: return "MQTT topic is invalid";
        case errc::mqtt_invalid_packet_id: return "MQTT packet id is invalid";
        case errc::mqtt_invalid_return_code: return "MQTT return code is invalid";
        case errc::mqtt_unexpected_packet: return "MQTT packet not expected here";
        case errc::mqtt_payload_too_large: return "MQTT message exceeds the platform's 16184-byte limit";
        case errc::subscription_refused: return "broker refused the subscription";
        case errc::not_connected: return "client is not connected";
        case errc::send_queue_full: return "send queue is full";
        case errc::message_dropped: return "message dropped from the full send queue";
        case errc::token_answer_malformed: return "token answer is malformed";
        case errc::token_unexpected_template: return "token answer has an unexpected template number";
        case errc::token_timeout: return "no token answer in time";
        case errc::jwt_malformed: return "JWT is malformed";
        case errc::token_expired: return "token expired or expires before it can be used";
        case errc::http_malformed_status_line: return "HTTP response has a malformed status line";
        case errc::http_malformed_header: return "HTTP response has a malformed header field";
        case errc::http_invalid_content_length: return "HTTP response has an invalid Content-Length";
        case errc::http_unsupported_transfer_encoding: return "HTTP response uses an unsupported Transfer-Encoding";
        case errc::http_malformed_chunk: return "HTTP response has a malformed chunk";
        case errc::http_header_too_large: return "HTTP response header exceeds the size limit";
        case errc::http_body_too_large: return "HTTP response body exceeds the size limit";
        case errc::http_truncated_response: return "HTTP response ends before it is complete";
        case errc::http_request_timeout: return "HTTP request timed out";
        case errc::http_invalid_url: return "URL is not a usable https URL";
        case errc::http_invalid_request: return "HTTP request is invalid";
        case errc::smartrest_malformed: return "SmartREST message is malformed";
        case errc::smartrest_platform_error: return "the platform reported a SmartREST error";
        case errc::chain_rejected: return "the platform would refuse the device chain";
        case errc::trusted_certificate_malformed: return "uploaded (trusted) certificate cannot be parsed";
        case errc::key_generation_failed: return "private key cannot be generated";
        case errc::common_name_invalid: return "common name is not usable as a device identifier";
        case errc::certificate_creation_failed: return "certificate cannot be created";
        case errc::certificate_request_invalid: return "certificate signing request is invalid";
        case errc::keystore_creation_failed: return "PKCS#12 keystore cannot be created";
        case errc::bulk_registration_invalid: return "bulk registration rows are invalid";
        case errc::signing_failed: return "signature cannot be made with the private key";
        case errc::validity_invalid: return "certificate validity is invalid";
        case errc::platform_refused: return "the platform refused the request";
        case errc::certificate_already_uploaded: return "the platform already holds this certificate (409)";
        case errc::proof_of_possession_rejected: return "the platform rejected the signed verification code (400)";
        case errc::platform_answer_malformed: return "the platform's answer cannot be read";
        case errc::platform_unavailable: return "the platform failed to answer the request (5xx)";
        case errc::store_unusable: return "message store cannot be opened or written";
        case errc::store_corrupt: return "message store is corrupt";
        case errc::store_incompatible: return "message store is not one this SDK can read";
        }
        return "unknown c8y.mtls error " + std::to_string(value);
    }
};

// CONNACK return codes of MQTT 3.1.1, as the platform uses them.
class connack_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "c8y.mtls.connack"; }
    std::string message(int value) const override
    {
        const std::string prefix = "broker refused: CONNACK " + std::to_string(value) + ", ";
        switch (value) {
        case 1: return prefix + "unacceptable protocol version (the platform speaks MQTT 3.1.1)";
        case 2: return prefix + "client id rejected";
        case 3: return prefix + "server unavailable (passing; retry with backoff)";
        case 4: return prefix + "bad user name or password";
        case 5: return prefix + "not authorised (device id and certificate CN differ, or registration failed)";
        }
        return prefix + "unknown return code";
    }
};

// TLS alerts received from the peer, by their RFC 8446 description number.
class tls_alert_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "c8y.mtls.tls_alert"; }
    std::string message(int value) const override
    {
        const char* name = "unknown";
        const char* hint = "";
        switch (value) {
        case 0: name = "close_notify"; break;
        case 10: name = "unexpected_message"; break;
        case 20: name = "bad_record_mac"; break;
        case 40:
            name = "handshake_failure";
            hint = ": no cipher suite, group or signature algorithm in common, or the server refused the handshake "
                   "(the SDK offers TLS 1.3 with AES-GCM or ChaCha20-Poly1305, and TLS 1.2 with ECDHE and those)";
            break;
        case 42: name = "bad_certificate"; hint = ": the broker rejected the device certificate"; break;
        case 43: name = "unsupported_certificate"; break;
        case 44: name = "certificate_revoked"; break;
        case 45: name = "certificate_expired"; hint = ": a certificate of the device chain expired"; break;
        case 46:
            name = "certificate_unknown";
            hint = ": the platform does not trust the device chain (CA not uploaded, not in the chain, or chain invalid)";
            break;
        case 47: name = "illegal_parameter"; break;
        case 48: name = "unknown_ca"; hint = ": the broker does not know the CA of the device certificate"; break;
        case 49: name = "access_denied"; break;
        case 50: name = "decode_error"; break;
        case 51: name = "decrypt_error"; break;
        case 70: name = "protocol_version"; hint = ": no TLS version in common (the SDK requires TLS 1.2 or newer)"; break;
        case 71: name = "insufficient_security"; break;
        case 80: name = "internal_error"; break;
        case 86: name = "inappropriate_fallback"; break;
        case 90: name = "user_canceled"; break;
        case 109: name = "missing_extension"; break;
        case 110: name = "unsupported_extension"; break;
        case 112: name = "unrecognized_name"; break;
        case 116: name = "certificate_required"; hint = ": the broker wants a client certificate"; break;
        case 120: name = "no_application_protocol"; break;
        }
        return std::string("TLS alert from the peer: ") + name + " (" + std::to_string(value) + ")" + hint;
    }
};

} // namespace detail

inline const std::error_category& error_category() noexcept
{
    static const detail::errc_category_impl instance;
    return instance;
}

/// Category of CONNACK refusals: the value is the CONNACK return code (1..5).
inline const std::error_category& connack_category() noexcept
{
    static const detail::connack_category_impl instance;
    return instance;
}

/// Category of fatal TLS alerts sent by the peer: the value is the alert description.
inline const std::error_category& tls_alert_category() noexcept
{
    static const detail::tls_alert_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

inline std::error_code make_connack_error(std::uint8_t return_code) noexcept
{
    return {return_code, connack_category()};
}

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
inline bool retry_can_help(const std::error_code& ec) noexcept
{
    if (ec.category() == connack_category())
        return ec.value() == 3;
    if (ec.category() == tls_alert_category()) {
        switch (ec.value()) {
        case 40: case 42: case 43: case 44: case 45: case 46: case 47: case 48: case 49: case 70: case 71: case 116:
            return false;
        }
        return true;
    }
    if (ec.category() != error_category())
        return true;
    switch (static_cast<errc>(ec.value())) {
    // Local input and configuration.
    case errc::invalid_argument:
    case errc::file_unreadable:
    case errc::pem_malformed:
    case errc::no_certificate:
    case errc::private_key_malformed:
    case errc::private_key_password_wrong:
    case errc::private_key_mismatch:
    case errc::pkcs12_malformed:
    case errc::pkcs12_password_wrong:
    case errc::truststore_empty:
    case errc::client_id_invalid:
    case errc::operation_aborted: // the caller's own cancellation
    // Who the server is.
    case errc::server_not_trusted:
    case errc::server_name_mismatch:
    case errc::server_certificate_expired:
    case errc::tls_protocol_version:
    case errc::server_key_too_weak:
    case errc::server_signature_too_weak:
    case errc::server_certificate_usage:
    case errc::tls_cipher_suite_refused:
    // A message that can never be sent as it is.
    case errc::mqtt_payload_too_large:
    case errc::mqtt_invalid_topic:
    case errc::mqtt_invalid_utf8:
    case errc::subscription_refused:
    case errc::http_invalid_url:
    case errc::http_invalid_request:
    case errc::smartrest_platform_error:
    // The device chain, provisioning and the platform's refusals.
    case errc::chain_rejected:
    case errc::trusted_certificate_malformed:
    case errc::key_generation_failed:
    case errc::common_name_invalid:
    case errc::certificate_creation_failed:
    case errc::certificate_request_invalid:
    case errc::keystore_creation_failed:
    case errc::bulk_registration_invalid:
    case errc::signing_failed:
    case errc::validity_invalid:
    case errc::platform_refused:
    case errc::certificate_already_uploaded:
    case errc::proof_of_possession_rejected:
    case errc::store_unusable:
    case errc::store_corrupt:
    case errc::store_incompatible:
        return false;
    // The network, timeouts, a peer's protocol faults, passing states.
    case errc::host_not_found:
    case errc::connection_refused:
    case errc::connection_closed:
    case errc::timeout:
    case errc::connect_timeout:
    case errc::server_certificate_not_yet_valid:
    case errc::tls_handshake_failed:
    case errc::mqtt_malformed_remaining_length:
    case errc::mqtt_packet_too_large:
    case errc::mqtt_invalid_packet_type:
    case errc::mqtt_invalid_flags:
    case errc::mqtt_truncated_packet:
    case errc::mqtt_trailing_bytes:
    case errc::mqtt_invalid_packet_id:
    case errc::mqtt_invalid_return_code:
    case errc::mqtt_unexpected_packet:
    case errc::not_connected:
    case errc::send_queue_full:
    case errc::message_dropped:
    case errc::token_answer_malformed:
    case errc::token_unexpected_template:
    case errc::token_timeout:
    case errc::jwt_malformed:
    case errc::token_expired:
    case errc::http_malformed_status_line:
    case errc::http_malformed_header:
    case errc::http_invalid_content_length:
    case errc::http_unsupported_transfer_encoding:
    case errc::http_malformed_chunk:
    case errc::http_header_too_large:
    case errc::http_body_too_large:
    case errc::http_truncated_response:
    case errc::http_request_timeout:
    case errc::smartrest_malformed:
    case errc::platform_answer_malformed:
    case errc::platform_unavailable:
        return true;
    }
    return true; // a value outside errc
}

/// The exception the SDK throws: a std::system_error whose what() is the code's message
/// followed by the detail of this occurrence ("server certificate not trusted: issuer CN=...").
class error : public std::system_error {
public:
    explicit error(std::error_code ec, std::string detail = {})
        : std::system_error(ec), detail_(std::move(detail)),
          what_(detail_.empty() ? ec.message() : ec.message() + ": " + detail_)
    {
    }
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
