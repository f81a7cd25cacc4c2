// The MQTT session state machine on its own (mqtt_session.hpp): packets and time in, bytes,
// events and deadlines out. No client, no transport, no clock: every reconnect case of MQTT
// 3.1.1 §4.4 is played packet by packet.
#include "c8y/mtls/mqtt_session.hpp"
#include "c8y/mtls/store.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <ostream> // doctest prints std::error_code through it
#include <string>
#include <variant>
#include <vector>

#include "support/check_error.hpp"

namespace mtls = c8y::mtls;
namespace mqtt = c8y::mtls::mqtt;
using namespace std::chrono_literals;
using session = mqtt::session;

namespace {

// Everything the session wrote, as packets.
std::vector<mqtt::packet> packets_of(std::string& bytes)
{
    mqtt::decoder d(1 << 20);
    d.feed(bytes);
    bytes.clear();
    std::vector<mqtt::packet> out;
    while (auto p = d.next())
        out.push_back(std::move(*p));
    return out;
}

std::string publish_packet(std::string topic, std::string payload, mqtt::qos q)
{
    return mqtt::encode(mqtt::publish{std::move(topic), std::move(payload), q, false, false,
                                      static_cast<std::uint16_t>(q == mqtt::qos::at_most_once ? 0 : 1)});
}

template <class P>
const P& as(const mqtt::packet& p)
{
    REQUIRE_MESSAGE(std::holds_alternative<P>(p), "got " << mqtt::packet_name(mqtt::type_of(p)));
    return std::get<P>(p);
}

// A session with one QoS 1 message (id 10) waiting for PUBACK and one QoS 2 message (id 11)
// whose PUBREC came, on a connection that has just been lost.
struct mid_flight {
    session s{{0s, 0ms, 20}};
    std::string out;
    std::vector<session::event> events;
    std::uint16_t qos1_id = 0, qos2_id = 0;

    mid_flight()
    {
        s.connecting(10s);
        s.connected(false, 1s, out);
        s.remember({"cmd/#", mqtt::qos::at_least_once});
        qos1_id = s.send(10, publish_packet("t/1", "one", mqtt::qos::at_least_once), out);
        qos2_id = s.send(11, publish_packet("t/2", "two", mqtt::qos::exactly_once), out);
        packets_of(out);
        s.receive(mqtt::pubrec{qos2_id}, out, events);
        CHECK(as<mqtt::pubrel>(packets_of(out).at(0)).packet_id == qos2_id);
        CHECK(s.disconnected().empty());
    }
};

} // namespace

TEST_CASE("mqtt::session: QoS 1 and 2 messages get free packet ids and complete on PUBACK and PUBCOMP only")
{
    session s;
    std::string out;
    std::vector<session::event> events;
    s.connecting(10s);
    s.connected(false, 0s, out);
    CHECK(out.empty());
    CHECK(s.send(7, publish_packet("t", "zero", mqtt::qos::at_most_once), out) == 0);
    const std::uint16_t a = s.send(8, publish_packet("t", "one", mqtt::qos::at_least_once), out);
    const std::uint16_t b = s.send(9, publish_packet("t", "two", mqtt::qos::exactly_once), out);
    CHECK(a != b);
    const auto sent = packets_of(out);
    REQUIRE(sent.size() == 3);
    CHECK(as<mqtt::publish>(sent[1]).packet_id == a);
    CHECK_FALSE(as<mqtt::publish>(sent[1]).dup);
    CHECK(s.in_flight() == 2);

    s.receive(mqtt::puback{a}, out, events);
    REQUIRE(events.size() == 1);
    CHECK(std::get<session::completed>(events[0]).message == 8);
    events.clear();
    s.receive(mqtt::pubrec{b}, out, events);
    CHECK(events.empty()); // not before PUBCOMP
    CHECK(as<mqtt::pubrel>(packets_of(out).at(0)).packet_id == b);
    s.receive(mqtt::pubcomp{b}, out, events);
    CHECK(std::get<session::completed>(events.at(0)).message == 9);
    CHECK(s.idle());

    // Acknowledgements of nothing in flight break the protocol.
    CHECK_ERROR(s.receive(mqtt::puback{a}, out, events), mtls::errc::mqtt_unexpected_packet,
                "PUBACK for packet id " + std::to_string(a) + ", which is not in flight");
    CHECK_ERROR(s.receive(mqtt::pubcomp{77}, out, events), mtls::errc::mqtt_unexpected_packet, "PUBCOMP");
    CHECK_ERROR(s.receive(mqtt::connack{false, 5}, out, events), mtls::make_connack_error(5),
                "CONNACK in the middle of the session");
    CHECK_ERROR(s.receive(mqtt::subscribe{1, {{"x", mqtt::qos::at_most_once}}}, out, events),
                mtls::errc::mqtt_unexpected_packet, "SUBSCRIBE sent by the broker");
}

