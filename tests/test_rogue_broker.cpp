// The client against a rogue broker (tests/support/rogue_broker.py): a TLS server with the
// local platform's certificates that breaks MQTT on purpose. Each fault must end in a
// c8y::mtls::error naming the cause, end the connection, and leave the client able to connect
// again. Run under ASan to show that no fault leaks or corrupts memory.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/check_error.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
using namespace std::chrono_literals;
using mtls::test::local_platform;

namespace {

// The good broker, whose PKI the rogue broker borrows: its server certificate, and its trusted
// CA to check the device's chain.
local_platform& platform()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "rogue-platform";
        o.devices = {"device-0001"};
        return o;
    }());
    return instance;
}

// Bounds every wait of these tests: a client that hangs fails its case instead of the run.
constexpr auto operation_bound = 10s;
// How long the rogue broker waits for the client at each step (and for it to hang up).
constexpr int broker_wait_seconds = 5;

// One run of tests/support/rogue_broker.py with one scenario; killed when destroyed.
class rogue_broker {
public:
    explicit rogue_broker(const std::string& scenario)
        : log_(platform().dir() / ("rogue-" + scenario + ".log"))
    {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0)
            throw std::runtime_error("rogue broker: no pipe");
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        ::posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const std::string script =
            (fs::path(C8Y_TEST_SCRIPT_DIR).parent_path() / "tests" / "support" / "rogue_broker.py").string();
        std::vector<std::string> args = {"python3", script,   "--pki",  platform().dir().string(),
                                         "--scenario", scenario, "--wait", std::to_string(broker_wait_seconds)};
        std::vector<char*> argv;
        for (std::string& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        const int spawned = ::posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        out_ = out[0];
        if (spawned != 0) {
            pid_ = 0;
            throw std::runtime_error("rogue broker: cannot run python3");
        }
        const std::string first = line(5s);
        if (first.empty() || first.find_first_not_of("0123456789") != std::string::npos) {
            stop();
            throw std::runtime_error("rogue broker " + scenario + ": no port, log: " + log());
        }
        port_ = static_cast<std::uint16_t>(std::stoi(first));
    }

    rogue_broker(const rogue_broker&) = delete;
    rogue_broker& operator=(const rogue_broker&) = delete;

    ~rogue_broker() { stop(); }

    std::uint16_t port() const { return port_; }

