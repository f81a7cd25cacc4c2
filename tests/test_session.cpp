// The client's session without sockets and without sleeping: an in-memory transport, a
// pass-through Tls and a manual clock, with the broker scripted packet by packet.
#include <c8y/mtls.hpp>
#include <c8y/mtls/testing.hpp>

#include <doctest/doctest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>

#include <malloc.h>

#include <filesystem>
#include <random>
#include <set>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"
#include "support/memory_broker.hpp"

// g++ 12 reports -Wmismatched-new-delete on coroutine frames whose allocation it inlined (Asio's
// awaitable frames have their own operator new/delete pair): a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace mqtt = c8y::mtls::mqtt;
using mtls::testing::advance;
using mtls::testing::manual_clock;
using mtls::testing::settle;
using mtls::test::broker_connection;
using mtls::test::start;
using namespace std::chrono_literals;

namespace {

using memory_client = mtls::basic_client<mtls::testing::memory_transport, mtls::testing::plaintext_tls, manual_clock>;

// A certificate only gives the client its device id here; made once by the OpenSSL CLI.
const fs::path& certificate_dir()
{
    static const fs::path dir = [] {
        fs::path d = fs::path(C8Y_TEST_WORK_DIR) / "session";
        fs::create_directories(d);
        mtls::test::run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 "
                                "-subj /CN=session-device -keyout " +
                                mtls::test::shell_quote((d / "key.pem").string()) + " -out " +
                                mtls::test::shell_quote((d / "cert.pem").string()) + " 2>&1");
        return d;
    }();
    return dir;
}

memory_client make_client(asio::io_context& io)
{
    const fs::path& dir = certificate_dir();
    return memory_client(io.get_executor(), mtls::credentials::from_pem_files(dir / "cert.pem", dir / "key.pem"),
                         mtls::truststore::from_path(dir / "cert.pem"));
}

mtls::connect_options options()
{
    mtls::connect_options o;
    o.host = "broker";
    o.port = 1883;
    o.keepalive = 0s;
    o.reconnect.initial_delay = 1s;
    o.reconnect.max_delay = 8s;
    o.reconnect.jitter = 0.0;
    return o;
}

// The client connects to `listener`; the broker accepts with CONNACK 0.
asio::awaitable<broker_connection> connect(memory_client& client, mtls::testing::memory_listener& listener,
                                           mtls::connect_options o = options())
{
    auto connecting = start(client.get_executor(), client.connect(o));
    broker_connection broker(co_await listener.accept());
    co_await broker.handshake();
    co_await settle();
    REQUIRE(connecting->succeeded());
    co_return broker;
}

// Runs a scenario on its own io_context.
void scenario(asio::awaitable<void> (*body)(asio::io_context&))
{
    asio::io_context io;
    mtls::test::run(io, body(io));
}

} // namespace

TEST_CASE("session: QoS 2 publish goes through PUBREC, PUBREL and PUBCOMP and completes once")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);

        auto sent = start(io.get_executor(), client.publish("t/2", "exactly once", mqtt::qos::exactly_once));
        const mqtt::publish p = co_await broker.expect<mqtt::publish>();
        CHECK(p.qos == mqtt::qos::exactly_once);
        CHECK_FALSE(p.dup);
        const mqtt::packet received = mqtt::pubrec{p.packet_id};
        co_await broker.send(received);
        const mqtt::pubrel release = co_await broker.expect<mqtt::pubrel>();
        CHECK(release.packet_id == p.packet_id);
        co_await settle();
        CHECK_FALSE(sent->done); // not before PUBCOMP
        CHECK(client.in_flight() == 1);
        const mqtt::packet complete = mqtt::pubcomp{p.packet_id};
        co_await broker.send(complete);
        co_await settle();
        CHECK(sent->succeeded());
        CHECK(client.in_flight() == 0);

        // A second PUBCOMP for the same id is a broker fault, not a second completion.
        co_await broker.send(complete);
        co_await settle();
        REQUIRE(client.failure().has_value());
        CHECK(client.failure()->code() == mtls::errc::mqtt_unexpected_packet);
        CHECK(client.state() == mtls::connection_state::reconnecting);
        client.close();
    });
}

TEST_CASE("session: incoming QoS 2 is delivered once even when the broker sends it again")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);

        const mqtt::packet message = mqtt::publish{"in/2", "once", mqtt::qos::exactly_once, false, false, 7};
        co_await broker.send(message);
        CHECK((co_await broker.expect<mqtt::pubrec>()).packet_id == 7);
        const mqtt::packet again = mqtt::publish{"in/2", "once", mqtt::qos::exactly_once, false, true, 7};
        co_await broker.send(again);
        CHECK((co_await broker.expect<mqtt::pubrec>()).packet_id == 7);
        const mqtt::packet release = mqtt::pubrel{7};
        co_await broker.send(release);
        CHECK((co_await broker.expect<mqtt::pubcomp>()).packet_id == 7);

        const mtls::message first = co_await client.receive();
        CHECK(first.payload == "once");
        auto second = start(io.get_executor(), client.receive());
        co_await settle();
        CHECK_FALSE(second->done);
        client.close();
        co_await settle();
        CHECK(second->error_code().code() == mtls::errc::not_connected);
    });
}