TEST_CASE("mqtt::session: the in-flight window bounds QoS 1/2 messages, never QoS 0")
{
    session s({0s, 0ms, 2});
    std::string out;
    s.connecting(1s);
    s.connected(false, 0s, out);
    CHECK(s.can_send(mqtt::qos::at_least_once));
    s.send(1, publish_packet("t", "1", mqtt::qos::at_least_once), out);
    s.send(2, publish_packet("t", "2", mqtt::qos::exactly_once), out);
    CHECK_FALSE(s.can_send(mqtt::qos::at_least_once));
    CHECK_FALSE(s.can_send(mqtt::qos::exactly_once));
    CHECK(s.can_send(mqtt::qos::at_most_once));
}

TEST_CASE("mqtt::session: reconnected without a session, every unfinished message goes again as PUBLISH with DUP")
{
    mid_flight m;
    m.s.connecting(20s);
    m.s.connected(false, 2s, m.out);
    const auto again = packets_of(m.out);
    REQUIRE(again.size() == 3);
    const auto& p1 = as<mqtt::publish>(again[0]);
    const auto& p2 = as<mqtt::publish>(again[1]);
    CHECK(p1.dup);
    CHECK(p1.payload == "one");
    CHECK(p1.packet_id == m.qos1_id);
    // The QoS 2 message whose PUBREC came: a PUBLISH again, never a PUBREL for a session the
    // broker no longer has (it would answer PUBCOMP and the message would be counted delivered).
    CHECK(p2.dup);
    CHECK(p2.qos == mqtt::qos::exactly_once);
    CHECK(p2.payload == "two");
    const auto& restore = as<mqtt::subscribe>(again[2]);
    CHECK(restore.subscriptions == std::vector<mqtt::subscription>{{"cmd/#", mqtt::qos::at_least_once}});

    // A PUBCOMP without this broker's PUBREC first is not taken as delivery.
    CHECK_ERROR(m.s.receive(mqtt::pubcomp{m.qos2_id}, m.out, m.events), mtls::errc::mqtt_unexpected_packet, "PUBCOMP");
}

TEST_CASE("mqtt::session: reconnected to a session the broker kept, the QoS 2 flow resumes where it was")
{
    mid_flight m;
    m.s.connecting(20s);
    m.s.connected(true, 2s, m.out);
    const auto again = packets_of(m.out);
    REQUIRE(again.size() == 2); // no SUBSCRIBE: the broker kept them
    CHECK(as<mqtt::publish>(again[0]).dup);
    CHECK(as<mqtt::publish>(again[0]).packet_id == m.qos1_id);
    CHECK(as<mqtt::pubrel>(again[1]).packet_id == m.qos2_id);
    m.s.receive(mqtt::pubcomp{m.qos2_id}, m.out, m.events);
    CHECK(std::get<session::completed>(m.events.at(0)).message == 11);
}

