// c8y-mtls: internals of the MQTT 3.1.1 codec. Header-only, mqtt.hpp includes this after its
// declarations; under separate compilation only c8y/mtls/impl/src.hpp does, to compile it once.
#pragma once

#include "c8y/mtls/error.hpp"
#include "c8y/mtls/detail/text.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace c8y::mtls::detail::mqtt_impl {

// The codec works on the packets mqtt.hpp declares before it includes this.
using namespace c8y::mtls::mqtt;

inline constexpr std::size_t max_string_size = 65535;
inline constexpr std::size_t max_remaining_length = 268'435'455; // four bytes of seven bits

// type_of() relies on the variant listing the packets in packet_type order.
template <std::size_t... I>
constexpr bool alternatives_in_type_order(std::index_sequence<I...>)
{
    return ((static_cast<std::size_t>(std::variant_alternative_t<I, packet>::type) == I + 1) && ...);
}
static_assert(alternatives_in_type_order(std::make_index_sequence<std::variant_size_v<packet>>{}));

inline std::string name_of(packet_type type) { return std::string(packet_name(type)); }

// Why a string is not acceptable, and where in it.
struct string_problem {
    errc code;
    std::string_view reason;
    std::size_t offset;
};

// Why the sequence at the start of `text` is not well-formed UTF-8.
inline std::string_view utf8_error_reason(std::string_view text) noexcept
{
    const auto lead = static_cast<unsigned char>(text[0]);
    const auto second = text.size() > 1 ? static_cast<unsigned char>(text[1]) : 0;
    if (lead >= 0x80 && lead <= 0xBF) {
        return "is not well-formed UTF-8: a continuation byte where a character should start";
    }
    if (lead >= 0xF5) {
        return "is not well-formed UTF-8: a byte that UTF-8 never uses (0xF5..0xFF)";
    }
    if (lead == 0xC0 || lead == 0xC1 || (lead == 0xE0 && second >= 0x80 && second <= 0x9F) ||
        (lead == 0xF0 && second >= 0x80 && second <= 0x8F)) {
        return "is not well-formed UTF-8: an overlong encoding";
    }
    if (lead == 0xED && second >= 0xA0 && second <= 0xBF) {
        return "is not well-formed UTF-8: a UTF-16 surrogate (U+D800..U+DFFF)";
    }
    if (lead == 0xF4 && second >= 0x90 && second <= 0xBF) {
        return "is not well-formed UTF-8: a code point above U+10FFFF";
    }
    return "is not well-formed UTF-8: a multi-byte sequence cut short";
}

inline std::optional<string_problem> find_utf8_problem(std::string_view text) noexcept
{
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] == '\0') {
            return string_problem{errc::mqtt_invalid_utf8, "contains U+0000, which MQTT forbids", i};
        }
        const std::size_t length = mtls::detail::utf8_sequence_length(text.substr(i));
        if (length == 0) {
            return string_problem{errc::mqtt_invalid_utf8, utf8_error_reason(text.substr(i)), i};
        }
        i += length;
    }
    return std::nullopt;
}

inline std::optional<string_problem> find_topic_problem(std::string_view topic, bool is_filter) noexcept
{
    if (topic.empty()) {
        return string_problem{errc::mqtt_invalid_topic, "is empty", 0};
    }
    if (topic.size() > max_string_size) {
        return string_problem{errc::mqtt_invalid_topic, "is longer than the 65535 bytes MQTT allows",
                              max_string_size};
    }
    if (auto problem = find_utf8_problem(topic)) {
        return problem;
    }
    for (std::size_t i = 0; i < topic.size(); ++i) {
        const char c = topic[i];
        if (c != '+' && c != '#') {
            continue;
        }
        if (!is_filter) {
            return string_problem{errc::mqtt_invalid_topic,
                                  c == '+' ? "contains the wildcard '+', which only subscriptions may use"
                                           : "contains the wildcard '#', which only subscriptions may use",
                                  i};
        }
        const bool starts_level = i == 0 || topic[i - 1] == '/';
        const bool ends_level = i + 1 == topic.size() || topic[i + 1] == '/';
        if (!starts_level || !ends_level) {
            return string_problem{errc::mqtt_invalid_topic,
                                  c == '+' ? "has '+' inside a level (it must be a whole level)"
                                           : "has '#' inside a level (it must be the whole last level)",
                                  i};
        }
        if (c == '#' && i + 1 != topic.size()) {
            return string_problem{errc::mqtt_invalid_topic, "has '#' before the last level", i};
        }
    }
    return std::nullopt;
}