TEST_CASE("session: UNSUBSCRIBE is answered by UNSUBACK, and packet ids are reused once free")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);

        std::set<std::uint16_t> ids;
        for (int round = 0; round < 3; ++round) {
            auto subscribed = start(io.get_executor(), client.subscribe("a/+", mqtt::qos::at_least_once));
            const mqtt::subscribe s = co_await broker.expect<mqtt::subscribe>();
            REQUIRE(s.subscriptions.size() == 1);
            CHECK(s.subscriptions[0].topic_filter == "a/+");
            const mqtt::packet granted = mqtt::suback{s.packet_id, {1}};
            co_await broker.send(granted);
            co_await settle();
            REQUIRE(subscribed->succeeded());
            CHECK(*subscribed->value == mqtt::qos::at_least_once);

            auto unsubscribed = start(io.get_executor(), client.unsubscribe("a/+"));
            const mqtt::unsubscribe u = co_await broker.expect<mqtt::unsubscribe>();
            CHECK(u.topic_filters == std::vector<std::string>{"a/+"});
            CHECK(u.packet_id != s.packet_id); // SUBSCRIBE's id was free again, but ids advance
            co_await settle();
            CHECK_FALSE(unsubscribed->done);
            const mqtt::packet done = mqtt::unsuback{u.packet_id};
            co_await broker.send(done);
            co_await settle();
            CHECK(unsubscribed->succeeded());
            ids.insert(s.packet_id);
            ids.insert(u.packet_id);
        }
        CHECK(ids.size() == 6);
        CHECK(*ids.begin() == 1);
        client.close();
    });
}

TEST_CASE("session: at most max_in_flight QoS 1 messages wait for PUBACK; the rest wait in the queue")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.max_in_flight = 2;
        broker_connection broker = co_await connect(client, listener, o);

        std::vector<mtls::test::outcome_ptr<std::monostate>> sent;
        for (int i = 0; i < 5; ++i)
            sent.push_back(start(io.get_executor(), client.publish("t/1", std::to_string(i), mqtt::qos::at_least_once)));
        const mqtt::publish first = co_await broker.expect<mqtt::publish>();
        const mqtt::publish second = co_await broker.expect<mqtt::publish>();
        co_await settle();
        CHECK_FALSE(broker.has_input()); // the third waits for room
        CHECK(client.in_flight() == 2);
        CHECK(client.queued_messages() == 3);
        CHECK(first.payload == "0");
        CHECK(second.payload == "1");

        const mqtt::packet ack = mqtt::puback{first.packet_id};
        co_await broker.send(ack);
        const mqtt::publish third = co_await broker.expect<mqtt::publish>();
        CHECK(third.payload == "2");
        CHECK(third.packet_id != second.packet_id);
        co_await settle();
        CHECK(sent[0]->succeeded());
        CHECK_FALSE(sent[1]->done);
        CHECK(client.queued_messages() == 2);
        client.close();
        co_await settle();
        for (int i = 1; i < 5; ++i)
            CHECK(sent[i]->error_code().code() == mtls::errc::not_connected);
    });
}

namespace {

// Connected with one subscription, a QoS 1 message waiting for PUBACK and a QoS 2 message whose
// PUBREC came; then the connection is lost and the backoff passes.
struct lost_mid_flight {
    mtls::test::outcome_ptr<std::monostate> qos1, qos2;
    mqtt::publish p1, p2;
};

asio::awaitable<lost_mid_flight> lose_mid_flight(asio::io_context& io, memory_client& client,
                                                 mtls::testing::memory_listener& listener, mtls::connect_options o)
{
    broker_connection broker = co_await connect(client, listener, o);
    auto subscribed = start(io.get_executor(), client.subscribe("cmd/#", mqtt::qos::at_least_once));
    const mqtt::subscribe s = co_await broker.expect<mqtt::subscribe>();
    const mqtt::packet granted = mqtt::suback{s.packet_id, {1}};
    co_await broker.send(granted);

    lost_mid_flight lost;
    lost.qos1 = start(io.get_executor(), client.publish("t/1", "one", mqtt::qos::at_least_once));
    lost.qos2 = start(io.get_executor(), client.publish("t/2", "two", mqtt::qos::exactly_once));
    lost.p1 = co_await broker.expect<mqtt::publish>();
    lost.p2 = co_await broker.expect<mqtt::publish>();
    const mqtt::packet received = mqtt::pubrec{lost.p2.packet_id};
    co_await broker.send(received);
    co_await broker.expect<mqtt::pubrel>();
    broker.close(); // lost before PUBACK of p1 and PUBCOMP of p2
    co_await settle();
    CHECK(client.state() == mtls::connection_state::reconnecting);
    CHECK(client.failure()->code() == mtls::errc::connection_closed);
    CHECK_FALSE(lost.qos1->done);
    CHECK_FALSE(lost.qos2->done);

    co_await advance(999ms);
    CHECK(listener.connections() == 1); // the backoff is not over
    co_await advance(1ms);
    co_return lost;
}

} // namespace

