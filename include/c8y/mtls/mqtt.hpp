// c8y-mtls: MQTT 3.1.1 packets, their validating encoder, a strict incremental decoder and topic rules.
#pragma once

#include "c8y/mtls/config.hpp"
#include "c8y/mtls/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

// Pure protocol code: no I/O. The client writes what encode() gives to its connection and feeds
// what it reads to a decoder. Every failure is a c8y::mtls::error with an errc::mqtt_* code
// (or client_id_invalid / invalid_argument for values no MQTT packet can carry).
namespace c8y::mtls::mqtt {

enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

/// The platform's largest message, fixed header included (PLATFORM.md, "Connecting").
inline constexpr std::size_t platform_max_packet_size = 16184;

/// Control packet types, numbered as in MQTT 3.1.1 §2.2.1 (0 and 15 are reserved).
enum class packet_type : std::uint8_t {
    connect = 1,
    connack,
    publish,
    puback,
    pubrec,
    pubrel,
    pubcomp,
    subscribe,
    suback,
    unsubscribe,
    unsuback,
    pingreq,
    pingresp,
    disconnect,
};

/// The name the specification gives the type ("PUBLISH"), for error messages and logs;
/// "reserved" for any other value.
constexpr std::string_view packet_name(packet_type type) noexcept;

/// The message the broker publishes for the client if the connection is lost without DISCONNECT.
struct last_will {
    std::string topic{};
    std::string payload{};
    mqtt::qos qos = mqtt::qos::at_most_once;
    bool retain = false;
    friend bool operator==(const last_will&, const last_will&) = default;
};

struct connect {
    static constexpr packet_type type = packet_type::connect;
    std::string client_id{};
    std::uint16_t keepalive = 60; ///< seconds, 0 disables; the platform documents none, thin-edge.io uses 60
    bool clean_session = true;    ///< the platform requires true
    std::optional<std::string> username{};
    std::optional<std::string> password{}; ///< binary; MQTT allows it only together with a username
    std::optional<last_will> will{};
    friend bool operator==(const connect&, const connect&) = default;
};

struct connack {
    static constexpr packet_type type = packet_type::connack;
    bool session_present = false;
    std::uint8_t return_code = 0; ///< 0 accepted, 1..5 refused (see make_connack_error)
    friend bool operator==(const connack&, const connack&) = default;
};

struct publish {
    static constexpr packet_type type = packet_type::publish;
    std::string topic{};
    std::string payload{}; ///< any bytes
    mqtt::qos qos = mqtt::qos::at_most_once;
    bool retain = false;
    bool dup = false;            ///< only with QoS 1 or 2
    std::uint16_t packet_id = 0; ///< 1..65535 with QoS 1 or 2; not sent, and decoded as 0, with QoS 0
    friend bool operator==(const publish&, const publish&) = default;
};

struct puback {
    static constexpr packet_type type = packet_type::puback;
    std::uint16_t packet_id = 0;
    friend bool operator==(const puback&, const puback&) = default;
};

struct pubrec {
    static constexpr packet_type type = packet_type::pubrec;
    std::uint16_t packet_id = 0;
    friend bool operator==(const pubrec&, const pubrec&) = default;
};

struct pubrel {
    static constexpr packet_type type = packet_type::pubrel;
    std::uint16_t packet_id = 0;
    friend bool operator==(const pubrel&, const pubrel&) = default;
};

struct pubcomp {
    static constexpr packet_type type = packet_type::pubcomp;
    std::uint16_t packet_id = 0;
    friend bool operator==(const pubcomp&, const pubcomp&) = default;
};

struct subscription {
    std::string topic_filter{};
    mqtt::qos qos = mqtt::qos::at_most_once; ///< the largest QoS the client wants to receive with
    friend bool operator==(const subscription&, const subscription&) = default;
};

struct subscribe {
    static constexpr packet_type type = packet_type::subscribe;
    std::uint16_t packet_id = 0;
    std::vector<subscription> subscriptions{}; ///< at least one
    friend bool operator==(const subscribe&, const subscribe&) = default;
};

/// SUBACK return code of a refused subscription; the others are the granted QoS (0, 1, 2).
inline constexpr std::uint8_t suback_failure = 0x80;

struct suback {
    static constexpr packet_type type = packet_type::suback;
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> return_codes{}; ///< one per subscription, in order
    friend bool operator==(const suback&, const suback&) = default;
};

struct unsubscribe {
    static constexpr packet_type type = packet_type::unsubscribe;
    std::uint16_t packet_id = 0;
    std::vector<std::string> topic_filters{}; ///< at least one
    friend bool operator==(const unsubscribe&, const unsubscribe&) = default;
};

struct unsuback {
    static constexpr packet_type type = packet_type::unsuback;
    std::uint16_t packet_id = 0;
    friend bool operator==(const unsuback&, const unsuback&) = default;
};

struct pingreq {
    static constexpr packet_type type = packet_type::pingreq;
    friend bool operator==(const pingreq&, const pingreq&) = default;
};

struct pingresp {
    static constexpr packet_type type = packet_type::pingresp;
    friend bool operator==(const pingresp&, const pingresp&) = default;
};

struct disconnect {
    static constexpr packet_type type = packet_type::disconnect;
    friend bool operator==(const disconnect&, const disconnect&) = default;
};

/// Any control packet; the alternatives are in packet_type order.
using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe, suback,
                            unsubscribe, unsuback, pingreq, pingresp, disconnect>;

inline packet_type type_of(const packet& p) noexcept { return static_cast<packet_type>(p.index() + 1); }

constexpr std::string_view packet_name(packet_type type) noexcept
{
    switch (type) {
    case packet_type::connect: return "CONNECT";
    case packet_type::connack: return "CONNACK";
    case packet_type::publish: return "PUBLISH";
    case packet_type::puback: return "PUBACK";
    case packet_type::pubrec: return "PUBREC";
    case packet_type::pubrel: return "PUBREL";
    case packet_type::pubcomp: return "PUBCOMP";
    case packet_type::subscribe: return "SUBSCRIBE";
    case packet_type::suback: return "SUBACK";
    case packet_type::unsubscribe: return "UNSUBSCRIBE";
    case packet_type::unsuback: return "UNSUBACK";
    case packet_type::pingreq: return "PINGREQ";
    case packet_type::pingresp: return "PINGRESP";
    case packet_type::disconnect: return "DISCONNECT";
    }
    return "reserved";
}

/// Whether `text` is an MQTT UTF-8 string (§1.5.3): well-formed UTF-8 (no overlong forms, no
/// surrogates, nothing above U+10FFFF) without U+0000. The 65535-byte length limit is not checked.
C8Y_MTLS_DECL bool is_valid_utf8(std::string_view text) noexcept;

/// Whether `topic` may be published to: 1..65535 bytes of MQTT UTF-8 without '+' or '#'.
C8Y_MTLS_DECL bool is_valid_topic_name(std::string_view topic) noexcept;

/// Whether `filter` may be subscribed to: like a topic name, but '+' may fill a whole level and
/// '#' may be the whole last level ("s/ds", "s/+/x", "s/#", "#").
C8Y_MTLS_DECL bool is_valid_topic_filter(std::string_view filter) noexcept;

/// Whether a message published to `topic` reaches a subscription to `filter` (§4.7): '+' matches
/// one level, '#' the parent level and any below, and topics starting with '$' are not matched
/// by filters starting with a wildcard. False when either argument is invalid.
C8Y_MTLS_DECL bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

/// Appends the encoded packet to `out`; `out` is unchanged if it throws.
/// Throws c8y::mtls::error when the packet breaks MQTT 3.1.1: mqtt_invalid_utf8 (a string
/// field), mqtt_invalid_topic (a topic name or filter), mqtt_invalid_packet_id (0 where an id is
/// required), mqtt_invalid_flags (QoS above 2, DUP with QoS 0, password without user name),
/// mqtt_invalid_return_code (CONNACK above 5, SUBACK not 0, 1, 2 or 0x80), client_id_invalid
/// (over 65535 bytes, or empty without clean session), invalid_argument (a binary field over
/// 65535 bytes, SUBSCRIBE, SUBACK or UNSUBSCRIBE with an empty list), and
/// mqtt_payload_too_large when the whole packet would exceed `max_packet_size` bytes.
C8Y_MTLS_DECL void encode(const packet& p, std::string& out, std::size_t max_packet_size = platform_max_packet_size);

/// The encoded packet; throws as the appending overload does.
C8Y_MTLS_DECL std::string encode(const packet& p, std::size_t max_packet_size = platform_max_packet_size);

/// Turns a byte stream, delivered in chunks of any size, into packets. Strict: anything MQTT
/// 3.1.1 does not allow is an error, including a remaining length not in its shortest form.
///
/// Use: after each feed(), call next() until it returns nullopt (bytes are held until then).
/// next() throws c8y::mtls::error whose detail names the packet, the field, the value and the
/// offset in the stream. After that the decoder has failed for good: the stream can no longer
/// be split into packets, so feed() ignores its bytes and every next() throws the same error;
/// make a new decoder for a new connection.
class decoder {
public:
    /// `max_packet_size` counts the whole packet, fixed header included. A packet whose fixed
    /// header announces more is refused (mqtt_packet_too_large) before its body is awaited.
    C8Y_MTLS_DECL explicit decoder(std::size_t max_packet_size = platform_max_packet_size) noexcept;