// "PUBLISH topic "a/#" contains the wildcard '#', ... (byte 2 of the topic)"
inline std::string describe(packet_type packet, std::string_view field, std::string_view value,
                            const string_problem& problem)
{
    return name_of(packet) + " " + std::string(field) + " " + mtls::detail::quoted(value) + " " +
           std::string(problem.reason) + " (byte " + std::to_string(problem.offset) + " of the " +
           std::string(field) + ")";
}

// ---- encoding ----

inline void put_u8(std::string& out, std::uint8_t value) { out.push_back(static_cast<char>(value)); }

inline void put_u16(std::string& out, std::uint16_t value)
{
    put_u8(out, static_cast<std::uint8_t>(value >> 8));
    put_u8(out, static_cast<std::uint8_t>(value & 0xFF));
}

// A length-prefixed field; the caller has checked the size.
inline void put_field(std::string& out, std::string_view bytes)
{
    put_u16(out, static_cast<std::uint16_t>(bytes.size()));
    out.append(bytes);
}

inline void put_remaining_length(std::string& out, std::size_t length)
{
    do {
        auto digit = static_cast<std::uint8_t>(length % 128);
        length /= 128;
        if (length > 0) {
            digit |= 0x80;
        }
        put_u8(out, digit);
    } while (length > 0);
}

inline std::size_t remaining_length_size(std::size_t length) noexcept
{
    return length < 128 ? 1 : length < 16'384 ? 2 : length < 2'097'152 ? 3 : 4;
}

inline void check_packet_id(packet_type packet, std::uint16_t id)
{
    if (id == 0) {
        throw error(errc::mqtt_invalid_packet_id, name_of(packet) + " needs a packet id from 1 to 65535, not 0");
    }
}

inline void check_qos(packet_type packet, std::string_view field, qos value)
{
    if (static_cast<std::uint8_t>(value) > 2) {
        throw error(errc::mqtt_invalid_flags, name_of(packet) + " " + std::string(field) + " " +
                                                  std::to_string(static_cast<unsigned>(value)) +
                                                  " is not 0, 1 or 2");
    }
}

inline void check_topic(packet_type packet, std::string_view field, std::string_view topic, bool is_filter)
{
    if (auto problem = find_topic_problem(topic, is_filter)) {
        throw error(problem->code, describe(packet, field, topic, *problem));
    }
}

inline void check_string(packet_type packet, std::string_view field, std::string_view text, errc too_long)
{
    if (text.size() > max_string_size) {
        throw error(too_long, name_of(packet) + " " + std::string(field) + " is " + std::to_string(text.size()) +
                                  " bytes, more than the 65535 an MQTT string can hold");
    }
    if (auto problem = find_utf8_problem(text)) {
        throw error(problem->code, describe(packet, field, text, *problem));
    }
}

inline void check_binary(packet_type packet, std::string_view field, std::string_view bytes)
{
    if (bytes.size() > max_string_size) {
        throw error(errc::invalid_argument, name_of(packet) + " " + std::string(field) + " is " +
                                                std::to_string(bytes.size()) +
                                                " bytes, more than the 65535 an MQTT field can hold");
    }
}

inline void check_not_empty(packet_type packet, std::string_view list, bool empty)
{
    if (empty) {
        throw error(errc::invalid_argument, name_of(packet) + " needs at least one " + std::string(list));
    }
}

inline std::uint8_t qos_bits(qos value) { return static_cast<std::uint8_t>(value); }

// Each encode_body appends the variable header and payload, and returns the fixed header's
// first byte.