TEST_CASE("session: after a reconnect without a session, every unfinished message goes again as PUBLISH with DUP")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        std::vector<mtls::connection_state> states;
        auto o = options();
        o.on_state_change = [&states](mtls::connection_state s, const std::optional<mtls::error>&) {
            states.push_back(s);
        };
        const lost_mid_flight lost = co_await lose_mid_flight(io, client, listener, o);
        broker_connection again(co_await listener.accept());
        const mqtt::connect hello = co_await again.handshake(0, false); // the broker has no session
        CHECK(hello.clean_session);
        // The QoS 2 message whose PUBREC came is sent again too: the broker dropped it with the
        // old session, and a PUBREL it does not know would only be answered with PUBCOMP.
        std::multiset<mqtt::packet_type> seen;
        std::vector<std::string> payloads;
        for (int i = 0; i < 3; ++i) {
            mqtt::packet packet = co_await again.receive();
            seen.insert(mqtt::type_of(packet));
            if (const auto* p = std::get_if<mqtt::publish>(&packet)) {
                CHECK(p->dup);
                payloads.push_back(p->payload);
                if (p->qos == mqtt::qos::at_least_once) {
                    CHECK(p->packet_id == lost.p1.packet_id);
                    const mqtt::packet ack = mqtt::puback{p->packet_id};
                    co_await again.send(ack);
                } else {
                    CHECK(p->packet_id == lost.p2.packet_id);
                    const mqtt::packet received = mqtt::pubrec{p->packet_id};
                    co_await again.send(received);
                }
            } else if (const auto* sub = std::get_if<mqtt::subscribe>(&packet)) {
                REQUIRE(sub->subscriptions.size() == 1);
                CHECK(sub->subscriptions[0].topic_filter == "cmd/#");
                const mqtt::packet regranted = mqtt::suback{sub->packet_id, {1}};
                co_await again.send(regranted);
            }
        }
        CHECK(seen == std::multiset{mqtt::packet_type::publish, mqtt::packet_type::publish, mqtt::packet_type::subscribe});
        CHECK(payloads == std::vector<std::string>{"one", "two"}); // in the order first sent
        const mqtt::pubrel release = co_await again.expect<mqtt::pubrel>();
        CHECK(release.packet_id == lost.p2.packet_id);
        co_await settle();
        CHECK(lost.qos1->succeeded());
        CHECK_FALSE(lost.qos2->done); // not before this broker's PUBCOMP
        const mqtt::packet complete = mqtt::pubcomp{release.packet_id};
        co_await again.send(complete);
        co_await settle();
        CHECK(lost.qos2->succeeded());
        CHECK(client.connections() == 2);
        CHECK(states == std::vector{mtls::connection_state::connecting, mtls::connection_state::connected,
                                    mtls::connection_state::reconnecting, mtls::connection_state::connected});
        co_await client.disconnect();
        CHECK(client.state() == mtls::connection_state::stopped);
        CHECK_FALSE(client.failure().has_value());
    });
}

TEST_CASE("session: after a reconnect to a session the broker kept, the QoS 2 flow resumes where it was")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.clean_session = false;
        const lost_mid_flight lost = co_await lose_mid_flight(io, client, listener, o);
        broker_connection again(co_await listener.accept());
        const mqtt::connect hello = co_await again.handshake(0, true);
        CHECK_FALSE(hello.clean_session);
        // PUBLISH with DUP for the QoS 1 message, PUBREL for the QoS 2 one; the broker kept the
        // subscriptions, so none is sent.
        const mqtt::publish p = co_await again.expect<mqtt::publish>();
        CHECK(p.dup);
        CHECK(p.packet_id == lost.p1.packet_id);
        const mqtt::pubrel r = co_await again.expect<mqtt::pubrel>();
        CHECK(r.packet_id == lost.p2.packet_id);
        co_await settle();
        CHECK_FALSE(again.has_input());
        const mqtt::packet ack = mqtt::puback{p.packet_id};
        co_await again.send(ack);
        const mqtt::packet complete = mqtt::pubcomp{r.packet_id};
        co_await again.send(complete);
        co_await settle();
        CHECK(lost.qos1->succeeded());
        CHECK(lost.qos2->succeeded());
        client.close();
    });
}

