// The SDK's operations with completion tokens other than asio::use_awaitable, against the local
// platform (a real mosquitto with mutual TLS and our plugin) and the HTTPS test server:
// callbacks, asio::use_future, asio::experimental::deferred and as_tuple, the detail of a
// failure read with completion_error(), cancellation through a callback's slot, and the
// clients moved.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>

#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/https_server.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace http = c8y::mtls::http;
using namespace std::chrono_literals;
using mtls::test::contains;
using mtls::test::local_platform;
using mtls::test::run;

namespace {

struct environment {
    std::string secret = mtls::test::random_secret();
    local_platform platform{[this] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "tokens-platform";
        o.devices = {"token-a", "token-b"};
        o.secret = secret;
        return o;
    }()};
    mtls::test::https_server server{platform, secret};
};

environment& env()
{
    static environment instance;
    return instance;
}

mtls::credentials device_credentials(const std::string& device)
{
    return mtls::credentials::from_pem_files(env().platform.chain(device), env().platform.key(device),
                                             env().platform.password(device));
}

mtls::truststore server_trust() { return mtls::truststore::from_path(env().platform.server_ca()); }

// A truststore whose CA did not sign the broker's certificate.
mtls::truststore wrong_trust() { return mtls::truststore::from_path(env().platform.dir() / "rogue" / "caCert.pem"); }

mtls::connect_options at_broker()
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = static_cast<std::uint16_t>(env().platform.port());
    o.timeout = 10s;
    return o;
}

http::request get(const std::string& path)
{
    http::request r;
    r.method = "GET";
    r.url = env().server.url(path);
    return r;
}

// Runs `io` until `done` holds (a callback's completion), then stops it.
template <class Done>
void run_until(asio::io_context& io, Done done)
{
    io.restart();
    while (!done() && io.run_one() > 0) {
    }
    REQUIRE(done());
}

// What one callback completion saw.
struct seen {
    bool done = false;
    std::error_code ec;
    std::optional<mtls::error> detail; // completion_error() during the call
};

auto record(seen& s)
{
    return [&s](std::error_code ec, auto&&...) {
        s.done = true;
        s.ec = ec;
        if (const mtls::error* e = mtls::completion_error())
            s.detail = *e;
    };
}

} // namespace

TEST_CASE("completion tokens: callbacks connect, subscribe, publish, receive, get the token and disconnect")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("token-a"), server_trust());
    std::vector<std::string> steps;
    std::optional<mtls::message> received;
    std::optional<mtls::device_token> token;
    bool finished = false;
    const auto fail = [&](const char* step, std::error_code ec) {
        steps.push_back(std::string(step) + " failed: " + ec.message());
        finished = true;
    };

    device.connect(at_broker(), [&](std::error_code ec) {
        if (ec)
            return fail("connect", ec);
        steps.push_back("connected");
        device.subscribe("tokens/callbacks", mtls::mqtt::qos::at_least_once,
                         [&](std::error_code ec, mtls::mqtt::qos granted) {
            if (ec)
                return fail("subscribe", ec);
            steps.push_back("granted " + std::to_string(static_cast<int>(granted)));
            device.receive([&](std::error_code ec, mtls::message m) {
                if (ec)
                    return fail("receive", ec);
                received = std::move(m);
                device.request_token(10s, [&](std::error_code ec, mtls::device_token t) {
                    if (ec)
                        return fail("request_token", ec);
                    token = std::move(t);
                    device.disconnect(5s, [&](std::error_code ec) {
                        if (ec)
                            return fail("disconnect", ec);
                        steps.push_back("disconnected");
                        finished = true;
                    });
                });
            });
            device.publish("tokens/callbacks", "by callback", mtls::mqtt::qos::at_least_once, false,
                           [&](std::error_code ec) {
                               if (ec)
                                   return fail("publish", ec);
                               steps.push_back("published");
                           });
        });
    });
    run_until(io, [&] { return finished; });

    CHECK(steps == std::vector<std::string>{"connected", "granted 1", "published", "disconnected"});
    REQUIRE(received);
    CHECK(received->payload == "by callback");
    REQUIRE(token);
    CHECK(token->subject() == "token-a");
    CHECK(device.state() == mtls::connection_state::stopped);
}