    C8Y_MTLS_DECL void feed(std::span<const std::byte> bytes);
    C8Y_MTLS_DECL void feed(std::string_view bytes);

    /// The next complete packet, or nullopt when more bytes are needed. Throws c8y::mtls::error:
    /// mqtt_invalid_packet_type, mqtt_invalid_flags, mqtt_malformed_remaining_length,
    /// mqtt_packet_too_large, mqtt_truncated_packet, mqtt_trailing_bytes, mqtt_invalid_utf8,
    /// mqtt_invalid_topic, mqtt_invalid_packet_id, mqtt_invalid_return_code, or
    /// client_id_invalid (a CONNECT with an empty client id and no clean session).
    C8Y_MTLS_DECL std::optional<packet> next();

    bool failed() const noexcept { return failure_.has_value(); }

    /// Bytes received but not yet returned as packets.
    std::size_t buffered() const noexcept { return buffer_.size() - consumed_; }

private:
    C8Y_MTLS_DECL std::optional<packet> parse();

    std::size_t max_packet_size_;
    std::string buffer_;
    std::size_t consumed_ = 0;        // bytes at the front of buffer_ already returned as packets
    std::uint64_t buffer_offset_ = 0; // stream offset of buffer_[0], for error details
    std::optional<error> failure_;
};

} // namespace c8y::mtls::mqtt

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/mqtt_codec.hpp"
#endif
