// c8y-mtls: the definitions error.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string errc_category_impl::message(int value) const
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
    case errc::keystore_malformed: return "keystore or truststore (JKS or PKCS#12) is malformed";
    case errc::keystore_password_wrong: return "keystore or truststore cannot be opened: wrong store password";
    case errc::key_password_wrong: return "private key in the keystore cannot be decrypted: wrong key password";
    case errc::keystore_alias_missing: return "keystore has no private key entry of that alias, or several and no alias given";
    case errc::keystore_format_unsupported: return "keystore of a type, version or algorithm the SDK does not read";
    case errc::pkcs11_uri_malformed: return "PKCS#11 URI is malformed (RFC 7512)";
    case errc::pkcs11_module_unloadable: return "PKCS#11 module cannot be loaded";
    case errc::pkcs11_token_missing: return "no PKCS#11 token matches the URI";
    case errc::pkcs11_pin_wrong: return "the PKCS#11 token refused the PIN";
    case errc::pkcs11_object_missing: return "the PKCS#11 token holds no object that matches the URI";
    case errc::pkcs11_key_unusable: return "the PKCS#11 key cannot sign a TLS handshake";
    case errc::pkcs11_failed: return "the PKCS#11 token failed an operation";
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
    case errc::est_answer_malformed: return "the platform's EST answer (PKCS#7 or PEM certificates) cannot be read";
    case errc::device_not_registered: return "the platform has no registration for the device yet";
    case errc::device_certificate_expired:
        return "the device certificate expired: it can no longer authenticate a renewal, the device must enroll "
               "again with a new one-time password";
    case errc::credentials_unwritable: return "the device's new credentials cannot be written";
    }
    return "unknown c8y.mtls error " + std::to_string(value);
}

C8Y_MTLS_DECL std::string connack_category_impl::message(int value) const
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

C8Y_MTLS_DECL std::string tls_alert_category_impl::message(int value) const
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

} // namespace c8y::mtls::detail

namespace c8y::mtls {

C8Y_MTLS_DECL const std::error_category& error_category() noexcept
{
    static const detail::errc_category_impl instance;
    return instance;
}

C8Y_MTLS_DECL const std::error_category& connack_category() noexcept
{
    static const detail::connack_category_impl instance;
    return instance;
}

C8Y_MTLS_DECL const std::error_category& tls_alert_category() noexcept
{
    static const detail::tls_alert_category_impl instance;
    return instance;
}

C8Y_MTLS_DECL std::error_code make_connack_error(std::uint8_t return_code) noexcept
{
    return {return_code, connack_category()};
}

C8Y_MTLS_DECL bool retry_can_help(const std::error_code& ec) noexcept
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
    case errc::keystore_malformed:
    case errc::keystore_password_wrong:
    case errc::key_password_wrong:
    case errc::keystore_alias_missing:
    case errc::keystore_format_unsupported:
    // A token's configuration: the same module, PIN and objects give the same answer.
    case errc::pkcs11_uri_malformed:
    case errc::pkcs11_module_unloadable:
    case errc::pkcs11_token_missing:
    case errc::pkcs11_pin_wrong:
    case errc::pkcs11_object_missing:
    case errc::pkcs11_key_unusable:
    case errc::pkcs11_failed:
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
    // An answer that cannot be read is read the same way the next time.
    case errc::est_answer_malformed:
    // Only a new enrollment helps; a file system that refuses a write refuses the next one.
    case errc::device_certificate_expired:
    case errc::credentials_unwritable:
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
    // An operator registers the device meanwhile.
    case errc::device_not_registered:
    case errc::platform_unavailable:
        return true;
    }
    return true; // a value outside errc
}

C8Y_MTLS_DECL error::error(std::error_code ec, std::string detail)
    : std::system_error(ec), detail_(std::move(detail)),
      what_(detail_.empty() ? ec.message() : ec.message() + ": " + detail_)
{
}

} // namespace c8y::mtls
