// Unit tests of the MQTT 3.1.1 codec: exact bytes, round trips, chunked decoding, strictness.
#include "c8y/mtls/mqtt.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream> // doctest prints std::error_code with it
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace mqtt = c8y::mtls::mqtt;
using c8y::mtls::errc;

namespace {

// "10 0A 00" -> the bytes 0x10 0x0A 0x00
std::string h(std::string_view hex)
{
    std::string out;
    unsigned value = 0;
    int digits = 0;
    for (const char c : hex) {
        if (c == ' ') {
            continue;
        }
        const unsigned nibble = c <= '9' ? static_cast<unsigned>(c - '0') : static_cast<unsigned>(c - 'A' + 10);
        value = value << 4 | nibble;
        if (++digits == 2) {
            out.push_back(static_cast<char>(value));
            value = 0;
            digits = 0;
        }
    }
    return out;
}

std::vector<mqtt::packet> decode_in_chunks(std::string_view stream, const std::vector<std::size_t>& chunk_sizes,
                                           std::size_t max_packet_size = mqtt::platform_max_packet_size)
{
    mqtt::decoder d(max_packet_size);
    std::vector<mqtt::packet> packets;
    std::size_t i = 0;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        const std::size_t n = std::min(chunk_sizes[i++ % chunk_sizes.size()], stream.size() - pos);
        d.feed(stream.substr(pos, n));
        pos += n;
        while (auto p = d.next()) {
            packets.push_back(std::move(*p));
        }
    }
    CHECK(d.buffered() == 0);
    return packets;
}

std::optional<mqtt::packet> decode_one(std::string_view bytes)
{
    mqtt::decoder d;
    d.feed(bytes);
    return d.next();
}

// Feeds `bytes` whole and checks that decoding fails with `code`, with a detail, and for good.
void check_decode_error(std::string_view bytes, errc code, std::size_t max_packet_size = mqtt::platform_max_packet_size)
{
    mqtt::decoder d(max_packet_size);
    d.feed(bytes);
    std::string detail;
    try {
        while (d.next()) {
        }
        FAIL("no error for ", c8y::mtls::make_error_code(code).message());
    } catch (const c8y::mtls::error& e) {
        CHECK(e.code() == code);
        CHECK_FALSE(e.detail().empty());
        detail = e.detail();
    }
    CHECK(d.failed());
    d.feed(h("C0 00"));
    try {
        (void)d.next();
        FAIL("a failed decoder decoded again");
    } catch (const c8y::mtls::error& e) {
        CHECK(e.code() == code);
        CHECK(e.detail() == detail);
    }
}

void check_encode_error(const mqtt::packet& p, errc code, std::size_t max_packet_size = mqtt::platform_max_packet_size)
{
    std::string out = "kept";
    try {
        mqtt::encode(p, out, max_packet_size);
        FAIL("no error for ", c8y::mtls::make_error_code(code).message());
    } catch (const c8y::mtls::error& e) {
        CHECK(e.code() == code);
        CHECK_FALSE(e.detail().empty());
    }
    CHECK(out == "kept");
}

std::vector<mqtt::packet> one_of_each()
{
    return {
        mqtt::connect{.client_id = "d:dev-1",
                      .keepalive = 60,
                      .clean_session = true,
                      .username = "user",
                      .password = std::string("p\0ss", 4),
                      .will = mqtt::last_will{.topic = "s/us", .payload = "400,offline", .qos = mqtt::qos::at_least_once, .retain = true}},
        mqtt::connect{.client_id = "", .keepalive = 0},
        mqtt::connack{.session_present = false, .return_code = 5},
        mqtt::connack{.session_present = true, .return_code = 0},
        mqtt::publish{.topic = "s/us", .payload = std::string("100\0\xFF", 5), .qos = mqtt::qos::exactly_once, .retain = true, .dup = true, .packet_id = 65535},
        mqtt::publish{.topic = "s/uc/\xE2\x82\xAC", .payload = ""},
        mqtt::publish{.topic = "s/us", .payload = std::string(300, 'p'), .qos = mqtt::qos::at_least_once, .packet_id = 9},
        mqtt::puback{.packet_id = 1},
        mqtt::pubrec{.packet_id = 2},
        mqtt::pubrel{.packet_id = 3},
        mqtt::pubcomp{.packet_id = 4},
        mqtt::subscribe{.packet_id = 5,
                        .subscriptions = {{"s/ds", mqtt::qos::at_most_once}, {"s/dat", mqtt::qos::at_least_once}, {"+/#", mqtt::qos::exactly_once}}},
        mqtt::suback{.packet_id = 5, .return_codes = {0, 1, 2, mqtt::suback_failure}},
        mqtt::unsubscribe{.packet_id = 6, .topic_filters = {"s/ds", "#"}},
        mqtt::unsuback{.packet_id = 6},
        mqtt::pingreq{},
        mqtt::pingresp{},
        mqtt::disconnect{},
    };
}

