// The session against a real mosquitto that is restarted, suspended and refuses: messages survive
// broker restarts, a silent broker is found by keepalive, a rejected certificate is not retried.
#include <c8y/mtls.hpp>
#include <c8y/mtls/testing.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "support/async.hpp"
#include "support/broker_streams.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"
#include "support/memory_broker.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete" // g++ 12 false positive on coroutine frames
#endif

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace mqtt = c8y::mtls::mqtt;
using mtls::test::local_platform;
using mtls::test::run_command;
using mtls::test::shell_quote;
using namespace std::chrono_literals;

namespace {

// A plain certificate-checking broker that keeps sessions across restarts.
local_platform& broker()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "session-broker";
        o.devices = {"publisher-0001", "subscriber-0001"};
        o.plugin = false;
        o.persistence = true;
        return o;
    }());
    return instance;
}

mtls::client make_client(asio::io_context& io, const std::string& device = "publisher-0001")
{
    return mtls::test::client_of(broker(), io, device);
}

mtls::connect_options at_broker()
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = static_cast<std::uint16_t>(broker().port());
    o.timeout = 3s;
    o.reconnect.initial_delay = 100ms;
    o.reconnect.max_delay = 1s;
    return o;
}

// A persistent-session mosquitto_sub of this broker, its payloads in a file named after it.
mtls::test::persistent_subscriber subscriber_of(const std::string& topic, int qos, const std::string& client_id,
                                                bool online = true)
{
    return {broker(), topic, qos, client_id, fs::path(C8Y_TEST_WORK_DIR) / (client_id + ".txt"), online};
}

// Publishes `total` messages "m1".."mN" at `qos`, restarting the broker once `restart_after`
// were acknowledged; returns how many times each was reported acknowledged.
asio::awaitable<void> stream_through_restart(mtls::client& client, mtls::connect_options options, mqtt::qos qos,
                                             int total, int restart_after, std::vector<int>& acknowledged)
{
    options.send_queue.max_messages = static_cast<std::size_t>(total);
    co_await client.connect(options);
    bool restarted = false;
    co_await mtls::test::publish_numbered(client, "session/stream", qos, total, acknowledged, restart_after, [&] {
        restarted = true;
        broker().restart(); // blocks the client's thread: the connection dies meanwhile
    });
    CHECK(restarted);
    CHECK(client.connections() >= 2);
    co_await client.disconnect();
}

void check_stream(mqtt::qos qos, bool clean_session, const std::string& subscriber_id, bool subscriber_online)
{
    constexpr int total = 1000;
    auto subscriber = subscriber_of("session/stream", static_cast<int>(qos), subscriber_id, subscriber_online);
    asio::io_context io;
    mtls::client client = make_client(io);
    auto options = at_broker();
    options.clean_session = clean_session;
    options.client_id = "publisher-0001";
    std::vector<int> acknowledged(total + 1, 0);
    mtls::test::run(io, stream_through_restart(client, options, qos, total, 300, acknowledged));
    for (int i = 1; i <= total; ++i)
        CHECK_MESSAGE(acknowledged[static_cast<std::size_t>(i)] == 1, "m" << i << " acknowledged "
                                                                           << acknowledged[static_cast<std::size_t>(i)]
                                                                           << " times");

    if (!subscriber_online)
        subscriber.listen();
    const auto counts = subscriber.received(total);
    int missing = 0, duplicated = 0;
    for (int i = 1; i <= total; ++i) {
        const auto it = counts.find("m" + std::to_string(i));
        if (it == counts.end())
            ++missing;
        else if (it->second > 1)
            ++duplicated;
    }
    CHECK(missing == 0);
    if (qos == mqtt::qos::exactly_once)
        CHECK(duplicated == 0);
    MESSAGE("QoS " << static_cast<int>(qos) << ": " << counts.size() << " distinct messages, " << duplicated
                   << " delivered more than once");
}

} // namespace

TEST_CASE("session broker: a QoS 1 stream of 1000 messages survives a broker restart, each acknowledged once")
{
    check_stream(mqtt::qos::at_least_once, true, "stream-sub-q1", true);
}

TEST_CASE("session broker: a QoS 2 stream of 1000 messages survives a broker restart exactly once")
{
    // A persistent session on both sides: the broker keeps its half of every QoS 2 exchange.
    // The subscriber's session takes the messages while the subscriber is away and it reads
    // them after the stream: a mosquitto_sub connected across the restart can be sent again what
    // it had (mosquitto restores its delivery state from its last save), which is the broker's
    // leg, not the publisher's that this test is about.
    check_stream(mqtt::qos::exactly_once, false, "stream-sub-q2", false);
}

