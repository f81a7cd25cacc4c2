// Nothing is lost: streams through a TCP proxy of our own that cuts connections with latency,
// blackholes them and fragments them (tests/support/fault_proxy.py), to a persistent-session
// mosquitto_sub connected to the broker directly; a device process killed with SIGKILL again and
// again while its stream spans broker outages, restarted on the same SQLite store; a blackhole
// found by keepalive. Long loops: the test suite runs this program in one build only.
#include <c8y/mtls.hpp>
#include <c8y/mtls/sqlite_store.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "support/async.hpp"
#include "support/broker_streams.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"
#include "support/server_process.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete" // g++ 12 false positive on coroutine frames
#endif

#ifndef C8Y_TEST_CONNECT_CLI
#error "C8Y_TEST_CONNECT_CLI must name c8y-mtls-connect"
#endif

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace mqtt = c8y::mtls::mqtt;
using mtls::test::local_platform;
using mtls::test::run_command;
using mtls::test::server_process;
using mtls::test::shell_quote;
using namespace std::chrono_literals;

namespace {

// A plain certificate-checking broker that keeps sessions across restarts and outages.
local_platform& broker()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "delivery-broker";
        o.devices = {"publisher-0001", "subscriber-0001"};
        o.plugin = false;
        o.persistence = true;
        return o;
    }());
    return instance;
}

const fs::path support_dir = fs::path(C8Y_TEST_SCRIPT_DIR).parent_path() / "tests" / "support";

fs::path output_file(const std::string& name)
{
    static int count = 0;
    return fs::path(C8Y_TEST_WORK_DIR) / ("delivery-" + name + "-" + std::to_string(++count) + ".out");
}

// The fault proxy in front of the broker.
class fault_proxy {
public:
    explicit fault_proxy(const std::string& mode, int latency_ms = 0)
        : process_({"python3", (support_dir / "fault_proxy.py").string(), "--target", std::to_string(broker().port()),
                    "--mode", mode, "--latency-ms", std::to_string(latency_ms)},
                   output_file("proxy-" + mode))
    {
    }
    std::uint16_t port() const { return process_.port(); }
    void blackhole(bool on) const { ::kill(process_.pid(), on ? SIGUSR1 : SIGUSR2); }
    std::string log() const { return process_.output(); }

    /// The times (seconds, the proxy's clock) of the lines starting with `event`.
    std::vector<double> times(const std::string& event) const
    {
        std::vector<double> out;
        std::istringstream lines(log());
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(event + " ", 0) == 0)
                out.push_back(std::stod(line.substr(line.rfind(' ') + 1)));
        return out;
    }

private:
    server_process process_;
};

// A persistent-session mosquitto_sub connected to the broker directly: it reconnects by itself
// through broker outages.
mtls::test::persistent_subscriber collector(const std::string& topic, int qos, const std::string& client_id)
{
    return {broker(), topic, qos, client_id, output_file(client_id)};
}

mtls::client make_client(asio::io_context& io) { return mtls::test::client_of(broker(), io, "publisher-0001"); }

// Publishes m1..mN at `qos` through the proxy, as many at once as the client takes; `midway`
// runs once a third was acknowledged. Counts how often each was reported acknowledged.
asio::awaitable<void> stream(mtls::client& client, mtls::connect_options options, mqtt::qos qos, int total,
                             std::vector<int>& acknowledged, std::function<void()> midway)
{
    options.send_queue.max_messages = static_cast<std::size_t>(total);
    options.send_queue.max_bytes = static_cast<std::size_t>(total) * 256;
    co_await client.connect(options);
    co_await mtls::test::publish_numbered(client, "delivery/stream", qos, total, acknowledged, total / 3,
                                          std::move(midway));
    co_await client.disconnect();
}

struct stream_case {
    mqtt::qos qos;
    bool clean_session;
    int total;
};