std::string encode_all(const std::vector<mqtt::packet>& packets)
{
    std::string stream;
    for (const auto& p : packets) {
        mqtt::encode(p, stream);
    }
    return stream;
}

} // namespace

TEST_CASE("packet names and types follow the specification's numbering")
{
    CHECK(mqtt::packet_name(mqtt::packet_type::connect) == "CONNECT");
    CHECK(mqtt::packet_name(mqtt::packet_type::publish) == "PUBLISH");
    CHECK(mqtt::packet_name(mqtt::packet_type::disconnect) == "DISCONNECT");
    CHECK(mqtt::packet_name(static_cast<mqtt::packet_type>(0)) == "reserved");
    CHECK(mqtt::packet_name(static_cast<mqtt::packet_type>(15)) == "reserved");
    const auto all = one_of_each();
    for (const auto& p : all) {
        const auto first = static_cast<unsigned char>(mqtt::encode(p)[0]);
        CHECK(static_cast<unsigned>(mqtt::type_of(p)) == first >> 4);
    }
    CHECK(mqtt::type_of(mqtt::suback{}) == mqtt::packet_type::suback);
}

TEST_CASE("known packets encode to the bytes the specification lays out")
{
    SUBCASE("CONNECT as d:dev-1, keepalive 60, clean session")
    {
        CHECK(mqtt::encode(mqtt::connect{.client_id = "d:dev-1", .keepalive = 60}) ==
              h("10 13 00 04") + "MQTT" + h("04 02 00 3C 00 07") + "d:dev-1");
    }
    SUBCASE("CONNECT with will, user name and password sets every flag")
    {
        const mqtt::connect c{.client_id = "c",
                              .keepalive = 10,
                              .clean_session = false,
                              .username = "u",
                              .password = "p",
                              .will = mqtt::last_will{"w", "m", mqtt::qos::exactly_once, true}};
        CHECK(mqtt::encode(c) ==
              h("10 19 00 04") + "MQTT" + h("04 F4 00 0A 00 01") + "c" + h("00 01") + "w" + h("00 01") + "m" +
                  h("00 01") + "u" + h("00 01") + "p");
    }
    SUBCASE("CONNACK accepted") { CHECK(mqtt::encode(mqtt::connack{}) == h("20 02 00 00")); }
    SUBCASE("PUBLISH QoS 1 to s/us")
    {
        CHECK(mqtt::encode(mqtt::publish{.topic = "s/us", .payload = "100", .qos = mqtt::qos::at_least_once, .packet_id = 10}) ==
              h("32 0B 00 04") + "s/us" + h("00 0A") + "100");
    }
    SUBCASE("PUBLISH QoS 0 retained carries no packet id")
    {
        CHECK(mqtt::encode(mqtt::publish{.topic = "s/us", .payload = "1", .retain = true, .packet_id = 7}) ==
              h("31 07 00 04") + "s/us" + "1");
    }
    SUBCASE("PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK")
    {
        CHECK(mqtt::encode(mqtt::puback{10}) == h("40 02 00 0A"));
        CHECK(mqtt::encode(mqtt::pubrec{10}) == h("50 02 00 0A"));
        CHECK(mqtt::encode(mqtt::pubrel{10}) == h("62 02 00 0A"));
        CHECK(mqtt::encode(mqtt::pubcomp{10}) == h("70 02 00 0A"));
        CHECK(mqtt::encode(mqtt::unsuback{258}) == h("B0 02 01 02"));
    }
    SUBCASE("SUBSCRIBE to s/dat with QoS 0")
    {
        CHECK(mqtt::encode(mqtt::subscribe{.packet_id = 1, .subscriptions = {{"s/dat", mqtt::qos::at_most_once}}}) ==
              h("82 0A 00 01 00 05") + "s/dat" + h("00"));
    }
    SUBCASE("SUBACK and UNSUBSCRIBE")
    {
        CHECK(mqtt::encode(mqtt::suback{.packet_id = 1, .return_codes = {0, 0x80}}) == h("90 04 00 01 00 80"));
        CHECK(mqtt::encode(mqtt::unsubscribe{.packet_id = 2, .topic_filters = {"s/ds"}}) ==
              h("A2 08 00 02 00 04") + "s/ds");
    }
    SUBCASE("PINGREQ, PINGRESP, DISCONNECT")
    {
        CHECK(mqtt::encode(mqtt::pingreq{}) == h("C0 00"));
        CHECK(mqtt::encode(mqtt::pingresp{}) == h("D0 00"));
        CHECK(mqtt::encode(mqtt::disconnect{}) == h("E0 00"));
    }
    SUBCASE("the appending overload keeps what out held")
    {
        std::string out = "x";
        mqtt::encode(mqtt::pingreq{}, out);
        CHECK(out == "x" + h("C0 00"));
    }
}