    /// How the connection ended, as the broker saw it ("client closed the connection", ...),
    /// once the broker has exited; its log when it failed.
    std::string ending()
    {
        const std::string last = line(std::chrono::seconds(broker_wait_seconds) + 5s);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return "rogue broker failed: " + log();
        return last;
    }

private:
    void stop() noexcept
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = 0;
        }
        if (out_ >= 0)
            ::close(out_);
        out_ = -1;
    }

    // The next line of the broker's stdout, waiting at most `bound`; empty at its end.
    std::string line(std::chrono::milliseconds bound)
    {
        const auto deadline = std::chrono::steady_clock::now() + bound;
        for (;;) {
            if (const auto end = buffer_.find('\n'); end != std::string::npos) {
                std::string text = buffer_.substr(0, end);
                buffer_.erase(0, end + 1);
                return text;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                    std::chrono::steady_clock::now());
            pollfd readable{out_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0)
                return {};
            char chunk[256];
            const ssize_t n = ::read(out_, chunk, sizeof chunk);
            if (n <= 0)
                return {};
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    std::string log() const
    {
        std::ifstream in(log_);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    fs::path log_;
    pid_t pid_ = 0;
    int out_ = -1;
    std::uint16_t port_ = 0;
    std::string buffer_;
};

mtls::client make_client(asio::io_context& io)
{
    const local_platform& p = platform();
    return mtls::client(io.get_executor(),
                        mtls::credentials::from_pem_files(p.chain("device-0001"), p.key("device-0001"),
                                                          p.password("device-0001")),
                        mtls::truststore::from_path(p.server_ca()));
}

mtls::connect_options at_port(std::uint16_t port)
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = port;
    o.timeout = 5s;
    // A broker fault ends the run with its error, so that the test sees it (reconnecting after
    // such faults is covered by the session tests).
    o.reconnect.enabled = false;
    return o;
}

// Runs `operation` until it completes, rethrowing its exception, for at most operation_bound.
// An operation still pending then is a hang: the client is closed, which must end it, and the
// hang is reported as a std::runtime_error.
void run_bounded(asio::io_context& io, mtls::client& device, asio::awaitable<void> operation)
{
    struct outcome {
        bool done = false;
        std::exception_ptr failure;
    };
    // Shared with the completion handler, which may outlive this call when the client hangs.
    auto result = std::make_shared<outcome>();
    asio::co_spawn(io, std::move(operation), [result, &io](std::exception_ptr e) {
        result->done = true;
        result->failure = e;
        io.stop();
    });
    io.restart();
    io.run_for(operation_bound);
    if (!result->done) {
        device.close();
        io.restart();
        io.run_for(2s);
        throw std::runtime_error(result->done ? "the operation hung until the client was closed"
                                              : "the operation hung, and closing the client did not end it");
    }
    if (result->failure)
        std::rethrow_exception(result->failure);
}

asio::awaitable<void> connect_only(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
}

asio::awaitable<void> connect_and_receive(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    (void)co_await device.receive();
}

asio::awaitable<void> connect_and_publish(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    std::string topic = "s/us";
    std::string payload = "200,c8y_Temperature,T,21";
    co_await device.publish(topic, payload, mtls::mqtt::qos::at_least_once);
}

asio::awaitable<void> connect_and_subscribe(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    std::string filter = "s/ds";
    (void)co_await device.subscribe(filter, mtls::mqtt::qos::at_least_once);
}

asio::awaitable<void> publish_once(mtls::client& device)
{
    std::string topic = "s/us";
    std::string payload = "200,c8y_Temperature,T,22";
    co_await device.publish(topic, payload, mtls::mqtt::qos::at_least_once);
}

// The whole session against the good broker: the client is as good as new.
asio::awaitable<void> token_and_publish(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    const mtls::device_token token = co_await device.request_token(5s);
    CHECK(token.subject() == "device-0001");
    co_await publish_once(device);
    co_await device.disconnect();
}

void check_usable_again(asio::io_context& io, mtls::client& device)
{
    const mtls::connect_options good = at_port(static_cast<std::uint16_t>(platform().port()));
    CHECK_NOTHROW(run_bounded(io, device, token_and_publish(device, good)));
}

// One fault of the rogue broker and what the client must make of it.
struct fault {
    std::string scenario;
    std::error_code code;
    const char* detail; // a part of the error's detail that names the cause
};

using operation = asio::awaitable<void> (*)(mtls::client&, mtls::connect_options);

// Plays `f` against `device` with `op`; checks the error, that the connection ended for good
// (a later operation throws the same failure) and that the client then works with a good broker.
void check_fault(asio::io_context& io, mtls::client& device, const fault& f, operation op, bool broker_closes)
{
    CAPTURE(f.scenario);
    rogue_broker broker(f.scenario);
    CHECK_ERROR(run_bounded(io, device, op(device, at_port(broker.port()))), f.code, f.detail);
    CHECK_FALSE(device.is_connected());
    const std::optional<mtls::error> failure = device.failure();
    REQUIRE(failure.has_value());
    CHECK(failure->code() == f.code);
    CHECK(mtls::test::contains(failure->what(), f.detail));
    CHECK_ERROR(run_bounded(io, device, publish_once(device)), f.code, f.detail);
    CHECK(broker.ending() == (broker_closes ? "broker closed the connection" : "client closed the connection"));
    check_usable_again(io, device);
}

} // namespace