namespace {

asio::awaitable<void> silent_broker(mtls::client& client, std::chrono::milliseconds& detected_after)
{
    auto options = at_broker();
    options.keepalive = 2s;
    options.timeout = 1s;
    co_await client.connect(options);
    co_await client.publish("session/alive", "before", mqtt::qos::at_least_once);
    broker().suspend();
    const auto suspended = std::chrono::steady_clock::now();
    asio::steady_timer poll(client.get_executor());
    while (client.is_connected() && std::chrono::steady_clock::now() - suspended < 10s) {
        poll.expires_after(10ms);
        co_await poll.async_wait(asio::use_awaitable);
    }
    detected_after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - suspended);
    REQUIRE(client.state() == mtls::connection_state::reconnecting);
    CHECK(client.failure()->code() == mtls::errc::timeout);
    broker().resume();
    // Once the broker runs again, the client is back by itself and the session works.
    while (!client.is_connected() && std::chrono::steady_clock::now() - suspended < 30s) {
        poll.expires_after(20ms);
        co_await poll.async_wait(asio::use_awaitable);
    }
    CHECK(client.is_connected());
    co_await client.publish("session/alive", "after", mqtt::qos::at_least_once);
    co_await client.disconnect();
}

} // namespace

TEST_CASE("session broker: keepalive finds a stopped broker within 1.5 intervals, and the client comes back")
{
    asio::io_context io;
    mtls::client client = make_client(io);
    std::chrono::milliseconds detected_after{};
    mtls::test::run(io, silent_broker(client, detected_after));
    MESSAGE("dead broker detected " << detected_after.count() << " ms after SIGSTOP (keepalive 2 s)");
    CHECK(detected_after <= 3000ms + 250ms); // 1.5 x keepalive, plus the poll and scheduling
    CHECK(client.connections() >= 2);
}

namespace {

// TCP that counts its connection attempts.
struct counted_tcp : mtls::asio_tcp_transport {
    using mtls::asio_tcp_transport::asio_tcp_transport;
    static inline int attempts = 0;
    asio::awaitable<void> connect(std::string_view host, std::uint16_t port)
    {
        ++attempts;
        co_await mtls::asio_tcp_transport::connect(host, port);
    }
};

} // namespace

TEST_CASE("session broker: a certificate the broker rejects ends the run after one attempt")
{
    asio::io_context io;
    const fs::path rogue = broker().rogue_device_dir();
    mtls::basic_client<counted_tcp> client(
        io.get_executor(),
        mtls::credentials::from_pem_files(rogue / "deviceCertChain.pem", rogue / "deviceKey.pem",
                                          broker().rogue_password()),
        mtls::truststore::from_path(broker().server_ca()));
    counted_tcp::attempts = 0;
    const mtls::error e = mtls::test::failure_of(io, client.connect(at_broker()));
    CHECK(e.code().category() == mtls::tls_alert_category());
    CHECK_FALSE(mtls::retry_can_help(e.code()));
    CHECK(client.state() == mtls::connection_state::stopped);
    // Give a retry loop every chance to show itself: ten backoff delays.
    io.restart();
    io.run_for(1s);
    CHECK(counted_tcp::attempts == 1);
}

TEST_CASE("session broker: c8y-mtls-connect --count keeps publishing through a broker restart")
{
    auto subscriber = subscriber_of("session/cli", 1, "cli-sub");
    const std::string connect = std::string(C8Y_TEST_CONNECT_CLI) + " --host localhost --port " +
                                std::to_string(broker().port()) + " --cafile " +
                                shell_quote(broker().server_ca().string()) + " --cert " +
                                shell_quote(broker().chain("publisher-0001").string()) + " --key " +
                                shell_quote(broker().key("publisher-0001").string()) +
                                " --key-password-env CLI_KEY_PASSWORD --publish session/cli --message n --count 200 "
                                "--qos 1 --interval-ms 10 --timeout 5";
    const std::string status = (fs::path(C8Y_TEST_WORK_DIR) / "cli-status.txt").string();
    fs::remove(status);
    run_command("CLI_KEY_PASSWORD=" + shell_quote(broker().password("publisher-0001")) + " " + connect + " > " +
                shell_quote(status) + ".out 2>&1; echo $? > " + shell_quote(status) + " &");
    std::this_thread::sleep_for(800ms); // a good part of the 2 s run
    broker().restart();
    std::string code;
    for (int tries = 0; tries < 300 && code.empty(); ++tries) {
        std::ifstream in(status);
        std::getline(in, code);
        if (code.empty())
            std::this_thread::sleep_for(100ms);
    }
    std::ifstream out(status + ".out");
    const std::string printed{std::istreambuf_iterator<char>(out), std::istreambuf_iterator<char>()};
    CHECK_MESSAGE(code == "0", printed);
    CHECK(mtls::test::contains(printed, "published 200 messages at QoS 1"));
    const auto counts = subscriber.received(200);
    for (int i = 1; i <= 200; ++i)
        CHECK_MESSAGE(counts.contains("n" + std::to_string(i)), "n" << i << " never arrived");
}