TEST_CASE("session: a subscription the broker refuses to restore is dropped, not retried by reconnecting")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        std::vector<std::string> told;
        auto o = options();
        o.on_state_change = [&told](mtls::connection_state, const std::optional<mtls::error>& e) {
            if (e && e->code() == mtls::errc::subscription_refused)
                told.push_back(e->detail());
        };
        broker_connection broker = co_await connect(client, listener, o);
        auto subscribed = start(io.get_executor(), client.subscribe("gone/#"));
        const mqtt::subscribe s = co_await broker.expect<mqtt::subscribe>();
        const mqtt::packet granted = mqtt::suback{s.packet_id, {0}};
        co_await broker.send(granted);
        broker.close();
        co_await settle();
        co_await advance(1s);
        broker_connection again(co_await listener.accept());
        co_await again.handshake();
        const mqtt::subscribe restore = co_await again.expect<mqtt::subscribe>();
        const mqtt::packet refused = mqtt::suback{restore.packet_id, {mqtt::suback_failure}};
        co_await again.send(refused);
        co_await settle();
        CHECK(client.is_connected());
        REQUIRE(told.size() == 1);
        CHECK(mtls::test::contains(told[0], "gone/#"));
        // The next reconnect does not ask again.
        again.close();
        co_await settle();
        co_await advance(1s);
        broker_connection third(co_await listener.accept());
        co_await third.handshake();
        co_await settle();
        CHECK_FALSE(third.has_input());
        client.close();
    });
}

TEST_CASE("session: the backoff doubles up to its bound, with jitter inside its range")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.reconnect.jitter = 0.5;
        broker_connection broker = co_await connect(client, listener, o);
        listener.set_accepting(false);
        broker.close();
        co_await settle();

        // Expected ceilings: 1, 2, 4, 8, 8 s; each delay within [ceiling / 2, ceiling].
        const std::chrono::milliseconds ceilings[] = {1s, 2s, 4s, 8s, 8s};
        for (const auto ceiling : ceilings) {
            REQUIRE(client.state() == mtls::connection_state::reconnecting);
            const auto wait = *client.next_attempt() - manual_clock::timer_clock::now();
            CHECK(wait >= ceiling / 2);
            CHECK(wait <= ceiling);
            co_await advance(wait);
            CHECK(client.failure()->code() == mtls::errc::connection_refused);
        }
        listener.set_accepting(true);
        co_await advance(*client.next_attempt() - manual_clock::timer_clock::now());
        broker_connection again(co_await listener.accept());
        co_await again.handshake();
        co_await settle();
        CHECK(client.is_connected());
        client.close();
    });
}

// Heap in use, from glibc; AddressSanitizer's allocator does not report it.
#if defined(__SANITIZE_ADDRESS__)
#define C8Y_TEST_HEAP_MEASURED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define C8Y_TEST_HEAP_MEASURED 0
#endif
#endif
#ifndef C8Y_TEST_HEAP_MEASURED
#define C8Y_TEST_HEAP_MEASURED 1
#endif
std::size_t heap_in_use() { return mallinfo2().uordblks; }

TEST_CASE("session: a publish nobody awaits (asio::detached, a callback) holds no coroutine frame while queued")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.send_queue.max_messages = 10'000;
        o.send_queue.max_bytes = 10'000'000;
        broker_connection broker = co_await connect(client, listener, o);
        // The broker acknowledges nothing: past max_in_flight, every publish waits in the queue.
        const std::string topic = "t/queued";
        const std::string payload(32, 'x');
        constexpr int n = 2000;
        int failed = 0;
        for (int i = 0; i < 100; ++i)
            client.publish(topic, payload, mqtt::qos::at_least_once, false, asio::detached);
        co_await settle();

        const std::size_t start = heap_in_use();
        for (int i = 0; i < n; ++i)
            client.publish(topic, payload, mqtt::qos::at_least_once, false, asio::detached);
        co_await settle();
        const std::size_t after_detached = heap_in_use();
        for (int i = 0; i < n; ++i)
            client.publish(topic, payload, mqtt::qos::at_least_once, false,
                           [&failed](std::error_code ec) { failed += ec ? 1 : 0; });
        co_await settle();
        const std::size_t after_callbacks = heap_in_use();
        for (int i = 0; i < n; ++i)
            asio::co_spawn(io, client.publish(topic, payload, mqtt::qos::at_least_once), asio::detached);
        co_await settle();
        const std::size_t after_awaitables = heap_in_use();
        CHECK(client.queued_messages() == 3 * n + 100 - client.in_flight());

        const auto per_message = [](std::size_t from, std::size_t to) {
            return static_cast<double>(to - from) / static_cast<double>(n);
        };
        const double detached = per_message(start, after_detached);
        const double callback = per_message(after_detached, after_callbacks);
        const double awaited = per_message(after_callbacks, after_awaitables);
        MESSAGE("heap per queued message: detached " << detached << ", callback " << callback << ", co_spawned awaitable "
                                                      << awaited << " bytes");
        // The packet (2 + 2 + 8 + 2 + 32 bytes), its queue slot and the waiting handler; a
        // coroutine frame of the SDK's would be hundreds of bytes more, as the awaitable shows.
        const double bound = static_cast<double>(topic.size() + payload.size()) + 64;
        if (C8Y_TEST_HEAP_MEASURED) {
            CHECK(detached <= bound);
            CHECK(callback <= bound);
            CHECK(awaited >= detached + 200);
        }
        client.close();
        co_await settle();
        CHECK(failed == n); // every callback told of the close
    });
}