TEST_CASE("rogue broker: an answer to CONNECT that is not a valid CONNACK fails connect() with its cause")
{
    const fault faults[] = {
        {"http-answer", mtls::errc::mqtt_invalid_flags, "PUBACK at stream offset 0 has fixed-header flags 0x08"},
        {"publish-before-connack", mtls::errc::mqtt_unexpected_packet, "PUBLISH where CONNACK was due"},
        {"connack-return-code-6", mtls::errc::mqtt_invalid_return_code, "return code 6 is not 0..5"},
        {"connack-reserved-flags", mtls::errc::mqtt_invalid_return_code, "acknowledge flags 0x02 set reserved bits"},
        {"remaining-length-of-5-bytes", mtls::errc::mqtt_malformed_remaining_length,
         "CONNACK at stream offset 0 has a remaining length whose fourth byte 0xFF says a fifth follows"},
    };
    asio::io_context io;
    mtls::client device = make_client(io);
    for (const fault& f : faults) {
        CAPTURE(f.scenario);
        rogue_broker broker(f.scenario);
        CHECK_ERROR(run_bounded(io, device, connect_only(device, at_port(broker.port()))), f.code, f.detail);
        CHECK_FALSE(device.is_connected());
        const auto later = mtls::test::thrown_by([&] { run_bounded(io, device, publish_once(device)); });
        REQUIRE(later.has_value());
        CHECK(later->code() == f.code); // a stopped client keeps telling why it stopped
        check_usable_again(io, device);
    }
}

TEST_CASE("rogue broker: malformed and out-of-order packets after CONNACK end the connection with their cause")
{
    const fault faults[] = {
        {"largest-remaining-length", mtls::errc::mqtt_packet_too_large,
         "PUBLISH at stream offset 4 has remaining length 268435455, making a 268435460-byte packet, over the limit "
         "of 16184 bytes"},
        {"second-connack", mtls::errc::mqtt_unexpected_packet, "CONNACK in the middle of the session"},
        {"connack-5-mid-session", mtls::make_connack_error(5), "CONNACK in the middle of the session"},
        {"broker-sends-subscribe", mtls::errc::mqtt_unexpected_packet, "SUBSCRIBE sent by the broker"},
        {"publish-qos-3", mtls::errc::mqtt_invalid_flags, "PUBLISH at stream offset 4 has QoS 3 in its flags"},
        {"publish-dup-with-qos-0", mtls::errc::mqtt_invalid_flags, "has DUP set with QoS 0"},
        {"publish-wildcard-topic", mtls::errc::mqtt_invalid_topic,
         "topic \"s/ds/+\" contains the wildcard '+', which only subscriptions may use"},
        {"publish-topic-not-utf8", mtls::errc::mqtt_invalid_utf8, "is not well-formed UTF-8: an overlong encoding"},
        {"packet-type-0", mtls::errc::mqtt_invalid_packet_type, "first byte 0x00 at stream offset 4 has packet type 0"},
        {"packet-type-15", mtls::errc::mqtt_invalid_packet_type,
         "first byte 0xF0 at stream offset 4 has packet type 15"},
    };
    asio::io_context io;
    mtls::client device = make_client(io);
    for (const fault& f : faults)
        check_fault(io, device, f, connect_and_receive, false);
}

TEST_CASE("rogue broker: a malformed or unexpected acknowledgement fails the pending operation and the connection")
{
    asio::io_context io;
    mtls::client device = make_client(io);
    const fault on_publish[] = {
        {"puback-not-in-flight", mtls::errc::mqtt_unexpected_packet,
         "PUBACK for packet id 30583, which is not in flight"},
        {"puback-packet-id-0", mtls::errc::mqtt_invalid_packet_id, "PUBACK packet id is 0"},
        {"puback-truncated", mtls::errc::mqtt_truncated_packet, "PUBACK ends before its packet id"},
        {"puback-trailing-bytes", mtls::errc::mqtt_trailing_bytes, "PUBACK has 1 byte(s) after its fields"},
    };
    for (const fault& f : on_publish)
        check_fault(io, device, f, connect_and_publish, false);
    const fault on_subscribe{"suback-not-in-flight", mtls::errc::mqtt_unexpected_packet,
                             "SUBACK for packet id 30583, which is not in flight"};
    check_fault(io, device, on_subscribe, connect_and_subscribe, false);
}