inline std::uint8_t encode_body(const connect& p, std::string& body)
{
    check_string(connect::type, "client id", p.client_id, errc::client_id_invalid);
    if (p.client_id.empty() && !p.clean_session) {
        throw error(errc::client_id_invalid, "CONNECT with an empty client id needs clean session (MQTT 3.1.1 §3.1.3.1)");
    }
    if (p.will) {
        check_topic(connect::type, "will topic", p.will->topic, false);
        check_binary(connect::type, "will message", p.will->payload);
        check_qos(connect::type, "will QoS", p.will->qos);
    }
    if (p.username) {
        check_string(connect::type, "user name", *p.username, errc::invalid_argument);
    }
    if (p.password) {
        if (!p.username) {
            throw error(errc::mqtt_invalid_flags, "CONNECT with a password needs a user name (MQTT 3.1.1 §3.1.2.9)");
        }
        check_binary(connect::type, "password", *p.password);
    }

    unsigned flags = p.clean_session ? 0x02U : 0U;
    if (p.will) {
        flags |= 0x04 | static_cast<unsigned>(qos_bits(p.will->qos)) << 3 | (p.will->retain ? 0x20U : 0U);
    }
    flags |= p.password ? 0x40U : 0U;
    flags |= p.username ? 0x80U : 0U;

    put_field(body, "MQTT");
    put_u8(body, 4);
    put_u8(body, static_cast<std::uint8_t>(flags));
    put_u16(body, p.keepalive);
    put_field(body, p.client_id);
    if (p.will) {
        put_field(body, p.will->topic);
        put_field(body, p.will->payload);
    }
    if (p.username) {
        put_field(body, *p.username);
    }
    if (p.password) {
        put_field(body, *p.password);
    }
    return 0x10;
}

inline std::uint8_t encode_body(const connack& p, std::string& body)
{
    if (p.return_code > 5) {
        throw error(errc::mqtt_invalid_return_code,
                    "CONNACK return code " + std::to_string(p.return_code) + " is not 0..5");
    }
    put_u8(body, p.session_present ? 1 : 0);
    put_u8(body, p.return_code);
    return 0x20;
}

inline std::uint8_t encode_body(const publish& p, std::string& body)
{
    check_topic(publish::type, "topic", p.topic, false);
    check_qos(publish::type, "QoS", p.qos);
    if (p.dup && p.qos == qos::at_most_once) {
        throw error(errc::mqtt_invalid_flags, "PUBLISH to " + mtls::detail::quoted(p.topic) +
                                                  " has DUP set with QoS 0 (MQTT 3.1.1 §3.3.1.1)");
    }
    put_field(body, p.topic);
    if (p.qos != qos::at_most_once) {
        check_packet_id(publish::type, p.packet_id);
        put_u16(body, p.packet_id);
    }
    body.append(p.payload);
    return static_cast<std::uint8_t>(0x30 | (p.dup ? 0x08 : 0) | qos_bits(p.qos) << 1 | (p.retain ? 0x01 : 0));
}

inline std::uint8_t encode_id_only(packet_type type, std::uint16_t id, std::string& body)
{
    check_packet_id(type, id);
    put_u16(body, id);
    const std::uint8_t flags = type == packet_type::pubrel ? 0x02 : 0x00;
    return static_cast<std::uint8_t>(static_cast<std::uint8_t>(type) << 4 | flags);
}

inline std::uint8_t encode_body(const puback& p, std::string& body) { return encode_id_only(p.type, p.packet_id, body); }
inline std::uint8_t encode_body(const pubrec& p, std::string& body) { return encode_id_only(p.type, p.packet_id, body); }
inline std::uint8_t encode_body(const pubrel& p, std::string& body) { return encode_id_only(p.type, p.packet_id, body); }
inline std::uint8_t encode_body(const pubcomp& p, std::string& body) { return encode_id_only(p.type, p.packet_id, body); }
inline std::uint8_t encode_body(const unsuback& p, std::string& body) { return encode_id_only(p.type, p.packet_id, body); }

inline std::uint8_t encode_body(const subscribe& p, std::string& body)
{
    check_packet_id(subscribe::type, p.packet_id);
    check_not_empty(subscribe::type, "subscription", p.subscriptions.empty());
    put_u16(body, p.packet_id);
    for (const auto& s : p.subscriptions) {
        check_topic(subscribe::type, "topic filter", s.topic_filter, true);
        check_qos(subscribe::type, "requested QoS", s.qos);
        put_field(body, s.topic_filter);
        put_u8(body, qos_bits(s.qos));
    }
    return 0x82;
}