TEST_CASE("backoff: doubles per failure up to its bound, without overflow, jitter inside its range")
{
    std::minstd_rand rng(7);
    using ms = std::chrono::milliseconds;
    CHECK(mtls::detail::backoff_delay(ms(5), ms(20), 0, 0.0, rng) == ms(5));
    CHECK(mtls::detail::backoff_delay(ms(5), ms(20), 2, 0.0, rng) == ms(20));
    CHECK(mtls::detail::backoff_delay(ms(5), ms(20), 3, 0.0, rng) == ms(20));
    const ms huge = ms::max() - ms(1);
    CHECK(mtls::detail::backoff_delay(ms(1), huge, 200, 0.0, rng) == huge);
    for (unsigned i = 0; i < 100; ++i) {
        const ms d = mtls::detail::backoff_delay(ms(1000), ms(8000), i % 5, 0.25, rng);
        const ms ceiling = std::min(ms(1000 << (i % 5)), ms(8000));
        CHECK(d <= ceiling);
        CHECK(d >= ceiling * 3 / 4);
    }
}

TEST_CASE("session: a refusal that a retry cannot fix stops the client after one attempt")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);
        auto waiting = start(io.get_executor(), client.publish("t/1", "x", mqtt::qos::at_least_once));
        co_await broker.expect<mqtt::publish>();
        broker.close();
        co_await settle();
        co_await advance(1s);
        broker_connection again(co_await listener.accept());
        co_await again.handshake(5); // not authorised
        co_await advance(60s);
        CHECK(listener.connections() == 2);
        CHECK(client.state() == mtls::connection_state::stopped);
        REQUIRE(client.failure().has_value());
        CHECK(client.failure()->code() == mtls::make_connack_error(5));
        CHECK(waiting->error_code().code() == mtls::make_connack_error(5));
        auto late = start(io.get_executor(), client.publish("t/1", "late"));
        co_await settle();
        CHECK(late->error_code().code() == mtls::make_connack_error(5));
        CHECK(mtls::test::contains(late->error_code().detail(), "client id"));
    });
}

TEST_CASE("session: CONNACK 3 (server unavailable) is retried")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);
        broker.close();
        co_await settle();
        co_await advance(1s);
        broker_connection busy(co_await listener.accept());
        co_await busy.handshake(3);
        co_await settle();
        CHECK(client.state() == mtls::connection_state::reconnecting);
        co_await advance(2s);
        broker_connection again(co_await listener.accept());
        co_await again.handshake();
        co_await settle();
        CHECK(client.is_connected());
        client.close();
    });
}

TEST_CASE("session: the send queue holds messages while reconnecting, within its bounds")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.send_queue.max_messages = 3;
        o.send_queue.max_bytes = 1000;
        std::vector<std::string> dropped;
        o.send_queue.on_drop = [&dropped](const mqtt::publish& m) { dropped.push_back(m.payload); };
        broker_connection broker = co_await connect(client, listener, o);
        broker.close();
        co_await settle();
        REQUIRE(client.state() == mtls::connection_state::reconnecting);

        auto q1 = start(io.get_executor(), client.publish("t", "a1", mqtt::qos::at_least_once));
        auto q2 = start(io.get_executor(), client.publish("t", "b2", mqtt::qos::at_most_once));
        auto q3 = start(io.get_executor(), client.publish("t", "c3", mqtt::qos::at_least_once));
        co_await settle();
        CHECK(client.queued_messages() == 3);
        // Each counts its encoded packet (9, 7 and 9 bytes) and the SDK's own overhead.
        CHECK(client.queued_bytes() == 25 + 3 * mtls::queued_message_overhead);
        // Full, and the policy rejects.
        auto refused = start(io.get_executor(), client.publish("t", "d4"));
        co_await settle();
        CHECK(refused->error_code().code() == mtls::errc::send_queue_full);
        CHECK(mtls::test::contains(refused->error_code().detail(), "3 messages"));
        CHECK(dropped.empty());
        CHECK_FALSE(q1->done);
        CHECK_FALSE(q3->done);
        client.close();
    });
}