TEST_CASE("remaining length uses 1 to 4 bytes at the specification's boundaries")
{
    // PUBLISH QoS 0 to "t": 3 bytes of topic field, the rest payload.
    const auto header_of = [](std::size_t remaining) {
        const std::string bytes =
            mqtt::encode(mqtt::publish{.topic = "t", .payload = std::string(remaining - 3, 'x')},
                         std::numeric_limits<std::size_t>::max());
        const std::size_t header = bytes.size() - remaining;
        return bytes.substr(1, header - 1);
    };
    CHECK(header_of(3) == h("03"));
    CHECK(header_of(127) == h("7F"));
    CHECK(header_of(128) == h("80 01"));
    CHECK(header_of(16383) == h("FF 7F"));
    CHECK(header_of(16384) == h("80 80 01"));
    CHECK(header_of(2097151) == h("FF FF 7F"));
    CHECK(header_of(2097152) == h("80 80 80 01"));
    CHECK(mqtt::encode(mqtt::disconnect{}).substr(1) == h("00"));

    SUBCASE("the decoder reads each form back")
    {
        for (const std::size_t remaining : {3U, 127U, 128U, 16383U, 16384U, 2097152U}) {
            CAPTURE(remaining);
            const mqtt::publish p{.topic = "t", .payload = std::string(remaining - 3, 'y')};
            mqtt::decoder d(std::numeric_limits<std::size_t>::max());
            d.feed(mqtt::encode(p, std::numeric_limits<std::size_t>::max()));
            const auto decoded = d.next();
            REQUIRE(decoded);
            CHECK(std::get<mqtt::publish>(*decoded) == p);
        }
    }
    SUBCASE("the largest four-byte value needs only its header to be accepted")
    {
        mqtt::decoder d(std::numeric_limits<std::size_t>::max());
        d.feed(h("30 FF FF FF 7F"));
        CHECK_FALSE(d.next());
        CHECK(d.buffered() == 5);
    }
}

TEST_CASE("every packet type survives encode then decode")
{
    for (const auto& p : one_of_each()) {
        CAPTURE(mqtt::packet_name(mqtt::type_of(p)));
        const auto decoded = decode_one(mqtt::encode(p));
        REQUIRE(decoded);
        CHECK(*decoded == p);
    }
}

TEST_CASE("decoding works whatever the chunk boundaries")
{
    const auto packets = one_of_each();
    const std::string stream = encode_all(packets);

    SUBCASE("one byte at a time") { CHECK(decode_in_chunks(stream, {1}) == packets); }
    SUBCASE("the whole stream at once") { CHECK(decode_in_chunks(stream, {stream.size()}) == packets); }
    SUBCASE("random chunk sizes")
    {
        std::mt19937 random(20240607);
        std::uniform_int_distribution<std::size_t> size(1, 40);
        for (int round = 0; round < 200; ++round) {
            std::vector<std::size_t> sizes(16);
            for (auto& s : sizes) {
                s = size(random);
            }
            CHECK(decode_in_chunks(stream, sizes) == packets);
        }
    }
    SUBCASE("std::byte spans")
    {
        mqtt::decoder d;
        const std::string bytes = mqtt::encode(mqtt::puback{7});
        const auto* data = reinterpret_cast<const std::byte*>(bytes.data());
        d.feed(std::span<const std::byte>(data, 1));
        CHECK_FALSE(d.next());
        d.feed(std::span<const std::byte>(data + 1, bytes.size() - 1));
        const auto p = d.next();
        REQUIRE(p);
        CHECK(*p == mqtt::packet(mqtt::puback{7}));
        CHECK_FALSE(d.next());
    }
}

TEST_CASE("a remaining length over four bytes, or not in shortest form, is malformed")
{
    check_decode_error(h("30 80 80 80 80 01"), errc::mqtt_malformed_remaining_length);
    SUBCASE("detected at the fourth byte, without waiting for a fifth")
    {
        check_decode_error(h("30 FF FF FF 80"), errc::mqtt_malformed_remaining_length);
    }
    SUBCASE("a needless trailing zero digit") { check_decode_error(h("C0 80 00"), errc::mqtt_malformed_remaining_length); }
}