inline bool is_suback_code(std::uint8_t code) noexcept { return code <= 2 || code == suback_failure; }

inline std::uint8_t encode_body(const suback& p, std::string& body)
{
    check_packet_id(suback::type, p.packet_id);
    check_not_empty(suback::type, "return code", p.return_codes.empty());
    put_u16(body, p.packet_id);
    for (const std::uint8_t code : p.return_codes) {
        if (!is_suback_code(code)) {
            throw error(errc::mqtt_invalid_return_code,
                        "SUBACK return code " + hex_byte(code) + " is not 0x00, 0x01, 0x02 or 0x80");
        }
        put_u8(body, code);
    }
    return 0x90;
}

inline std::uint8_t encode_body(const unsubscribe& p, std::string& body)
{
    check_packet_id(unsubscribe::type, p.packet_id);
    check_not_empty(unsubscribe::type, "topic filter", p.topic_filters.empty());
    put_u16(body, p.packet_id);
    for (const auto& filter : p.topic_filters) {
        check_topic(unsubscribe::type, "topic filter", filter, true);
        put_field(body, filter);
    }
    return 0xA2;
}

inline std::uint8_t encode_body(const pingreq&, std::string&) { return 0xC0; }
inline std::uint8_t encode_body(const pingresp&, std::string&) { return 0xD0; }
inline std::uint8_t encode_body(const disconnect&, std::string&) { return 0xE0; }

// ---- decoding ----

// The fixed header's flags are checked as soon as its first byte arrives (§2.2.2).
inline void check_first_byte(std::uint8_t first, std::uint64_t stream_offset)
{
    const unsigned type_bits = first >> 4;
    const unsigned flags = first & 0x0F;
    const std::string where = " at stream offset " + std::to_string(stream_offset);
    if (type_bits == 0 || type_bits == 15) {
        throw error(errc::mqtt_invalid_packet_type, "first byte " + hex_byte(first) + where + " has packet type " +
                                                        std::to_string(type_bits) + ", which MQTT 3.1.1 reserves");
    }
    const auto type = static_cast<packet_type>(type_bits);
    if (type == packet_type::publish) {
        const unsigned qos_value = (flags >> 1) & 0x03;
        if (qos_value == 3) {
            throw error(errc::mqtt_invalid_flags, "PUBLISH" + where + " has QoS 3 in its flags (first byte " +
                                                      hex_byte(first) + "); QoS is 0, 1 or 2");
        }
        if ((flags & 0x08) != 0 && qos_value == 0) {
            throw error(errc::mqtt_invalid_flags, "PUBLISH" + where + " has DUP set with QoS 0 (first byte " +
                                                      hex_byte(first) + ")");
        }
        return;
    }
    const bool wants_0010 =
        type == packet_type::pubrel || type == packet_type::subscribe || type == packet_type::unsubscribe;
    const unsigned expected = wants_0010 ? 0x02 : 0x00;
    if (flags != expected) {
        throw error(errc::mqtt_invalid_flags, name_of(type) + where + " has fixed-header flags " +
                                                  hex_byte(static_cast<std::uint8_t>(flags)) +
                                                  "; MQTT 3.1.1 §2.2.2 requires " +
                                                  hex_byte(static_cast<std::uint8_t>(expected)));
    }
}

// Reads the fields of one packet whose bytes are all present, and names the packet, the field
// and the offset in every error.
class reader {
public:
    reader(packet_type type, std::string_view body, std::size_t header_size, std::uint64_t stream_offset) noexcept
        : type_(type), body_(body), header_size_(header_size), stream_offset_(stream_offset)
    {
    }

    packet_type type() const noexcept { return type_; }
    std::size_t position() const noexcept { return pos_; }
    bool at_end() const noexcept { return pos_ == body_.size(); }

    [[noreturn]] void fail(errc code, const std::string& what, std::size_t at) const
    {
        const std::size_t in_packet = header_size_ + at;
        throw error(code, name_of(type_) + " " + what + " (packet byte " + std::to_string(in_packet) +
                              ", stream offset " + std::to_string(stream_offset_ + in_packet) + ")");
    }
    [[noreturn]] void fail(errc code, const std::string& what) const { fail(code, what, pos_); }