TEST_CASE("session: drop_oldest_qos0 makes room with the oldest QoS 0 message and says so")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.send_queue.max_messages = 10;
        // Bytes bind first here: two messages of 3-byte payloads fit (9 and 7 bytes of packet,
        // each with the SDK's overhead), a third does not.
        o.send_queue.max_bytes = 2 * mtls::queued_message_overhead + 24;
        o.send_queue.when_full = mtls::queue_full_policy::drop_oldest_qos0;
        std::vector<std::string> dropped;
        o.send_queue.on_drop = [&dropped](const mqtt::publish& m) { dropped.push_back(m.payload); };
        broker_connection broker = co_await connect(client, listener, o);
        broker.close();
        co_await settle();

        auto keep = start(io.get_executor(), client.publish("t", "k1", mqtt::qos::at_least_once)); // 9 + overhead
        auto old = start(io.get_executor(), client.publish("t", "o2", mqtt::qos::at_most_once));   // 7 + overhead
        co_await settle();
        auto young = start(io.get_executor(), client.publish("t", "y3", mqtt::qos::at_most_once)); // does not fit
        co_await settle();
        CHECK(dropped == std::vector<std::string>{"o2"});
        CHECK(old->error_code().code() == mtls::errc::message_dropped);
        CHECK_FALSE(young->done);
        CHECK(client.queued_messages() == 2);
        // A message that would not fit even with every QoS 0 dropped is rejected, and nothing is dropped.
        auto big = start(io.get_executor(), client.publish("t", "qos1-too-big", mqtt::qos::at_least_once));
        co_await settle();
        CHECK(big->error_code().code() == mtls::errc::send_queue_full);
        CHECK(dropped.size() == 1);

        // Back online: the queue drains in order and QoS 1 completes on PUBACK only.
        co_await advance(1s);
        broker_connection again(co_await listener.accept());
        co_await again.handshake();
        const mqtt::publish first = co_await again.expect<mqtt::publish>();
        const mqtt::publish second = co_await again.expect<mqtt::publish>();
        CHECK(first.payload == "k1");
        CHECK(second.payload == "y3");
        co_await settle();
        CHECK(young->succeeded());
        CHECK_FALSE(keep->done);
        const mqtt::packet ack = mqtt::puback{first.packet_id};
        co_await again.send(ack);
        co_await settle();
        CHECK(keep->succeeded());
        CHECK(client.queued_messages() == 0);
        client.close();
    });
}

TEST_CASE("session: keepalive pings when idle and declares the broker dead within 1.5 intervals")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.keepalive = 10s;
        broker_connection broker = co_await connect(client, listener, o);

        co_await advance(9s);
        CHECK_FALSE(broker.has_input());
        co_await advance(1s);
        co_await broker.expect<mqtt::pingreq>();
        const mqtt::packet pong = mqtt::pingresp{};
        co_await broker.send(pong);
        co_await settle();

        co_await advance(10s);
        co_await broker.expect<mqtt::pingreq>(); // no answer this time
        co_await advance(4900ms);
        CHECK(client.is_connected());
        co_await advance(100ms);
        CHECK(client.state() == mtls::connection_state::reconnecting);
        REQUIRE(client.failure().has_value());
        CHECK(client.failure()->code() == mtls::errc::timeout);
        CHECK(mtls::test::contains(client.failure()->detail(), "PINGRESP"));
        client.close();
    });
}

TEST_CASE("session: a broker that never answers CONNECT makes connect() time out")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        auto o = options();
        o.timeout = 5s;
        auto connecting = start(io.get_executor(), client.connect(o));
        broker_connection broker(co_await listener.accept());
        co_await broker.expect<mqtt::connect>();
        co_await advance(4s);
        CHECK_FALSE(connecting->done);
        co_await advance(1s);
        CHECK(connecting->error_code().code() == mtls::errc::connect_timeout);
        CHECK(client.state() == mtls::connection_state::stopped);
    });
}

TEST_CASE("session: cancelling an awaited operation ends it with operation_aborted and withdraws queued messages")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);
        broker.close();
        co_await settle();

        asio::cancellation_signal cancel_publish, cancel_receive;
        std::exception_ptr publish_end, receive_end;
        bool publish_done = false, receive_done = false;
        asio::co_spawn(io, client.publish("t", "queued", mqtt::qos::at_least_once),
                       asio::bind_cancellation_slot(cancel_publish.slot(), [&](std::exception_ptr e) {
                           publish_done = true;
                           publish_end = e;
                       }));
        asio::co_spawn(io, client.receive(),
                       asio::bind_cancellation_slot(cancel_receive.slot(), [&](std::exception_ptr e, mtls::message) {
                           receive_done = true;
                           receive_end = e;
                       }));
        co_await settle();
        CHECK(client.queued_messages() == 1);
        cancel_publish.emit(asio::cancellation_type::terminal);
        cancel_receive.emit(asio::cancellation_type::terminal);
        co_await settle();
        REQUIRE(publish_done);
        REQUIRE(receive_done);
        for (const auto& end : {publish_end, receive_end}) {
            const auto e = mtls::test::thrown_by([&] { std::rethrow_exception(end); });
            REQUIRE(e.has_value());
            CHECK(e->code() == mtls::errc::operation_aborted);
        }
        CHECK(client.queued_messages() == 0);

        co_await advance(1s);
        broker_connection again(co_await listener.accept());
        co_await again.handshake();
        co_await settle();
        CHECK_FALSE(again.has_input()); // the withdrawn message was not sent
        client.close();
    });
}