TEST_CASE("packet size limit applies to encoding and decoding, header included")
{
    // PUBLISH QoS 0 to "t": 1 byte of type, 2 of remaining length, 3 of topic field.
    const std::size_t largest_payload = mqtt::platform_max_packet_size - 6;
    const mqtt::publish at_limit{.topic = "t", .payload = std::string(largest_payload, 'a')};
    const mqtt::publish over_limit{.topic = "t", .payload = std::string(largest_payload + 1, 'a')};

    SUBCASE("encoding accepts exactly the limit and refuses one byte more, naming both sizes")
    {
        CHECK(mqtt::encode(at_limit).size() == mqtt::platform_max_packet_size);
        try {
            (void)mqtt::encode(over_limit);
            FAIL("no error");
        } catch (const c8y::mtls::error& e) {
            CHECK(e.code() == errc::mqtt_payload_too_large);
            CHECK(e.detail().find("16185") != std::string::npos);
            CHECK(e.detail().find("16184") != std::string::npos);
        }
        check_encode_error(mqtt::pingreq{}, errc::mqtt_payload_too_large, 1);
        CHECK(mqtt::encode(over_limit, mqtt::platform_max_packet_size + 1).size() == mqtt::platform_max_packet_size + 1);
    }
    SUBCASE("the limit counts the remaining length's own bytes")
    {
        for (const std::size_t remaining : {127U, 128U, 16383U, 16384U, 2097151U, 2097152U}) {
            CAPTURE(remaining);
            const mqtt::publish p{.topic = "t", .payload = std::string(remaining - 3, 'a')};
            const std::size_t header = remaining < 128 ? 2 : remaining < 16384 ? 3 : remaining < 2097152 ? 4 : 5;
            const std::size_t total = remaining + header;
            CHECK(mqtt::encode(p, total).size() == total);
            check_encode_error(p, errc::mqtt_payload_too_large, total - 1);
            CHECK(decode_in_chunks(mqtt::encode(p, total), {4096}, total).size() == 1);
            check_decode_error(mqtt::encode(p, total), errc::mqtt_packet_too_large, total - 1);
        }
    }
    SUBCASE("decoding accepts exactly the limit")
    {
        const auto p = decode_one(mqtt::encode(at_limit));
        REQUIRE(p);
        CHECK(std::get<mqtt::publish>(*p) == at_limit);
    }
    SUBCASE("decoding refuses one byte more")
    {
        check_decode_error(mqtt::encode(over_limit, mqtt::platform_max_packet_size + 1), errc::mqtt_packet_too_large);
    }
    SUBCASE("decoding refuses from the fixed header alone")
    {
        // remaining length 16182 (B6 7E) makes 16185 bytes; no body follows.
        check_decode_error(h("30 B6 7E"), errc::mqtt_packet_too_large);
        check_decode_error(h("30 FF FF FF 7F"), errc::mqtt_packet_too_large);
    }
    SUBCASE("a smaller limit chosen by the caller")
    {
        const std::string ack = mqtt::encode(mqtt::puback{1});
        CHECK(decode_in_chunks(ack, {1}, 4).size() == 1);
        check_decode_error(ack, errc::mqtt_packet_too_large, 3);
    }
}

TEST_CASE("reserved packet types 0 and 15 are refused")
{
    check_decode_error(h("00 00"), errc::mqtt_invalid_packet_type);
    check_decode_error(h("F0 00"), errc::mqtt_invalid_packet_type);
    SUBCASE("after a valid packet") { check_decode_error(h("C0 00 F0"), errc::mqtt_invalid_packet_type); }
}

TEST_CASE("fixed-header flags must be as MQTT 3.1.1 section 2.2.2 requires")
{
    check_decode_error(h("60 02 00 01"), errc::mqtt_invalid_flags); // PUBREL without 0b0010
    check_decode_error(h("80 05 00 01 00 01") + "a", errc::mqtt_invalid_flags); // SUBSCRIBE
    check_decode_error(h("A0 05 00 01 00 01") + "a", errc::mqtt_invalid_flags); // UNSUBSCRIBE
    check_decode_error(h("42 02 00 01"), errc::mqtt_invalid_flags);              // PUBACK with 0b0010
    check_decode_error(h("11"), errc::mqtt_invalid_flags);                       // CONNECT, first byte alone
    check_decode_error(h("C1 00"), errc::mqtt_invalid_flags);                    // PINGREQ
    check_decode_error(h("E8 00"), errc::mqtt_invalid_flags);                    // DISCONNECT
    SUBCASE("PUBLISH with QoS 3") { check_decode_error(h("36 05 00 01 74 00 01"), errc::mqtt_invalid_flags); }
    SUBCASE("PUBLISH with DUP and QoS 0") { check_decode_error(h("38 03 00 01 74"), errc::mqtt_invalid_flags); }
}