    std::uint8_t u8(std::string_view field)
    {
        need(1, field);
        return static_cast<std::uint8_t>(body_[pos_++]);
    }

    std::uint16_t u16(std::string_view field)
    {
        need(2, field);
        const auto high = static_cast<std::uint8_t>(body_[pos_]);
        const auto low = static_cast<std::uint8_t>(body_[pos_ + 1]);
        pos_ += 2;
        return static_cast<std::uint16_t>(high << 8 | low);
    }

    // A length-prefixed field of any bytes.
    std::string_view binary(std::string_view field)
    {
        const std::size_t start = pos_;
        const std::uint16_t length = u16(field);
        if (body_.size() - pos_ < length) {
            fail(errc::mqtt_truncated_packet,
                 std::string(field) + " is " + std::to_string(length) + " bytes long but the packet has only " +
                     std::to_string(body_.size() - pos_) + " left",
                 start);
        }
        const std::string_view bytes = body_.substr(pos_, length);
        pos_ += length;
        return bytes;
    }

    std::string utf8(std::string_view field)
    {
        const std::size_t start = pos_ + 2;
        const std::string_view text = binary(field);
        if (auto problem = find_utf8_problem(text)) {
            fail(problem->code, quoted_problem(field, text, *problem), start + problem->offset);
        }
        return std::string(text);
    }

    std::string topic(std::string_view field, bool is_filter)
    {
        const std::size_t start = pos_ + 2;
        const std::string_view text = binary(field);
        if (auto problem = find_topic_problem(text, is_filter)) {
            fail(problem->code, quoted_problem(field, text, *problem), start + problem->offset);
        }
        return std::string(text);
    }

    std::uint16_t packet_id()
    {
        const std::uint16_t id = u16("packet id");
        if (id == 0) {
            fail(errc::mqtt_invalid_packet_id, "packet id is 0; MQTT 3.1.1 requires 1..65535", pos_ - 2);
        }
        return id;
    }

    std::string_view rest() noexcept
    {
        const std::string_view bytes = body_.substr(pos_);
        pos_ = body_.size();
        return bytes;
    }

    // Fixed-layout packets end exactly after their fields.
    void finish() const
    {
        if (!at_end()) {
            fail(errc::mqtt_trailing_bytes, "has " + std::to_string(body_.size() - pos_) +
                                                " byte(s) after its fields; its remaining length is " +
                                                std::to_string(body_.size()) + ", its fields take " +
                                                std::to_string(pos_));
        }
    }

private:
    void need(std::size_t count, std::string_view field) const
    {
        if (body_.size() - pos_ < count) {
            fail(errc::mqtt_truncated_packet, "ends before its " + std::string(field) + ": " + std::to_string(count) +
                                                  " byte(s) needed, " + std::to_string(body_.size() - pos_) +
                                                  " left within remaining length " + std::to_string(body_.size()));
        }
    }

    static std::string quoted_problem(std::string_view field, std::string_view text, const string_problem& problem)
    {
        return std::string(field) + " " + mtls::detail::quoted(text) + " " + std::string(problem.reason);
    }

    packet_type type_;
    std::string_view body_;
    std::size_t pos_ = 0;
    std::size_t header_size_;
    std::uint64_t stream_offset_;
};

inline std::optional<qos> decode_qos(unsigned bits) noexcept
{
    return bits <= 2 ? std::optional<qos>(static_cast<qos>(bits)) : std::nullopt;
}