TEST_CASE("session: disconnect() waits for acknowledgements, then says DISCONNECT")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);
        auto sent = start(io.get_executor(), client.publish("t", "last words", mqtt::qos::at_least_once));
        auto leaving = start(io.get_executor(), client.disconnect(30s));
        const mqtt::publish p = co_await broker.expect<mqtt::publish>();
        co_await settle();
        CHECK_FALSE(leaving->done);
        const mqtt::packet ack = mqtt::puback{p.packet_id};
        co_await broker.send(ack);
        co_await broker.expect<mqtt::disconnect>();
        co_await settle();
        CHECK(sent->succeeded());
        CHECK(leaving->succeeded());
        CHECK(client.state() == mtls::connection_state::stopped);
        CHECK(listener.connections() == 1);

        // With the broker silent, the drain ends at its timeout and the message fails.
        memory_client other = make_client(io);
        broker_connection second = co_await connect(other, listener);
        auto unanswered = start(io.get_executor(), other.publish("t", "never acked", mqtt::qos::at_least_once));
        auto giving_up = start(io.get_executor(), other.disconnect(2s));
        co_await second.expect<mqtt::publish>();
        co_await advance(2s);
        co_await second.expect<mqtt::disconnect>();
        co_await settle();
        CHECK(giving_up->succeeded());
        CHECK(unanswered->error_code().code() == mtls::errc::not_connected);
    });
}

TEST_CASE("session: retry_can_help tells final refusals from passing trouble")
{
    CHECK_FALSE(mtls::retry_can_help(mtls::make_connack_error(5)));
    CHECK_FALSE(mtls::retry_can_help(mtls::make_connack_error(2)));
    CHECK(mtls::retry_can_help(mtls::make_connack_error(3)));
    CHECK_FALSE(mtls::retry_can_help(mtls::make_tls_alert_error(46)));
    CHECK_FALSE(mtls::retry_can_help(mtls::make_tls_alert_error(48)));
    CHECK(mtls::retry_can_help(mtls::make_tls_alert_error(80)));
    CHECK_FALSE(mtls::retry_can_help(mtls::errc::server_not_trusted));
    CHECK_FALSE(mtls::retry_can_help(mtls::errc::server_name_mismatch));
    CHECK(mtls::retry_can_help(mtls::errc::server_certificate_not_yet_valid));
    CHECK(mtls::retry_can_help(mtls::errc::connection_closed));
    CHECK(mtls::retry_can_help(mtls::errc::timeout));
    CHECK(mtls::retry_can_help(mtls::errc::mqtt_malformed_remaining_length));
}

TEST_CASE("session: retry_can_help decides every errc value, and a message that cannot be sent is final")
{
    using mtls::errc;
    // The values a retry cannot fix; every other errc value is worth another attempt.
    const errc final_errors[] = {
        errc::invalid_argument, errc::file_unreadable, errc::pem_malformed, errc::no_certificate,
        errc::private_key_malformed, errc::private_key_password_wrong, errc::private_key_mismatch,
        errc::pkcs12_malformed, errc::pkcs12_password_wrong, errc::truststore_empty, errc::client_id_invalid,
        errc::operation_aborted, errc::server_not_trusted, errc::server_name_mismatch,
        errc::server_certificate_expired, errc::tls_protocol_version, errc::server_key_too_weak,
        errc::server_signature_too_weak, errc::server_certificate_usage, errc::tls_cipher_suite_refused,
        errc::mqtt_payload_too_large, errc::mqtt_invalid_topic, errc::mqtt_invalid_utf8, errc::subscription_refused,
        errc::http_invalid_url, errc::http_invalid_request, errc::smartrest_platform_error, errc::chain_rejected,
        errc::trusted_certificate_malformed, errc::key_generation_failed, errc::common_name_invalid,
        errc::certificate_creation_failed, errc::certificate_request_invalid, errc::keystore_creation_failed,
        errc::bulk_registration_invalid, errc::signing_failed, errc::validity_invalid, errc::platform_refused,
        errc::certificate_already_uploaded, errc::proof_of_possession_rejected, errc::store_unusable,
        errc::store_corrupt, errc::store_incompatible, errc::est_answer_malformed, errc::keystore_malformed,
        errc::keystore_password_wrong, errc::key_password_wrong, errc::keystore_alias_missing,
        errc::keystore_format_unsupported, errc::device_certificate_expired, errc::credentials_unwritable,
        errc::pkcs11_uri_malformed, errc::pkcs11_module_unloadable, errc::pkcs11_token_missing, errc::pkcs11_pin_wrong,
        errc::pkcs11_object_missing, errc::pkcs11_key_unusable, errc::pkcs11_failed,
    };
    int defined = 0;
    for (int value = 0; value < 1000; ++value) {
        const std::error_code code(value, mtls::error_category());
        if (code.message().rfind("unknown c8y.mtls error", 0) == 0)
            continue; // not an errc value
        ++defined;
        CAPTURE(code.message());
        const bool final_error = std::find(std::begin(final_errors), std::end(final_errors),
                                           static_cast<errc>(value)) != std::end(final_errors);
        CHECK(mtls::retry_can_help(code) == !final_error);
    }
    CHECK(defined == 95); // a new errc value is decided in retry_can_help (its switch has no default) and here
}

// ---- the token keeper, on the same scripted broker ----------------------------------------