TEST_CASE("fields that run past the remaining length are truncated packets")
{
    check_decode_error(h("30 03 00 05 74"), errc::mqtt_truncated_packet);       // topic length 5, 1 byte left
    check_decode_error(h("30 01 00"), errc::mqtt_truncated_packet);             // topic length cut
    check_decode_error(h("32 03 00 01 74"), errc::mqtt_truncated_packet);       // QoS 1 without packet id
    check_decode_error(h("40 01 00"), errc::mqtt_truncated_packet);             // PUBACK
    check_decode_error(h("20 01 00"), errc::mqtt_truncated_packet);             // CONNACK
    check_decode_error(h("82 02 00 01"), errc::mqtt_truncated_packet);          // SUBSCRIBE without filter
    check_decode_error(h("82 05 00 01 00 01 61"), errc::mqtt_truncated_packet); // SUBSCRIBE without QoS
    check_decode_error(h("90 02 00 01"), errc::mqtt_truncated_packet);          // SUBACK without code
    check_decode_error(h("A2 02 00 01"), errc::mqtt_truncated_packet);          // UNSUBSCRIBE without filter
    check_decode_error(h("10 06 00 04") + "MQTT", errc::mqtt_truncated_packet); // CONNECT cut after name
}

TEST_CASE("bytes after the fields of a fixed-size packet are refused")
{
    check_decode_error(h("40 03 00 01 00"), errc::mqtt_trailing_bytes);
    check_decode_error(h("62 03 00 01 00"), errc::mqtt_trailing_bytes);
    check_decode_error(h("B0 03 00 01 00"), errc::mqtt_trailing_bytes);
    check_decode_error(h("20 03 00 00 00"), errc::mqtt_trailing_bytes);
    check_decode_error(h("C0 01 00"), errc::mqtt_trailing_bytes);
    check_decode_error(h("D0 01 00"), errc::mqtt_trailing_bytes);
    check_decode_error(h("E0 01 00"), errc::mqtt_trailing_bytes);
    check_decode_error(mqtt::encode(mqtt::connect{.client_id = "c"}).replace(1, 1, h("0E")) + h("00"),
                       errc::mqtt_trailing_bytes);
}

TEST_CASE("strings that are not MQTT UTF-8 are refused when decoding")
{
    check_decode_error(h("30 04 00 02 C0 80"), errc::mqtt_invalid_utf8);    // overlong U+0000
    check_decode_error(h("30 05 00 03 ED A0 80"), errc::mqtt_invalid_utf8); // surrogate U+D800
    check_decode_error(h("30 05 00 03 61 00 62"), errc::mqtt_invalid_utf8); // U+0000
    check_decode_error(h("30 03 00 01 FF"), errc::mqtt_invalid_utf8);
    check_decode_error(h("10 0E 00 04") + "MQTT" + h("04 02 00 3C 00 02 E2 82"), errc::mqtt_invalid_utf8);
    check_decode_error(h("82 06 00 01 00 01 80 00"), errc::mqtt_invalid_utf8);
}

TEST_CASE("invalid topics and filters are refused when decoding")
{
    check_decode_error(h("30 02 00 00"), errc::mqtt_invalid_topic);              // empty
    check_decode_error(h("30 05 00 03 61 2F 23"), errc::mqtt_invalid_topic);     // "a/#"
    check_decode_error(h("30 05 00 03 61 2F 2B"), errc::mqtt_invalid_topic);     // "a/+"
    check_decode_error(h("82 07 00 01 00 02 61 23 00"), errc::mqtt_invalid_topic);        // "a#"
    check_decode_error(h("82 08 00 01 00 03 23 2F 61 00"), errc::mqtt_invalid_topic);    // "#/a"
    check_decode_error(h("A2 06 00 01 00 02 2B 61"), errc::mqtt_invalid_topic);           // "+a"
    check_decode_error(h("82 05 00 01 00 00 00"), errc::mqtt_invalid_topic);              // empty filter
}