inline connect decode_connect(reader& r)
{
    connect p;
    const std::string_view protocol = r.binary("protocol name");
    if (protocol != "MQTT") {
        r.fail(errc::mqtt_invalid_flags,
               "protocol name " + mtls::detail::quoted(protocol) + " is not \"MQTT\" (only MQTT 3.1.1 is spoken)", 0);
    }
    const std::uint8_t level = r.u8("protocol level");
    if (level != 4) {
        r.fail(errc::mqtt_invalid_flags, "protocol level " + std::to_string(level) + " is not 4 (MQTT 3.1.1)",
               r.position() - 1);
    }
    const std::size_t flags_at = r.position();
    const std::uint8_t flags = r.u8("connect flags");
    const auto fail_flags = [&](std::string_view why) {
        r.fail(errc::mqtt_invalid_flags, "connect flags " + hex_byte(flags) + " " + std::string(why), flags_at);
    };
    if ((flags & 0x01) != 0) {
        fail_flags("set the reserved bit 0");
    }
    const bool has_will = (flags & 0x04) != 0;
    const unsigned will_qos = (flags >> 3) & 0x03;
    const bool will_retain = (flags & 0x20) != 0;
    const bool has_password = (flags & 0x40) != 0;
    const bool has_username = (flags & 0x80) != 0;
    if (!has_will && (will_qos != 0 || will_retain)) {
        fail_flags("set will QoS or will retain without the will flag");
    }
    if (will_qos == 3) {
        fail_flags("set will QoS 3; QoS is 0, 1 or 2");
    }
    if (has_password && !has_username) {
        fail_flags("set the password flag without the user name flag");
    }
    p.clean_session = (flags & 0x02) != 0;
    p.keepalive = r.u16("keepalive");
    const std::size_t client_id_at = r.position();
    p.client_id = r.utf8("client id");
    if (p.client_id.empty() && !p.clean_session) {
        r.fail(errc::client_id_invalid, "has an empty client id without clean session (MQTT 3.1.1 §3.1.3.1)",
               client_id_at);
    }
    if (has_will) {
        last_will will;
        will.topic = r.topic("will topic", false);
        will.payload = std::string(r.binary("will message"));
        will.qos = static_cast<qos>(will_qos);
        will.retain = will_retain;
        p.will = std::move(will);
    }
    if (has_username) {
        p.username = r.utf8("user name");
    }
    if (has_password) {
        p.password = std::string(r.binary("password"));
    }
    r.finish();
    return p;
}

inline connack decode_connack(reader& r)
{
    connack p;
    const std::uint8_t ack_flags = r.u8("acknowledge flags");
    if ((ack_flags & 0xFE) != 0) {
        r.fail(errc::mqtt_invalid_return_code,
               "acknowledge flags " + hex_byte(ack_flags) + " set reserved bits (only bit 0, session present, may be set)",
               0);
    }
    p.session_present = ack_flags != 0;
    p.return_code = r.u8("return code");
    if (p.return_code > 5) {
        r.fail(errc::mqtt_invalid_return_code, "return code " + std::to_string(p.return_code) + " is not 0..5", 1);
    }
    r.finish();
    return p;
}

inline publish decode_publish(reader& r, std::uint8_t flags)
{
    publish p;
    p.dup = (flags & 0x08) != 0;
    p.qos = static_cast<qos>((flags >> 1) & 0x03); // 3 was refused with the first byte
    p.retain = (flags & 0x01) != 0;
    p.topic = r.topic("topic", false);
    if (p.qos != qos::at_most_once) {
        p.packet_id = r.packet_id();
    }
    p.payload = std::string(r.rest());
    return p;
}

inline std::uint16_t decode_id_only(reader& r)
{
    const std::uint16_t id = r.packet_id();
    r.finish();
    return id;
}

inline void expect_payload(reader& r, std::string_view what)
{
    if (r.at_end()) {
        r.fail(errc::mqtt_truncated_packet, "ends without " + std::string(what) + " (at least one is required)");
    }
}

inline subscribe decode_subscribe(reader& r)
{
    subscribe p;
    p.packet_id = r.packet_id();
    expect_payload(r, "a topic filter");
    while (!r.at_end()) {
        subscription s;
        s.topic_filter = r.topic("topic filter", true);
        const std::uint8_t requested = r.u8("requested QoS");
        const auto value = decode_qos(requested);
        if (!value) {
            r.fail(errc::mqtt_invalid_flags,
                   "requested QoS byte " + hex_byte(requested) + " for " + mtls::detail::quoted(s.topic_filter) +
                       " is not 0, 1 or 2",
                   r.position() - 1);
        }
        s.qos = *value;
        p.subscriptions.push_back(std::move(s));
    }
    return p;
}