namespace {

std::string make_jwt(std::chrono::sys_seconds iat, std::chrono::seconds lifetime)
{
    using mtls::detail::base64url_encode;
    const auto seconds = [](std::chrono::sys_seconds t) { return std::to_string(t.time_since_epoch().count()); };
    return base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." +
           base64url_encode(R"({"sub":"session-device","iat":)" + seconds(iat) + R"(,"exp":)" +
                            seconds(iat + lifetime) + "}") +
           "." + base64url_encode("not checked by devices");
}

std::chrono::sys_seconds wall_now()
{
    return std::chrono::time_point_cast<std::chrono::seconds>(manual_clock::now());
}

// Answers the client's token request: SUBSCRIBE s/dat when it comes, then `71,<JWT>` for the
// publish on s/uat. Returns the JWT sent.
asio::awaitable<std::string> answer_token_request(broker_connection& broker, std::chrono::seconds lifetime = 300s)
{
    for (;;) {
        mqtt::packet packet = co_await broker.receive();
        if (const auto* s = std::get_if<mqtt::subscribe>(&packet)) {
            const mqtt::packet granted = mqtt::suback{s->packet_id, {0}};
            co_await broker.send(granted);
            continue;
        }
        const auto* p = std::get_if<mqtt::publish>(&packet);
        REQUIRE(p != nullptr);
        REQUIRE(p->topic == "s/uat");
        std::string jwt = make_jwt(wall_now(), lifetime);
        const mqtt::packet answer = mqtt::publish{"s/dat", "71," + jwt, mqtt::qos::at_most_once, false, false, 0};
        co_await broker.send(answer);
        co_return jwt;
    }
}

} // namespace

TEST_CASE("token keeper: no request before half the lifetime, one after")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        manual_clock::set(std::chrono::sys_seconds(std::chrono::seconds(1767225600)));
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);
        mtls::basic_token_keeper<memory_client> keeper(client);
        keeper.start();
        const std::string first = co_await answer_token_request(broker);
        co_await settle();
        REQUIRE(keeper.last_obtained().has_value());
        CHECK(keeper.last_obtained()->jwt() == first);
        CHECK(keeper.requests() == 1);

        // Due between 150 s (half of 300) and 180 s (plus 10 % jitter).
        const auto due = *keeper.next_refresh() - manual_clock::timer_clock::now();
        CHECK(due >= 150s);
        CHECK(due <= 180s);
        co_await advance(due - 1s);
        CHECK_FALSE(broker.has_input());
        CHECK(keeper.requests() == 1);
        co_await advance(1s);
        const std::string second = co_await answer_token_request(broker);
        co_await settle();
        CHECK(keeper.requests() == 2);
        CHECK(keeper.last_obtained()->jwt() == second);
        CHECK(second != first);
        keeper.stop();
        client.close();
    });
}

TEST_CASE("token keeper: an unanswered request is retried with backoff")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);
        mtls::token_keeper_options o;
        o.answer_timeout = 10s;
        o.retry_initial_delay = 5s;
        o.retry_max_delay = 20s;
        mtls::basic_token_keeper<memory_client> keeper(client, o);
        keeper.start();
        auto first = start(io.get_executor(), keeper.current());

        const mqtt::subscribe s = co_await broker.expect<mqtt::subscribe>();
        const mqtt::packet granted = mqtt::suback{s.packet_id, {0}};
        co_await broker.send(granted);
        CHECK((co_await broker.expect<mqtt::publish>()).topic == "s/uat"); // not answered
        co_await advance(10s);                                             // the answer times out
        co_await advance(4s);
        CHECK_FALSE(broker.has_input());
        co_await advance(1s); // 5 s after the timeout
        CHECK((co_await broker.expect<mqtt::publish>()).topic == "s/uat");
        co_await advance(10s);
        co_await advance(9s);
        CHECK_FALSE(broker.has_input());
        co_await advance(1s); // 10 s after the second timeout: the delay doubled
        const std::string jwt = co_await answer_token_request(broker);
        co_await settle();
        CHECK(keeper.requests() == 3);
        REQUIRE(first->succeeded());
        CHECK(first->value->jwt() == jwt);
        keeper.stop();
        client.close();
    });
}

TEST_CASE("token keeper: after a reconnect past the token's expiry, a fresh token at once")
{
    scenario([](asio::io_context& io) -> asio::awaitable<void> {
        mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
        memory_client client = make_client(io);
        broker_connection broker = co_await connect(client, listener);
        mtls::basic_token_keeper<memory_client> keeper(client);
        keeper.start();
        const std::string first = co_await answer_token_request(broker);
        co_await settle();

        listener.set_accepting(false);
        broker.close();
        co_await settle();
        for (int i = 0; i < 50; ++i) // 400 s offline, the client trying every 8 s at most
            co_await advance(8s);
        CHECK(keeper.last_obtained()->expired_at(wall_now()));
        CHECK(keeper.requests() == 1);
        listener.set_accepting(true);
        co_await advance(8s);
        broker_connection again(co_await listener.accept());
        co_await again.handshake();
        const std::string fresh = co_await answer_token_request(again);
        co_await settle();
        CHECK(fresh != first);
        CHECK(keeper.last_obtained()->jwt() == fresh);
        CHECK(keeper.requests() == 2);
        const mtls::device_token usable = co_await keeper.current();
        CHECK(usable.jwt() == fresh);
        keeper.stop();
        client.close();
    });
}