TEST_CASE("mqtt::session: a subscription the broker refuses to restore is forgotten and reported")
{
    mid_flight m;
    m.s.remember({"also/#", mqtt::qos::at_most_once});
    m.s.connected(false, 2s, m.out);
    const auto again = packets_of(m.out);
    const auto& restore = as<mqtt::subscribe>(again.back());
    REQUIRE(restore.subscriptions.size() == 2);
    m.s.receive(mqtt::suback{restore.packet_id, {1, mqtt::suback_failure}}, m.out, m.events);
    REQUIRE(m.events.size() == 1);
    CHECK(std::get<session::subscription_lost>(m.events[0]).filter.topic_filter == "also/#");
    CHECK(m.s.subscribed_to("cmd/#"));
    CHECK_FALSE(m.s.subscribed_to("also/#"));
}

TEST_CASE("mqtt::session: exchanges end with their connection; their answers come back by packet id")
{
    session s;
    std::string out;
    std::vector<session::event> events;
    s.connected(false, 0s, out);
    const std::uint16_t sub = s.subscribe({{"s/ds", mqtt::qos::at_least_once}}, out);
    const std::uint16_t unsub = s.unsubscribe({"old/#"}, out);
    s.receive(mqtt::suback{sub, {1}}, out, events);
    CHECK(std::get<session::answered>(events.at(0)).packet_id == sub);
    CHECK_ERROR(s.receive(mqtt::suback{sub, {1}}, out, events), mtls::errc::mqtt_unexpected_packet,
                "SUBACK for packet id " + std::to_string(sub) + ", which is not in flight");
    CHECK(s.disconnected() == std::vector<std::uint16_t>{unsub});
}

TEST_CASE("mqtt::session: incoming QoS 1 and 2 are acknowledged, and QoS 2 sent again is delivered once")
{
    session s;
    std::string out;
    std::vector<session::event> events;
    s.connected(false, 0s, out);
    s.receive(mqtt::publish{"s/ds", "1", mqtt::qos::at_least_once, false, false, 5}, out, events);
    CHECK(as<mqtt::puback>(packets_of(out).at(0)).packet_id == 5);
    s.receive(mqtt::publish{"s/ds", "2", mqtt::qos::exactly_once, false, false, 6}, out, events);
    s.receive(mqtt::publish{"s/ds", "2", mqtt::qos::exactly_once, false, true, 6}, out, events);
    CHECK(events.size() == 2);
    const auto acks = packets_of(out);
    CHECK(as<mqtt::pubrec>(acks.at(0)).packet_id == 6);
    CHECK(as<mqtt::pubrec>(acks.at(1)).packet_id == 6);
    s.receive(mqtt::pubrel{6}, out, events);
    CHECK(as<mqtt::pubcomp>(packets_of(out).at(0)).packet_id == 6);
    // A new session forgets the broker's QoS 2 ids: the same id is a new message then.
    s.receive(mqtt::publish{"s/ds", "3", mqtt::qos::exactly_once, false, false, 7}, out, events);
    s.disconnected();
    s.connected(false, 1s, out);
    packets_of(out);
    s.receive(mqtt::publish{"s/ds", "4", mqtt::qos::exactly_once, false, false, 7}, out, events);
    CHECK(events.size() == 4);
}

TEST_CASE("mqtt::session: keepalive pings after an idle interval and gives up half an interval later")
{
    session s({60s, 0ms, 20});
    std::string out;
    s.connecting(30s);
    CHECK(s.next_deadline() == session::time_point(30s));
    CHECK(s.tick(29s, out) == session::verdict::none);
    CHECK(s.tick(30s, out) == session::verdict::connect_overdue);
    s.connected(false, 30s, out);
    CHECK(s.next_deadline() == session::time_point(90s));
    s.sent_bytes(50s);
    s.received_bytes(70s);
    CHECK(s.next_deadline() == session::time_point(110s)); // the older of the two counts
    CHECK(s.tick(109s, out) == session::verdict::none);
    CHECK(out.empty());
    CHECK(s.tick(110s, out) == session::verdict::none);
    CHECK(std::holds_alternative<mqtt::pingreq>(packets_of(out).at(0)));
    CHECK(s.next_deadline() == session::time_point(140s));
    std::vector<session::event> events;
    s.receive(mqtt::pingresp{}, out, events);
    CHECK(s.next_deadline() == session::time_point(110s)); // due again: nothing was sent since
    CHECK(s.tick(110s, out) == session::verdict::none);
    packets_of(out);
    CHECK(s.tick(140s, out) == session::verdict::ping_overdue);

    session quiet({0s, 0ms, 20});
    quiet.connected(false, 0s, out);
    CHECK_FALSE(quiet.next_deadline());
}