// One stream through `proxy`: every message arrives; QoS 2 without clean session exactly once;
// the SDK reports acknowledged exactly the messages that arrived.
void check_stream(fault_proxy& proxy, const stream_case& c, const std::string& name,
                  std::function<void()> midway = nullptr)
{
    CAPTURE(name);
    auto subscriber = collector("delivery/stream", 2, "collector-" + name);
    asio::io_context io;
    mtls::client client = make_client(io);
    mtls::connect_options options;
    options.host = "localhost";
    options.port = proxy.port();
    options.timeout = 5s;
    options.reconnect.initial_delay = 100ms;
    options.reconnect.max_delay = 1s;
    options.clean_session = c.clean_session;
    options.client_id = "d:publisher-0001:" + name; // a session of its own for each stream
    std::vector<int> acknowledged(static_cast<std::size_t>(c.total) + 1, 0);
    mtls::test::run(io, stream(client, options, c.qos, c.total, acknowledged, std::move(midway)));

    std::set<std::string> expected;
    for (int i = 1; i <= c.total; ++i) {
        expected.insert("m" + std::to_string(i));
        CHECK_MESSAGE(acknowledged[static_cast<std::size_t>(i)] == 1, "m" << i << " acknowledged "
                                                                           << acknowledged[static_cast<std::size_t>(i)]
                                                                           << " times");
    }
    const auto counts = subscriber.received(expected);
    int missing = 0, duplicated = 0;
    for (const std::string& p : expected) {
        const auto it = counts.find(p);
        missing += it == counts.end();
        duplicated += it != counts.end() && it->second > 1;
    }
    CHECK(missing == 0);
    CHECK(counts.size() == expected.size()); // acknowledged (all) = arrived, distinct; nothing else arrived
    if (c.qos == mqtt::qos::exactly_once && !c.clean_session)
        CHECK(duplicated == 0);
    MESSAGE(name << ": " << counts.size() << " distinct of " << c.total << ", " << duplicated
                 << " more than once, over " << client.connections() << " connections");
}

const stream_case qos1{mqtt::qos::at_least_once, true, 1000};
const stream_case qos2_clean{mqtt::qos::exactly_once, true, 500};
const stream_case qos2_kept{mqtt::qos::exactly_once, false, 500};

} // namespace

TEST_CASE("delivery: connections cut every 0.5-2 s with 50 ms latency each way lose nothing")
{
    fault_proxy proxy("cut", 50);
    check_stream(proxy, qos1, "cut-qos1");
    check_stream(proxy, qos2_clean, "cut-qos2-clean");
    check_stream(proxy, qos2_kept, "cut-qos2-kept");
    CHECK(proxy.times("cut").size() >= 3);
}

TEST_CASE("delivery: a blackhole (nothing forwarded, sockets kept open) for 2 s loses nothing")
{
    fault_proxy proxy("pass");
    std::vector<std::jthread> resumers; // joined before the proxy goes
    const auto blackhole_for_a_while = [&] {
        proxy.blackhole(true); // the client runs on, into a connection that says nothing
        resumers.emplace_back([&proxy] {
            std::this_thread::sleep_for(2s);
            proxy.blackhole(false);
        });
    };
    check_stream(proxy, qos1, "blackhole-qos1", blackhole_for_a_while);
    check_stream(proxy, qos2_clean, "blackhole-qos2-clean", blackhole_for_a_while);
    check_stream(proxy, qos2_kept, "blackhole-qos2-kept", blackhole_for_a_while);
    CHECK(proxy.times("blackhole on").size() == 3);
}

TEST_CASE("delivery: every byte in a TCP segment of its own loses nothing")
{
    fault_proxy proxy("fragment");
    check_stream(proxy, qos1, "fragment-qos1");
    check_stream(proxy, qos2_clean, "fragment-qos2-clean");
    check_stream(proxy, qos2_kept, "fragment-qos2-kept");
}

TEST_CASE("delivery: c8y-mtls-connect --keepalive 2 finds a blackhole within 1.5 intervals and recovers by itself")
{
    fault_proxy proxy("pass");
    auto subscriber = collector("delivery/keepalive", 1, "collector-keepalive");
    const std::string cli = std::string(C8Y_TEST_CONNECT_CLI) + " --host localhost --port " +
                            std::to_string(proxy.port()) + " --cafile " + shell_quote(broker().server_ca().string()) +
                            " --cert " + shell_quote(broker().chain("publisher-0001").string()) + " --key " +
                            shell_quote(broker().plain_key("publisher-0001").string()) +
                            " --client-id d:publisher-0001:keepalive --keepalive 2 --publish delivery/keepalive --message k"
                            " --count 40 --interval-ms 200";
    server_process device({"sh", "-c", "exec " + cli}, output_file("keepalive-cli"), server_process::no_port);
    std::this_thread::sleep_for(2s);
    proxy.blackhole(true); // the connection open now goes silent for good
    const std::string out = device.finish(60s);
    CHECK_MESSAGE(out.find("published 40 messages at QoS 1 on delivery/keepalive (2 connections)") != std::string::npos,
                  out);
    const auto on = proxy.times("blackhole on");
    const auto accepted = proxy.times("accepted");
    REQUIRE(on.size() == 1);
    REQUIRE(accepted.size() == 2);
    // Dead once 2 s passed without receiving and the PINGRESP's 1 s did too; then the backoff
    // (200 ms at most) and the new connection.
    const double found_after = accepted[1] - on[0];
    MESSAGE("blackhole found and a new connection made " << found_after << " s after it began");
    CHECK(found_after <= 3.0 + 0.2 + 0.8);
    std::set<std::string> expected;
    for (int i = 1; i <= 40; ++i)
        expected.insert("k" + std::to_string(i));
    const auto counts = subscriber.received(expected);
    for (const std::string& p : expected)
        CHECK_MESSAGE(counts.contains(p), p << " never arrived");
}