inline suback decode_suback(reader& r)
{
    suback p;
    p.packet_id = r.packet_id();
    expect_payload(r, "a return code");
    while (!r.at_end()) {
        const std::uint8_t code = r.u8("return code");
        if (!is_suback_code(code)) {
            r.fail(errc::mqtt_invalid_return_code, "return code " + hex_byte(code) + " (number " +
                                                       std::to_string(p.return_codes.size() + 1) +
                                                       ") is not 0x00, 0x01, 0x02 or 0x80",
                   r.position() - 1);
        }
        p.return_codes.push_back(code);
    }
    return p;
}

inline unsubscribe decode_unsubscribe(reader& r)
{
    unsubscribe p;
    p.packet_id = r.packet_id();
    expect_payload(r, "a topic filter");
    while (!r.at_end()) {
        p.topic_filters.push_back(r.topic("topic filter", true));
    }
    return p;
}

inline packet decode_body(reader& r, std::uint8_t flags)
{
    switch (r.type()) {
    case packet_type::connect: return decode_connect(r);
    case packet_type::connack: return decode_connack(r);
    case packet_type::publish: return decode_publish(r, flags);
    case packet_type::puback: return puback{decode_id_only(r)};
    case packet_type::pubrec: return pubrec{decode_id_only(r)};
    case packet_type::pubrel: return pubrel{decode_id_only(r)};
    case packet_type::pubcomp: return pubcomp{decode_id_only(r)};
    case packet_type::subscribe: return decode_subscribe(r);
    case packet_type::suback: return decode_suback(r);
    case packet_type::unsubscribe: return decode_unsubscribe(r);
    case packet_type::unsuback: return unsuback{decode_id_only(r)};
    case packet_type::pingreq: r.finish(); return pingreq{};
    case packet_type::pingresp: r.finish(); return pingresp{};
    case packet_type::disconnect: r.finish(); return disconnect{};
    }
    r.fail(errc::mqtt_invalid_packet_type, "cannot be decoded");
}

} // namespace c8y::mtls::detail::mqtt_impl

namespace c8y::mtls::mqtt {

C8Y_MTLS_DECL bool is_valid_utf8(std::string_view text) noexcept { return !detail::mqtt_impl::find_utf8_problem(text); }

C8Y_MTLS_DECL bool is_valid_topic_name(std::string_view topic) noexcept { return !detail::mqtt_impl::find_topic_problem(topic, false); }

C8Y_MTLS_DECL bool is_valid_topic_filter(std::string_view filter) noexcept
{
    return !detail::mqtt_impl::find_topic_problem(filter, true);
}

C8Y_MTLS_DECL bool topic_matches(std::string_view filter, std::string_view topic) noexcept
{
    if (!is_valid_topic_filter(filter) || !is_valid_topic_name(topic)) {
        return false;
    }
    if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) {
        return false;
    }
    // Walk both level by level; a level ends at '/' or at the end of the string.
    const auto level_end = [](std::string_view s, std::size_t from) {
        const std::size_t slash = s.find('/', from);
        return slash == std::string_view::npos ? s.size() : slash;
    };
    std::size_t f = 0;
    std::size_t t = 0;
    bool topic_done = false;
    for (;;) {
        const std::size_t f_end = level_end(filter, f);
        const std::string_view f_level = filter.substr(f, f_end - f);
        if (f_level == "#") {
            return true; // also matches the parent: "a/#" matches "a"
        }
        if (topic_done) {
            return false;
        }
        const std::size_t t_end = level_end(topic, t);
        if (f_level != "+" && f_level != topic.substr(t, t_end - t)) {
            return false;
        }
        const bool filter_last = f_end == filter.size();
        const bool topic_last = t_end == topic.size();
        if (filter_last) {
            return topic_last;
        }
        topic_done = topic_last;
        f = f_end + 1;
        t = t_end + 1;
    }
}