TEST_CASE("rogue broker: a broker that hangs up mid-session ends the connection with connection_closed")
{
    const fault faults[] = {
        {"close-without-close-notify", mtls::errc::connection_closed, "during the TLS exchange with localhost"},
        {"half-record", mtls::errc::connection_closed, "during the TLS exchange with localhost"},
    };
    asio::io_context io;
    mtls::client device = make_client(io);
    for (const fault& f : faults)
        check_fault(io, device, f, connect_and_receive, true);
}

namespace {

asio::awaitable<void> receive_two(mtls::client& device, mtls::connect_options options, std::size_t& first_payload)
{
    co_await device.connect(options);
    const mtls::message at_limit = co_await device.receive();
    first_payload = at_limit.payload.size();
    (void)co_await device.receive();
}

} // namespace

TEST_CASE("rogue broker: a packet of exactly 16184 bytes arrives, one byte more ends the connection")
{
    asio::io_context io;
    mtls::client device = make_client(io);
    rogue_broker broker("over-the-size-limit");
    std::size_t first_payload = 0;
    CHECK_ERROR(run_bounded(io, device, receive_two(device, at_port(broker.port()), first_payload)),
                mtls::errc::mqtt_packet_too_large,
                "PUBLISH at stream offset 16188 has remaining length 16182, making a 16185-byte packet, over the "
                "limit of 16184 bytes");
    CHECK(first_payload == 16184 - 3 - 5); // fixed header 3 bytes, topic "big" 5
    CHECK(device.failure().has_value());
    CHECK(broker.ending() == "client closed the connection");
    check_usable_again(io, device);
}

TEST_CASE("rogue broker: a close_notify from the broker is connection_closed, not a failed handshake")
{
    asio::io_context io;
    mtls::client device = make_client(io);
    const fault f{"close-notify-after-connack", mtls::errc::connection_closed, "the server sent close_notify"};
    check_fault(io, device, f, connect_and_receive, true);
}

TEST_CASE("rogue broker: a packet cut short by close_notify is connection_closed naming the unfinished packet")
{
    asio::io_context io;
    mtls::client device = make_client(io);
    rogue_broker broker("half-packet");
    CHECK_ERROR(run_bounded(io, device, connect_and_receive(device, at_port(broker.port()))),
                mtls::errc::connection_closed, "the server sent close_notify with 11 byte(s) of an unfinished packet");
    CHECK(broker.ending() == "broker closed the connection");
    check_usable_again(io, device);
}

TEST_CASE("rogue broker: a connect() that fails on the broker's answer hangs up")
{
    const fault faults[] = {
        {"http-answer", mtls::errc::mqtt_invalid_flags, "PUBACK at stream offset 0"},
        {"publish-before-connack", mtls::errc::mqtt_unexpected_packet, "PUBLISH where CONNACK was due"},
        {"remaining-length-of-5-bytes", mtls::errc::mqtt_malformed_remaining_length, "says a fifth follows"},
    };
    asio::io_context io;
    mtls::client device = make_client(io);
    for (const fault& f : faults) {
        CAPTURE(f.scenario);
        rogue_broker broker(f.scenario);
        CHECK_ERROR(run_bounded(io, device, connect_only(device, at_port(broker.port()))), f.code, f.detail);
        CHECK(broker.ending() == "client closed the connection");
    }
}

TEST_CASE("rogue broker: an acknowledgement of the wrong type ends the connection")
{
    asio::io_context io;
    mtls::client device = make_client(io);
    const fault f{"suback-for-a-publish", mtls::errc::mqtt_unexpected_packet, "SUBACK for packet id 1, which is not in flight"};
    check_fault(io, device, f, connect_and_publish, false);
}

TEST_CASE("rogue broker: is_connected() is false once disconnect() or close() returned")
{
    asio::io_context io;
    mtls::client device = make_client(io);
    const auto good = at_port(static_cast<std::uint16_t>(platform().port()));
    for (int round = 0; round < 3; ++round) {
        run_bounded(io, device, connect_only(device, good));
        CHECK(device.is_connected());
        run_bounded(io, device, [](mtls::client& d) -> asio::awaitable<void> { co_await d.disconnect(); }(device));
        CHECK_FALSE(device.is_connected());
        run_bounded(io, device, connect_only(device, good));
        device.close();
        CHECK_FALSE(device.is_connected());
    }
}