TEST_CASE("mqtt::session: messages an earlier process sent resume with their packet ids and keep them free")
{
    session s;
    std::string out;
    std::string earlier = publish_packet("t", "from before", mqtt::qos::exactly_once);
    const std::size_t at = mqtt::publish_packet_id_offset(earlier);
    earlier[at] = 0;
    earlier[at + 1] = 1; // the id the earlier session used: 1
    s.resume(3, earlier);
    s.connected(true, 0s, out);
    const auto again = packets_of(out);
    CHECK(as<mqtt::publish>(again.at(0)).packet_id == 1);
    CHECK(as<mqtt::publish>(again.at(0)).dup);
    CHECK(s.send(4, publish_packet("t", "new", mqtt::qos::at_least_once), out) != 1);
}

TEST_CASE("memory_store: in order, bounded by count and counted bytes, withdrawals and drops leave no trace")
{
    mtls::memory_store store;
    mtls::send_queue_options limits;
    limits.max_messages = 3;
    limits.max_bytes = 3 * (9 + mtls::queued_message_overhead);
    store.limit(limits);
    std::vector<mtls::stored_message> dropped;
    const auto a = store.push(publish_packet("t", "a1", mqtt::qos::at_least_once), dropped); // 9 bytes
    const auto b = store.push(publish_packet("t", "b2", mqtt::qos::at_most_once), dropped);  // 7 bytes
    const auto c = store.push(publish_packet("t", "c3", mqtt::qos::at_least_once), dropped);
    CHECK(a < b);
    CHECK(b < c);
    CHECK(store.queued_messages() == 3);
    CHECK(store.queued_bytes() == 25 + 3 * mtls::queued_message_overhead);
    CHECK_ERROR(store.push(publish_packet("t", "d4", mqtt::qos::at_most_once), dropped), mtls::errc::send_queue_full,
                "3 messages");
    CHECK(store.withdraw(b));
    CHECK_FALSE(store.withdraw(b));
    CHECK(store.next_qos() == mqtt::qos::at_least_once);
    CHECK(store.take()->id == a);
    CHECK(store.take()->id == c); // b left no gap behind
    CHECK_FALSE(store.take());
    CHECK_FALSE(store.withdraw(a)); // taken: in the session's hands now

    limits.when_full = mtls::queue_full_policy::drop_oldest_qos0;
    store.limit(limits);
    store.push(publish_packet("t", "q1", mqtt::qos::at_least_once), dropped);
    const auto old0 = store.push(publish_packet("t", "o0", mqtt::qos::at_most_once), dropped);
    store.push(publish_packet("t", "q2", mqtt::qos::at_least_once), dropped);
    store.push(publish_packet("t", "n0", mqtt::qos::at_most_once), dropped);
    REQUIRE(dropped.size() == 1);
    CHECK(dropped[0].id == old0);
    CHECK(store.queued_messages() == 3);
    // Nothing is dropped unless that makes room.
    CHECK_ERROR(store.push(publish_packet("t", std::string(300, 'x'), mqtt::qos::at_least_once), dropped),
                mtls::errc::send_queue_full, "limits");
    CHECK(dropped.size() == 1);
    store.clear();
    CHECK(store.queued_messages() == 0);
    CHECK(store.queued_bytes() == 0);
}