C8Y_MTLS_DECL void encode(const packet& p, std::string& out, std::size_t max_packet_size)
{
    std::string body;
    const std::uint8_t first = std::visit([&](const auto& x) { return detail::mqtt_impl::encode_body(x, body); }, p);
    const std::size_t total = 1 + detail::mqtt_impl::remaining_length_size(body.size()) + body.size();
    if (body.size() > detail::mqtt_impl::max_remaining_length || total > max_packet_size) {
        std::string what = detail::mqtt_impl::name_of(type_of(p));
        if (const auto* pub = std::get_if<publish>(&p)) {
            what += " to " + mtls::detail::quoted(pub->topic);
        }
        throw error(errc::mqtt_payload_too_large,
                    what + " would be " + std::to_string(total) + " bytes, over the limit of " +
                        std::to_string(std::min(max_packet_size, 1 + 4 + detail::mqtt_impl::max_remaining_length)) +
                        " bytes (fixed header included)");
    }
    out.reserve(out.size() + total);
    detail::mqtt_impl::put_u8(out, first);
    detail::mqtt_impl::put_remaining_length(out, body.size());
    out.append(body);
}

C8Y_MTLS_DECL std::string encode(const packet& p, std::size_t max_packet_size)
{
    std::string out;
    encode(p, out, max_packet_size);
    return out;
}

C8Y_MTLS_DECL decoder::decoder(std::size_t max_packet_size) noexcept : max_packet_size_(max_packet_size) {}

C8Y_MTLS_DECL void decoder::feed(std::string_view bytes)
{
    if (failed()) {
        return;
    }
    // Drop what next() has returned; what stays is less than one packet.
    if (consumed_ != 0) {
        buffer_.erase(0, consumed_);
        buffer_offset_ += consumed_;
        consumed_ = 0;
    }
    buffer_.append(bytes);
}

C8Y_MTLS_DECL void decoder::feed(std::span<const std::byte> bytes)
{
    feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

C8Y_MTLS_DECL std::optional<packet> decoder::next()
{
    if (failure_) {
        throw *failure_;
    }
    try {
        return parse();
    } catch (const error& e) {
        failure_ = e;
        buffer_.clear();
        consumed_ = 0;
        throw;
    }
}

C8Y_MTLS_DECL std::optional<packet> decoder::parse()
{
    const std::string_view pending = std::string_view(buffer_).substr(consumed_);
    const std::uint64_t stream_offset = buffer_offset_ + consumed_;
    if (pending.empty()) {
        return std::nullopt;
    }
    const auto first = static_cast<std::uint8_t>(pending[0]);
    detail::mqtt_impl::check_first_byte(first, stream_offset);
    const auto type = static_cast<packet_type>(first >> 4);

    // Remaining length: one to four bytes of seven bits each, low digits first (§2.2.3).
    std::size_t length = 0;
    std::size_t header_size = 1;
    for (;;) {
        if (pending.size() <= header_size) {
            return std::nullopt;
        }
        const auto digit = static_cast<std::uint8_t>(pending[header_size]);
        length |= static_cast<std::size_t>(digit & 0x7F) << (7 * (header_size - 1));
        ++header_size;
        if ((digit & 0x80) == 0) {
            if (digit == 0 && header_size > 2) {
                throw error(errc::mqtt_malformed_remaining_length,
                            detail::mqtt_impl::name_of(type) + " at stream offset " + std::to_string(stream_offset) +
                                " has a remaining length with a needless trailing 0x00 byte (not in shortest form)");
            }
            break;
        }
        if (header_size == 5) {
            throw error(errc::mqtt_malformed_remaining_length,
                        detail::mqtt_impl::name_of(type) + " at stream offset " + std::to_string(stream_offset) +
                            " has a remaining length whose fourth byte " + mtls::detail::hex_byte(digit) +
                            " says a fifth follows; MQTT allows at most four");
        }
    }
    const std::size_t total = header_size + length;
    if (total > max_packet_size_) {
        throw error(errc::mqtt_packet_too_large,
                    detail::mqtt_impl::name_of(type) + " at stream offset " + std::to_string(stream_offset) +
                        " has remaining length " + std::to_string(length) + ", making a " + std::to_string(total) +
                        "-byte packet, over the limit of " + std::to_string(max_packet_size_) + " bytes");
    }
    if (pending.size() < total) {
        return std::nullopt;
    }
    detail::mqtt_impl::reader r(type, pending.substr(header_size, length), header_size, stream_offset);
    packet p = detail::mqtt_impl::decode_body(r, static_cast<std::uint8_t>(first & 0x0F));
    consumed_ += total;
    return p;
}

} // namespace c8y::mtls::mqtt