namespace {

// The payloads of what a store file holds, taken or not.
std::vector<std::string> stored_payloads(const fs::path& file)
{
    mtls::sqlite_store store(file);
    store.limit({});
    std::vector<std::string> payloads;
    auto add = [&](const std::string& packet) {
        mqtt::decoder d(1 << 20);
        d.feed(packet);
        payloads.push_back(std::get<mqtt::publish>(*d.next()).payload);
    };
    for (const auto& m : store.resumable())
        add(m.packet);
    while (auto m = store.take())
        add(m->packet);
    return payloads;
}

} // namespace

TEST_CASE("delivery: kill -9 of the device at random moments of a stream spanning broker outages loses nothing")
{
    constexpr int runs = 20;
    constexpr int per_run = 40;
    auto subscriber = collector("delivery/kill", 1, "collector-kill");
    const fs::path store = fs::path(C8Y_TEST_WORK_DIR) / "delivery-kill.db";
    for (const char* suffix : {"", "-wal", "-shm"})
        fs::remove(store.string() + suffix);
    const std::string cli = std::string(C8Y_TEST_CONNECT_CLI) + " --host localhost --port " +
                            std::to_string(broker().port()) + " --cafile " +
                            shell_quote(broker().server_ca().string()) + " --cert " +
                            shell_quote(broker().chain("publisher-0001").string()) + " --key " +
                            shell_quote(broker().plain_key("publisher-0001").string()) +
                            " --client-id d:publisher-0001:kill --store " + shell_quote(store.string()) +
                            " --publish delivery/kill --qos 1 --interval-ms 25 --timeout 5";
    std::mt19937 rng(1201);
    std::set<std::string> accepted; // every payload publish() took: what stores held or what arrived
    std::map<int, int> highest;      // per run, the highest message index accepted
    int outages = 0;
    for (int run = 1; run <= runs; ++run) {
        CAPTURE(run);
        const std::string prefix = "r" + std::to_string(run) + "-";
        server_process device({"sh", "-c", "exec " + cli + " --message " + prefix + " --count " +
                                               std::to_string(per_run)},
                              output_file("kill-cli"), server_process::no_port);
        const bool outage = run % 3 == 2; // the broker goes away while the device runs, and comes back after the kill
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 500)(rng)));
        if (outage) {
            broker().take_down();
            ++outages;
            std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 700)(rng)));
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 700)(rng)));
        }
        device.kill_now(); // SIGKILL, wherever the device is
        for (const std::string& p : stored_payloads(store))
            accepted.insert(p);
        if (outage)
            broker().bring_up();
    }
    // One more run drains what the last kill left, and exits 0 once all of it was acknowledged.
    int code = -1;
    const std::string last = run_command(cli + " --message final- --count 1 2>&1", &code);
    CHECK_MESSAGE(code == 0, last);
    CHECK(stored_payloads(store).empty());

    std::set<std::string> expected = accepted;
    expected.insert("final-1");
    auto counts = subscriber.received(expected);
    for (const auto& [payload, n] : counts)
        accepted.insert(payload);
    // Each run published its messages in order, each accepted before the next: the accepted ones
    // of a run are 1..K, K the highest seen in a store or at the subscriber.
    for (const std::string& p : accepted) {
        const auto dash = p.find('-');
        if (p[0] == 'r' && dash != std::string::npos) {
            const int run = std::stoi(p.substr(1, dash - 1));
            highest[run] = std::max(highest[run], std::stoi(p.substr(dash + 1)));
        }
    }
    expected.clear();
    for (const auto& [run, k] : highest)
        for (int i = 1; i <= k; ++i)
            expected.insert("r" + std::to_string(run) + "-" + std::to_string(i));
    counts = subscriber.received(expected);
    int missing = 0, duplicated = 0;
    for (const std::string& p : expected) {
        const auto it = counts.find(p);
        if (it == counts.end()) {
            ++missing;
            FAIL_CHECK(p << " was accepted and never arrived");
        } else if (it->second > 1) {
            ++duplicated;
        }
    }
    CHECK(missing == 0);
    CHECK(highest.size() == runs); // every run had messages accepted before its kill
    CHECK(outages >= 6);
    MESSAGE(runs << " runs killed (" << outages << " during broker outages): " << expected.size()
                 << " messages accepted, all arrived, " << duplicated << " more than once");
}