TEST_CASE("packet id 0 is refused where one is required")
{
    check_decode_error(h("40 02 00 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("50 02 00 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("62 02 00 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("70 02 00 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("B0 02 00 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("32 05 00 01 74 00 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("82 06 00 00 00 01 61 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("90 03 00 00 00"), errc::mqtt_invalid_packet_id);
    check_decode_error(h("A2 05 00 00 00 01 61"), errc::mqtt_invalid_packet_id);
}

TEST_CASE("return codes outside the specification are refused")
{
    check_decode_error(h("20 02 00 06"), errc::mqtt_invalid_return_code); // CONNACK 6
    check_decode_error(h("20 02 02 00"), errc::mqtt_invalid_return_code); // reserved acknowledge flag
    check_decode_error(h("90 03 00 01 03"), errc::mqtt_invalid_return_code);
    check_decode_error(h("90 04 00 01 00 81"), errc::mqtt_invalid_return_code);
    SUBCASE("the valid ones decode")
    {
        const auto p = decode_one(h("20 02 01 05"));
        REQUIRE(p);
        CHECK(*p == mqtt::packet(mqtt::connack{.session_present = true, .return_code = 5}));
    }
}

TEST_CASE("CONNECT other than MQTT 3.1.1, or with inconsistent flags, is refused")
{
    const std::string tail = h("00 3C 00 01") + "c";
    check_decode_error(h("10 0F 00 06") + "MQIsdp" + h("03 02") + tail, errc::mqtt_invalid_flags);
    check_decode_error(h("10 0D 00 04") + "MQTX" + h("04 02") + tail, errc::mqtt_invalid_flags);
    check_decode_error(h("10 0D 00 04") + "MQTT" + h("05 02") + tail, errc::mqtt_invalid_flags);
    check_decode_error(h("10 0D 00 04") + "MQTT" + h("04 03") + tail, errc::mqtt_invalid_flags); // reserved bit
    check_decode_error(h("10 0D 00 04") + "MQTT" + h("04 0A") + tail, errc::mqtt_invalid_flags); // will QoS, no will
    check_decode_error(h("10 0D 00 04") + "MQTT" + h("04 22") + tail, errc::mqtt_invalid_flags); // will retain, no will
    check_decode_error(h("10 0D 00 04") + "MQTT" + h("04 1E") + tail, errc::mqtt_invalid_flags); // will QoS 3
    check_decode_error(h("10 0D 00 04") + "MQTT" + h("04 42") + tail, errc::mqtt_invalid_flags); // password only
    check_decode_error(h("10 0C 00 04") + "MQTT" + h("04 00 00 3C 00 00"), errc::client_id_invalid);
    check_decode_error(h("10 0D 00 04") + "MQTT" + h("04 06 00 3C 00 01") + "c", errc::mqtt_truncated_packet);
}

TEST_CASE("SUBSCRIBE requested QoS must be 0, 1 or 2")
{
    check_decode_error(h("82 06 00 01 00 01 61 03"), errc::mqtt_invalid_flags);
    check_decode_error(h("82 06 00 01 00 01 61 40"), errc::mqtt_invalid_flags);
}

TEST_CASE("error details name the packet, the field and the offset")
{
    mqtt::decoder d;
    d.feed(h("C0 00") + h("30 05 00 03 61 2F 23"));
    CHECK(d.next() == mqtt::packet(mqtt::pingreq{}));
    try {
        (void)d.next();
        FAIL("no error");
    } catch (const c8y::mtls::error& e) {
        CHECK(e.code() == errc::mqtt_invalid_topic);
        const std::string& detail = e.detail();
        CAPTURE(detail);
        CHECK(detail.find("PUBLISH") != std::string::npos);
        CHECK(detail.find("topic \"a/#\"") != std::string::npos);
        CHECK(detail.find("packet byte 6") != std::string::npos);
        CHECK(detail.find("stream offset 8") != std::string::npos);
    }
}

TEST_CASE("a failed decoder ignores further bytes and rethrows its error")
{
    mqtt::decoder d;
    d.feed(h("F0 00"));
    CHECK_THROWS_AS((void)d.next(), c8y::mtls::error);
    CHECK(d.failed());
    d.feed(h("C0 00"));
    CHECK(d.buffered() == 0);
    CHECK_THROWS_AS((void)d.next(), c8y::mtls::error);
}

TEST_CASE("encoding refuses what MQTT 3.1.1 does not allow")
{
    SUBCASE("client id")
    {
        check_encode_error(mqtt::connect{.client_id = "d:\xC0\x80"}, errc::mqtt_invalid_utf8);
        check_encode_error(mqtt::connect{.client_id = std::string("a\0b", 3)}, errc::mqtt_invalid_utf8);
        check_encode_error(mqtt::connect{.client_id = std::string(65536, 'a')}, errc::client_id_invalid);
        check_encode_error(mqtt::connect{.client_id = "", .clean_session = false}, errc::client_id_invalid);
        CHECK_NOTHROW((void)mqtt::encode(mqtt::connect{.client_id = std::string(65535, 'a')}, 70000));
    }
    SUBCASE("user name, password and will")
    {
        check_encode_error(mqtt::connect{.client_id = "c", .password = "p"}, errc::mqtt_invalid_flags);
        check_encode_error(mqtt::connect{.client_id = "c", .username = "\xED\xBF\xBF"}, errc::mqtt_invalid_utf8);
        check_encode_error(mqtt::connect{.client_id = "c", .will = mqtt::last_will{.topic = "s/#"}}, errc::mqtt_invalid_topic);
        check_encode_error(mqtt::connect{.client_id = "c", .will = mqtt::last_will{.topic = "w", .payload = std::string(65536, 'x')}},
                           errc::invalid_argument, 100000);
        check_encode_error(mqtt::connect{.client_id = "c", .will = mqtt::last_will{.topic = "w", .qos = static_cast<mqtt::qos>(3)}},
                           errc::mqtt_invalid_flags);
    }
    SUBCASE("PUBLISH topic")
    {
        check_encode_error(mqtt::publish{.topic = ""}, errc::mqtt_invalid_topic);
        check_encode_error(mqtt::publish{.topic = "s/+"}, errc::mqtt_invalid_topic);
        check_encode_error(mqtt::publish{.topic = "#"}, errc::mqtt_invalid_topic);
        check_encode_error(mqtt::publish{.topic = "s/\xF4\x90\x80\x80"}, errc::mqtt_invalid_utf8);
        check_encode_error(mqtt::publish{.topic = std::string(65536, 't')}, errc::mqtt_invalid_topic, 100000);
    }
    SUBCASE("PUBLISH QoS, DUP and packet id")
    {
        check_encode_error(mqtt::publish{.topic = "t", .qos = mqtt::qos::at_least_once}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::publish{.topic = "t", .qos = mqtt::qos::exactly_once}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::publish{.topic = "t", .dup = true}, errc::mqtt_invalid_flags);
        check_encode_error(mqtt::publish{.topic = "t", .qos = static_cast<mqtt::qos>(3), .packet_id = 1}, errc::mqtt_invalid_flags);
    }
    SUBCASE("packet ids of acknowledgements and subscriptions")
    {
        check_encode_error(mqtt::puback{}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::pubrec{}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::pubrel{}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::pubcomp{}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::unsuback{}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::subscribe{.subscriptions = {{"s/ds"}}}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::suback{.return_codes = {0}}, errc::mqtt_invalid_packet_id);
        check_encode_error(mqtt::unsubscribe{.topic_filters = {"s/ds"}}, errc::mqtt_invalid_packet_id);
    }
    SUBCASE("subscription filters and lists")
    {
        check_encode_error(mqtt::subscribe{.packet_id = 1, .subscriptions = {{"s/ds"}, {"s/#/x"}}}, errc::mqtt_invalid_topic);
        check_encode_error(mqtt::subscribe{.packet_id = 1, .subscriptions = {{"s+"}}}, errc::mqtt_invalid_topic);
        check_encode_error(mqtt::subscribe{.packet_id = 1, .subscriptions = {{"s", static_cast<mqtt::qos>(3)}}},
                           errc::mqtt_invalid_flags);
        check_encode_error(mqtt::subscribe{.packet_id = 1}, errc::invalid_argument);
        check_encode_error(mqtt::unsubscribe{.packet_id = 1, .topic_filters = {"a#"}}, errc::mqtt_invalid_topic);
        check_encode_error(mqtt::unsubscribe{.packet_id = 1}, errc::invalid_argument);
        check_encode_error(mqtt::suback{.packet_id = 1}, errc::invalid_argument);
    }
    SUBCASE("return codes")
    {
        check_encode_error(mqtt::connack{.return_code = 6}, errc::mqtt_invalid_return_code);
        check_encode_error(mqtt::suback{.packet_id = 1, .return_codes = {0, 3}}, errc::mqtt_invalid_return_code);
    }
}

TEST_CASE("UTF-8 validation follows MQTT 3.1.1 section 1.5.3")
{
    CHECK(mqtt::is_valid_utf8(""));
    CHECK(mqtt::is_valid_utf8("s/us"));
    CHECK(mqtt::is_valid_utf8("\xC3\xA4"));         // ä
    CHECK(mqtt::is_valid_utf8("\xE2\x82\xAC"));     // €
    CHECK(mqtt::is_valid_utf8("\xF0\x9D\x84\x9E")); // U+1D11E
    CHECK(mqtt::is_valid_utf8("\xF4\x8F\xBF\xBF")); // U+10FFFF
    CHECK(mqtt::is_valid_utf8("\xEF\xBF\xBF"));     // U+FFFF: discouraged, not forbidden
    CHECK_FALSE(mqtt::is_valid_utf8(std::string_view("\0", 1)));
    CHECK_FALSE(mqtt::is_valid_utf8("\xC0\x80"));         // overlong U+0000
    CHECK_FALSE(mqtt::is_valid_utf8("\xC1\xBF"));         // overlong
    CHECK_FALSE(mqtt::is_valid_utf8("\xE0\x80\x80"));     // overlong
    CHECK_FALSE(mqtt::is_valid_utf8("\xF0\x80\x80\x80")); // overlong
    CHECK_FALSE(mqtt::is_valid_utf8("\xED\xA0\x80"));     // U+D800
    CHECK_FALSE(mqtt::is_valid_utf8("\xED\xBF\xBF"));     // U+DFFF
    CHECK_FALSE(mqtt::is_valid_utf8("\xF4\x90\x80\x80")); // above U+10FFFF
    CHECK_FALSE(mqtt::is_valid_utf8("\xF5\x80\x80\x80"));
    CHECK_FALSE(mqtt::is_valid_utf8("\x80"));      // lone continuation
    CHECK_FALSE(mqtt::is_valid_utf8("\xE2\x82"));  // cut sequence
    CHECK_FALSE(mqtt::is_valid_utf8("\xE2\x82x")); // cut sequence
}

TEST_CASE("topic names and filters follow the wildcard rules")
{
    CHECK(mqtt::is_valid_topic_name("s/us"));
    CHECK(mqtt::is_valid_topic_name("/"));
    CHECK(mqtt::is_valid_topic_name("$SYS/x"));
    CHECK_FALSE(mqtt::is_valid_topic_name(""));
    CHECK_FALSE(mqtt::is_valid_topic_name("s/+"));
    CHECK_FALSE(mqtt::is_valid_topic_name("s/#"));
    CHECK_FALSE(mqtt::is_valid_topic_name(std::string(65536, 'a')));
    CHECK(mqtt::is_valid_topic_name(std::string(65535, 'a')));

    for (const char* filter : {"#", "+", "s/ds", "s/#", "s/+/x", "+/+", "/+", "+/", "//", "+/#"}) {
        CAPTURE(filter);
        CHECK(mqtt::is_valid_topic_filter(filter));
    }
    for (const char* filter : {"", "a#", "#a", "a/#/b", "##", "a+", "+a", "a/b+/c", "++"}) {
        CAPTURE(filter);
        CHECK_FALSE(mqtt::is_valid_topic_filter(filter));
    }
}

TEST_CASE("topic_matches routes as MQTT 3.1.1 section 4.7 describes")
{
    CHECK(mqtt::topic_matches("s/ds", "s/ds"));
    CHECK_FALSE(mqtt::topic_matches("s/ds", "s/us"));
    CHECK_FALSE(mqtt::topic_matches("s/ds", "s/ds/x"));
    CHECK_FALSE(mqtt::topic_matches("s/ds/x", "s/ds"));
    CHECK(mqtt::topic_matches("s/+", "s/ds"));
    CHECK(mqtt::topic_matches("s/+", "s/"));
    CHECK_FALSE(mqtt::topic_matches("s/+", "s"));
    CHECK_FALSE(mqtt::topic_matches("s/+", "s/ds/x"));
    CHECK(mqtt::topic_matches("s/+/x", "s/ds/x"));
    CHECK_FALSE(mqtt::topic_matches("s/+/x", "s/ds/y"));
    CHECK(mqtt::topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
    CHECK(mqtt::topic_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
    CHECK(mqtt::topic_matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
    CHECK_FALSE(mqtt::topic_matches("sport/tennis/player1/#", "sport/tennis/player2"));
    CHECK(mqtt::topic_matches("#", "a/b/c"));
    CHECK(mqtt::topic_matches("+/#", "a"));
    CHECK(mqtt::topic_matches("+/+", "/finance"));
    CHECK(mqtt::topic_matches("/+", "/finance"));
    CHECK_FALSE(mqtt::topic_matches("+", "/finance"));
    SUBCASE("topics starting with $ are not matched by a leading wildcard")
    {
        CHECK_FALSE(mqtt::topic_matches("#", "$SYS/broker"));
        CHECK_FALSE(mqtt::topic_matches("+/broker", "$SYS/broker"));
        CHECK(mqtt::topic_matches("$SYS/#", "$SYS/broker"));
        CHECK(mqtt::topic_matches("$SYS/+", "$SYS/broker"));
    }
    SUBCASE("invalid filters and topics match nothing")
    {
        CHECK_FALSE(mqtt::topic_matches("a#", "a#"));
        CHECK_FALSE(mqtt::topic_matches("", ""));
        CHECK_FALSE(mqtt::topic_matches("#", "a/+"));
    }
}