TEST_CASE("completion tokens: a callback reads the whole error of a real failure with completion_error()")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("token-a"), wrong_trust());
    seen connect;
    device.connect(at_broker(), record(connect));
    CHECK(mtls::completion_error() == nullptr);
    run_until(io, [&] { return connect.done; });

    CHECK(connect.ec == mtls::errc::server_not_trusted);
    REQUIRE(connect.detail);
    CHECK(connect.detail->code() == connect.ec);
    CHECK_MESSAGE(contains(connect.detail->detail(), "CN=localhost"), connect.detail->what());
    CHECK(mtls::completion_error() == nullptr); // only during the handler's call

    // publish() completes through the SDK's own waiting handler: the same holds.
    seen publish;
    device.publish("t", "never sent", mtls::mqtt::qos::at_least_once, false, record(publish));
    run_until(io, [&] { return publish.done; });
    CHECK(publish.ec == mtls::errc::server_not_trusted); // the error that stopped the client
    REQUIRE(publish.detail);
    CHECK(contains(publish.detail->detail(), "CN=localhost"));
}

TEST_CASE("completion tokens: std::future with the io_context on another thread")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("token-a"), server_trust());
    mtls::client untrusting(io.get_executor(), device_credentials("token-a"), wrong_trust());
    // The io_context runs on its own thread until the clients are closed on it, however the
    // test ends; they are destroyed after the thread was joined.
    struct runner_thread {
        asio::io_context& io;
        std::vector<mtls::client*> clients;
        asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
        std::thread thread{[this] { io.run(); }};
        ~runner_thread()
        {
            asio::post(io, [this] {
                for (mtls::client* c : clients)
                    c->close();
            });
            work.reset();
            thread.join();
        }
    } runner{io, {&device, &untrusting}};

    device.connect(at_broker(), asio::use_future).get();
    std::future<mtls::mqtt::qos> granted =
        device.subscribe("tokens/futures", mtls::mqtt::qos::at_least_once, asio::use_future);
    CHECK(granted.get() == mtls::mqtt::qos::at_least_once);
    std::future<mtls::message> next = device.receive(asio::use_future);
    device.publish("tokens/futures", "by future", mtls::mqtt::qos::at_least_once, false, asio::use_future).get();
    CHECK(next.get().payload == "by future");
    const mtls::device_token token = device.request_token(10s, asio::use_future).get();
    CHECK(token.subject() == "token-a");
    // The future rethrows the c8y::mtls::error itself, detail and all.
    CHECK_ERROR(device.publish("bad/+/topic", "", mtls::mqtt::qos::at_most_once, false, asio::use_future).get(),
                mtls::errc::mqtt_invalid_topic, "+");
    device.disconnect(5s, asio::use_future).get();

    CHECK_ERROR(untrusting.connect(at_broker(), asio::use_future).get(), mtls::errc::server_not_trusted,
                "CN=localhost");
}

TEST_CASE("completion tokens: deferred operations start when given their token")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("token-a"), server_trust());
    auto connect = device.connect(at_broker(), asio::experimental::deferred);
    io.restart();
    io.poll();
    CHECK(device.state() == mtls::connection_state::stopped); // nothing started yet

    seen connected;
    std::move(connect)(record(connected));
    run_until(io, [&] { return connected.done; });
    CHECK_FALSE(connected.ec);
    CHECK_FALSE(connected.detail); // a success has no error to read
    CHECK(device.is_connected());

    // A deferred operation awaited: given asio::use_awaitable.
    const mtls::device_token token = run(io, [](mtls::client& d) -> asio::awaitable<mtls::device_token> {
        auto request = d.request_token(10s, asio::experimental::deferred);
        co_return co_await std::move(request)(asio::use_awaitable);
    }(device));
    CHECK(token.subject() == "token-a");
    run(io, device.disconnect());
}