// ---- the token keeper against the local platform ----------------------------------------

namespace {

// The platform with its plugin and the shortest lifespan it allows.
local_platform& token_platform()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "keeper-platform";
        o.devices = {"keeper-0001"};
        o.lifespan = 300;
        return o;
    }());
    return instance;
}

using manual_client = mtls::basic_client<mtls::asio_tcp_transport, mtls::wolfssl_tls, mtls::testing::manual_clock>;

asio::awaitable<void> keep_token(manual_client& client, std::vector<mtls::device_token>& tokens)
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = static_cast<std::uint16_t>(token_platform().port());
    co_await client.connect(o);
    mtls::basic_token_keeper<manual_client> keeper(client);
    keeper.start();
    tokens.push_back(co_await keeper.current());

    // The platform's clock and the device's move together past the refresh time.
    auto next = mtls::test::start(client.get_executor(), keeper.next());
    const auto due = *keeper.next_refresh() - mtls::testing::manual_clock::timer_clock::now();
    // The platform's clock goes a little further than the device's: the device's clock starts
    // 2 s ahead of the system clock and the jitter may be 0, so the platform must not stop short
    // of the half-life it judges by.
    token_platform().advance_clock(std::chrono::ceil<std::chrono::seconds>(due) + 10s);
    co_await mtls::testing::advance(due + 1s);
    asio::steady_timer poll(client.get_executor());
    for (int i = 0; i < 1000 && !next->done; ++i) { // the broker answers in real time
        poll.expires_after(10ms);
        co_await poll.async_wait(asio::use_awaitable);
    }
    REQUIRE(next->succeeded());
    tokens.push_back(*next->value);
    CHECK(keeper.requests() == 2);
    keeper.stop();
    co_await client.disconnect();
}

} // namespace

TEST_CASE("token keeper: the local platform's 300 s token is refreshed after half its lifetime, without waiting")
{
    token_platform(); // its certificates first: the manual clock must not be before they begin
    mtls::testing::manual_clock::set(
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) + 2s);
    asio::io_context io;
    manual_client client(io.get_executor(),
                         mtls::credentials::from_pem_files(token_platform().chain("keeper-0001"),
                                                           token_platform().key("keeper-0001"),
                                                           token_platform().password("keeper-0001")),
                         mtls::truststore::from_path(token_platform().server_ca()));
    std::vector<mtls::device_token> tokens;
    mtls::test::run(io, keep_token(client, tokens));
    REQUIRE(tokens.size() == 2);
    CHECK(tokens[0].lifetime() == 300s);
    CHECK(tokens[1].jwt() != tokens[0].jwt());
    CHECK(tokens[1].issued_at() - tokens[0].issued_at() >= 150s);
    CHECK(tokens[1].subject() == "keeper-0001");
}

TEST_CASE("c8y-mtls-telemetry keeps its token, sends measurements, and stops cleanly on SIGINT")
{
    const std::string device = "keeper-0001";
    const std::string command =
        "CLI_KEY_PASSWORD=" + shell_quote(token_platform().password(device)) + " " +
        std::string(C8Y_TEST_TELEMETRY_CLI) + " --host localhost --port " + std::to_string(token_platform().port()) +
        " --cafile " + shell_quote(token_platform().server_ca().string()) + " --cert " +
        shell_quote(token_platform().chain(device).string()) + " --key " +
        shell_quote(token_platform().key(device).string()) + " --key-password-env CLI_KEY_PASSWORD --interval 1";

    // A bounded run: two measurements, then a clean stop.
    int code = -1;
    const std::string counted = run_command(command + " --count 2 2>&1", &code);
    CHECK_MESSAGE(code == 0, counted);
    CHECK(mtls::test::contains(counted, "token for keeper-0001 until"));
    CHECK(mtls::test::contains(counted, "measurement 2: 200,c8y_Temperature,T,"));
    CHECK(mtls::test::contains(counted, "stopped"));

    // An endless run stopped by SIGINT between two measurements.
    const std::string out = (fs::path(C8Y_TEST_WORK_DIR) / "telemetry.out").string();
    const int pid = std::stoi(run_command(command + " > " + shell_quote(out) + " 2>&1 & echo $!"));
    std::string printed;
    for (int i = 0; i < 100 && !mtls::test::contains(printed, "measurement 2:"); ++i) {
        std::this_thread::sleep_for(100ms);
        std::ifstream in(out);
        printed.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    REQUIRE_MESSAGE(mtls::test::contains(printed, "measurement 2:"), printed);
    ::kill(pid, SIGINT);
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i)
        std::this_thread::sleep_for(50ms);
    std::ifstream in(out);
    printed.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    CHECK_MESSAGE(mtls::test::contains(printed, "signal received: stopping"), printed);
    CHECK_MESSAGE(mtls::test::contains(printed, "stopped"), printed);
}