TEST_CASE("completion tokens: as_tuple(use_awaitable) gives the code and value without exceptions")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("token-a"), server_trust());
    run(io, [](mtls::client& d) -> asio::awaitable<void> {
        constexpr auto no_throw = asio::experimental::as_tuple(asio::use_awaitable);
        const auto [connect_ec] = co_await d.connect(at_broker(), no_throw);
        CHECK_FALSE(connect_ec);
        const auto [token_ec, token] = co_await d.request_token(10s, no_throw);
        CHECK_FALSE(token_ec);
        CHECK(token.subject() == "token-a");
        const auto [refused_ec] = co_await d.publish("t", std::string(20000, 'x'), mtls::mqtt::qos::at_most_once,
                                                     false, no_throw);
        CHECK(refused_ec == mtls::errc::mqtt_payload_too_large);
        const auto [disconnect_ec] = co_await d.disconnect(5s, no_throw);
        CHECK_FALSE(disconnect_ec);
    }(device));

    // The awaiting coroutine resumes inside the completion: completion_error() is readable
    // right after the co_await.
    mtls::client untrusting(io.get_executor(), device_credentials("token-a"), wrong_trust());
    const std::string detail = run(io, [](mtls::client& d) -> asio::awaitable<std::string> {
        const auto [ec] = co_await d.connect(at_broker(), asio::experimental::as_tuple(asio::use_awaitable));
        CHECK(ec == mtls::errc::server_not_trusted);
        const mtls::error* e = mtls::completion_error();
        co_return e ? e->detail() : std::string("none");
    }(untrusting));
    CHECK_MESSAGE(contains(detail, "CN=localhost"), detail);
}

TEST_CASE("completion tokens: a callback's cancellation slot cancels receive() and withdraws a queued publish()")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("token-a"), server_trust());
    auto options = at_broker();
    options.max_in_flight = 1; // the second QoS 1 message waits in the store for the first's PUBACK
    run(io, [](mtls::client& d, mtls::connect_options o) -> asio::awaitable<void> {
        co_await d.connect(o);
        co_await d.subscribe("tokens/cancel", mtls::mqtt::qos::at_least_once);
    }(device, options));

    asio::cancellation_signal cancel_receive, cancel_publish;
    seen receive, first, second;
    device.receive(asio::bind_cancellation_slot(cancel_receive.slot(), record(receive)));
    io.restart();
    io.poll();
    cancel_receive.emit(asio::cancellation_type::terminal);
    run_until(io, [&] { return receive.done; });
    CHECK(receive.ec == mtls::errc::operation_aborted);

    // On the executor, as an application's handler would: publish() starts there at once.
    asio::post(io, [&] {
        device.publish("tokens/cancel", "first", mtls::mqtt::qos::at_least_once, false, record(first));
        device.publish("tokens/cancel", "second", mtls::mqtt::qos::at_least_once, false,
                       asio::bind_cancellation_slot(cancel_publish.slot(), record(second)));
        CHECK(device.queued_messages() == 2);
        cancel_publish.emit(asio::cancellation_type::terminal);
    });
    run_until(io, [&] { return first.done && second.done; });
    CHECK_FALSE(first.ec);
    CHECK(second.ec == mtls::errc::operation_aborted);
    REQUIRE(second.detail);
    CHECK(second.detail->detail() == "publish cancelled");
    CHECK(device.queued_messages() == 0);

    // Only the first came back through the subscription.
    const mtls::message m = run(io, device.receive());
    CHECK(m.payload == "first");
    run(io, device.disconnect());
    CHECK(run(io, [](mtls::client& d) -> asio::awaitable<std::size_t> {
              std::size_t left = 0;
              for (;;) {
                  const auto [ec, message] = co_await d.receive(asio::experimental::as_tuple(asio::use_awaitable));
                  if (ec)
                      co_return left;
                  ++left;
              }
          }(device)) == 0);
}

TEST_CASE("completion tokens: the token keeper and the HTTPS client with callbacks and futures")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("token-a"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("token-a"), server_trust());
    mtls::token_keeper keeper(device);
    run(io, device.connect(at_broker()));
    keeper.start();

    seen current;
    std::optional<mtls::device_token> token;
    keeper.current([&](std::error_code ec, mtls::device_token t) {
        record(current)(ec);
        token = std::move(t);
    });
    run_until(io, [&] { return current.done; });
    CHECK_FALSE(current.ec);
    REQUIRE(token);
    CHECK(token->subject() == "token-a");

    seen fetched;
    std::optional<http::response> answer;
    rest.request(get("/fixed"), keeper, [&](std::error_code ec, http::response r) {
        record(fetched)(ec);
        answer = std::move(r);
    });
    run_until(io, [&] { return fetched.done; });
    CHECK_FALSE(fetched.ec);
    REQUIRE(answer);
    CHECK(answer->body == "fixed-length body for token-a");

    // An HTTPS failure with its detail: a URL of another scheme.
    http::request bad = get("/fixed");
    bad.url = "ftp://nowhere";
    seen refused;
    rest.request(bad, record(refused));
    run_until(io, [&] { return refused.done; });
    CHECK(refused.ec == mtls::errc::http_invalid_url);
    REQUIRE(refused.detail);
    CHECK(contains(refused.detail->detail(), "ftp://nowhere"));

    keeper.stop();
    run(io, device.disconnect());
}

TEST_CASE("completion tokens: the clients move, with an operation under way and after")
{
    asio::io_context io;
    mtls::client first(io.get_executor(), device_credentials("token-a"), server_trust());
    seen connected;
    first.connect(at_broker(), record(connected));
    mtls::client moved(std::move(first)); // while connecting
    run_until(io, [&] { return connected.done; });
    CHECK_FALSE(connected.ec);
    CHECK(moved.is_connected());
    CHECK(moved.device_id() == "token-a");

    mtls::client other(io.get_executor(), device_credentials("token-b"), server_trust());
    run(io, other.connect(at_broker()));
    other = std::move(moved); // stops token-b's client, takes token-a's
    CHECK(other.device_id() == "token-a");
    CHECK(other.is_connected());
    const mtls::device_token token = run(io, other.request_token(10s));
    CHECK(token.subject() == "token-a");
    run(io, other.disconnect());

    mtls::https_client rest(io.get_executor(), device_credentials("token-a"), server_trust());
    mtls::https_client moved_rest(std::move(rest));
    CHECK(run(io, moved_rest.request(get("/whoami"))).body == "token-a");
    mtls::https_client assigned(io.get_executor(), device_credentials("token-b"), server_trust());
    assigned = std::move(moved_rest);
    CHECK(run(io, assigned.request(get("/whoami"))).body == "token-a");
    CHECK(assigned.connections_opened() == 1); // the connection moved with the client
}

TEST_CASE("examples: c8y-mtls-callbacks and c8y-mtls-futures take the demo device's steps, and name a failure")
{
    const auto command = [](const std::string& program, const fs::path& server_ca) {
        return "DEVICE_KEY_PASSWORD=" + mtls::test::shell_quote(env().platform.password("token-a")) + " " +
               mtls::test::shell_quote(program) + " localhost " + std::to_string(env().platform.port()) + " " +
               mtls::test::shell_quote(server_ca.string()) + " " +
               mtls::test::shell_quote(env().platform.chain("token-a").string()) + " " +
               mtls::test::shell_quote(env().platform.key("token-a").string()) + " 2>&1";
    };
    for (const std::string program : {C8Y_TEST_CALLBACKS_EXAMPLE, C8Y_TEST_FUTURES_EXAMPLE}) {
        CAPTURE(program);
        int exit_code = -1;
        const std::string output = mtls::test::run_command(command(program, env().platform.server_ca()), &exit_code);
        CHECK_MESSAGE(exit_code == 0, output);
        for (const char* line : {"connected as token-a over TLSv1.", "token for token-a, expires ",
                                 "measurement sent: 200,c8y_Temperature,T,21.5,C", "disconnected"})
            CHECK_MESSAGE(contains(output, line), output);

        const std::string refused =
            mtls::test::run_command(command(program, env().platform.dir() / "rogue" / "caCert.pem"), &exit_code);
        CHECK(exit_code == 1);
        CHECK_MESSAGE(contains(refused, "server certificate not trusted"), refused);
        CHECK_MESSAGE(contains(refused, "CN=localhost"), refused);
    }
}
