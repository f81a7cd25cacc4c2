// The HTTPS client against a local HTTPS server (scripts/platform_https.py) that checks the
// Bearer token's HS256 signature with the local platform plugin's secret; the tokens come from
// the local platform (a real mosquitto with the plugin) over MQTT.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <sys/types.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
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
using mtls::test::failure_of;
using mtls::test::https_server;
using mtls::test::random_secret;
using mtls::test::local_platform;
using mtls::test::run;
using mtls::test::run_command;
using mtls::test::shell_quote;

namespace {

struct environment {
    std::string secret = random_secret();
    local_platform platform{[this] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "https-platform";
        o.devices = {"rest-device", "rest-logout", "rest-keeper", "rest-log"};
        o.secret = secret;
        return o;
    }()};
    https_server server{platform, secret};
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

mtls::connect_options at_broker()
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = static_cast<std::uint16_t>(env().platform.port());
    o.timeout = 10s;
    return o;
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Tokens from the local platform over MQTT, the way the device gets them; starts from `seed`
// when one is given, so that a test can hand the client a token the server refuses.
struct platform_tokens {
    mtls::client& device;
    mtls::device_token token{};
    int refreshes = 0;

    asio::awaitable<mtls::device_token> current()
    {
        if (token.empty()) {
            mtls::device_token fresh = co_await device.request_token(10s);
            token = std::move(fresh);
        }
        co_return token;
    }
    asio::awaitable<mtls::device_token> refresh()
    {
        ++refreshes;
        mtls::device_token fresh = co_await device.request_token(10s);
        token = fresh;
        co_return fresh;
    }
};
static_assert(mtls::token_source<platform_tokens>);

// Always the same token, however often it is refreshed.
struct fixed_tokens {
    mtls::device_token token;
    int refreshes = 0;
    asio::awaitable<mtls::device_token> current() { co_return token; }
    asio::awaitable<mtls::device_token> refresh()
    {
        ++refreshes;
        co_return token;
    }
};
static_assert(mtls::token_source<fixed_tokens>);

// A Clock stopped on 2000-01-01: every token of today looks valid to it.
struct clock_in_2000 {
    static std::chrono::sys_seconds now() { return std::chrono::sys_days{std::chrono::year{2000} / 1 / 1}; }
};

http::request get(const std::string& path, const std::string& method = "GET")
{
    http::request r;
    r.method = method;
    r.url = env().server.url(path);
    return r;
}

// The server's counters: connections accepted, 401 answers, requests to a path.
struct server_stats {
    long connections = 0;
    long unauthorized = 0;
    std::string requests_json;
    long requests(const std::string& path) const
    {
        const auto value = mtls::detail::json_member_of(requests_json, path);
        return value ? std::stol(value->raw) : 0;
    }
};

server_stats stats()
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    const http::response r = run(io, rest.request(get("/stats")));
    REQUIRE(r.status == 200);
    server_stats s;
    s.connections = std::stol(mtls::detail::json_member_of(r.body, "connections")->raw);
    s.unauthorized = std::stol(mtls::detail::json_member_of(r.body, "unauthorized")->raw);
    s.requests_json = mtls::detail::json_member_of(r.body, "requests")->raw;
    return s;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration)
{
    const asio::any_io_executor executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

} // namespace

TEST_CASE("REST with the device token: fixed-length and chunked bodies over one kept-alive connection")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    platform_tokens tokens{device};
    const long connections_before = stats().connections;

    run(io, [](mtls::client& d, mtls::https_client& r, platform_tokens& t) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        const http::request fixed = get("/fixed");
        const http::response first = co_await r.request(fixed, t);
        CHECK(first.status == 200);
        CHECK(first.body == "fixed-length body for rest-device");
        CHECK(*first.fields.find("Content-Length") == std::to_string(first.body.size()));

        const http::request chunked = get("/chunked");
        const http::response second = co_await r.request(chunked, t);
        CHECK(second.status == 200);
        CHECK(second.body == "hello chunked world");
        CHECK(*second.fields.find("Transfer-Encoding") == "chunked");
        REQUIRE(second.trailers.find("X-Trailer") != nullptr);
        CHECK(*second.trailers.find("X-Trailer") == "done");

        const http::request head = get("/fixed", "HEAD");
        const http::response third = co_await r.request(head, t);
        CHECK(third.status == 200);
        CHECK(third.body.empty());
        CHECK(*third.fields.find("Content-Length") == "33");

        // The TLS handshake brought the device's chain, as the platform's port 8443 wants it.
        const http::request whoami = get("/whoami");
        const http::response fourth = co_await r.request(whoami);
        CHECK(fourth.body == "rest-device");

        const http::request missing = get("/nowhere");
        const http::response fifth = co_await r.request(missing, t);
        CHECK(fifth.status == 404);
        co_await d.disconnect();
    }(device, rest, tokens));

    CHECK(tokens.refreshes == 0);
    CHECK(rest.connections_opened() == 1);
    CHECK(rest.is_connected());
    CHECK(stats().connections - connections_before == 2); // this test's client, and stats() itself
}

TEST_CASE("request bodies go out with Content-Length or chunked")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    platform_tokens tokens{device};
    run(io, [](mtls::client& d, mtls::https_client& r, platform_tokens& t) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        http::request post = get("/echo", "POST");
        post.body = "200,c8y_Temperature,T,21.5";
        post.fields.add("Content-Type", "text/csv");
        const http::response by_length = co_await r.request(post, t);
        CHECK(by_length.body == post.body);
        CHECK(*by_length.fields.find("X-Request-Framing") == "length:26");

        http::request put = get("/echo", "PUT");
        put.chunked = true;
        put.body = std::string(100000, 'b'); // several TLS records
        const http::response chunked = co_await r.request(put, t);
        CHECK(chunked.body == put.body);
        CHECK(*chunked.fields.find("X-Request-Framing") == "chunked");
        CHECK(*chunked.fields.find("X-Request-Method") == "PUT");
        co_await d.disconnect();
    }(device, rest, tokens));
    CHECK(rest.connections_opened() == 1);
}

TEST_CASE("a token the platform refuses is refreshed once and the request retried")
{
    // The server says the token expired; the client's Clock, stopped in 2000, does not know.
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::basic_https_client<mtls::asio_tcp_transport, mtls::wolfssl_tls, clock_in_2000> rest(
        io.get_executor(), device_credentials("rest-device"), server_trust());
    const std::int64_t now = unix_now();
    platform_tokens tokens{device, mtls::device_token::from_jwt(env().server.mint("rest-device", now - 4000, now - 400))};
    const server_stats before = stats();
    const http::response r = run(
        io, [](mtls::client& d, decltype(rest)& client, platform_tokens& t) -> asio::awaitable<http::response> {
            co_await d.connect(at_broker());
            const http::request fixed = get("/fixed");
            http::response answer = co_await client.request(fixed, t);
            co_await d.disconnect();
            co_return answer;
        }(device, rest, tokens));
    const server_stats after = stats();
    CHECK(r.status == 200);
    CHECK(r.body == "fixed-length body for rest-device");
    CHECK(tokens.refreshes == 1);
    CHECK(after.unauthorized - before.unauthorized == 1);
    CHECK(after.requests("/fixed") - before.requests("/fixed") == 2);
    CHECK(rest.connections_opened() == 1); // the 401 left the connection usable
}

TEST_CASE("a token the Clock says expired is refreshed before it is sent")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    const std::int64_t now = unix_now();
    platform_tokens tokens{device, mtls::device_token::from_jwt(env().server.mint("rest-device", now - 4000, now - 400))};
    const server_stats before = stats();
    const http::response r =
        run(io, [](mtls::client& d, mtls::https_client& client, platform_tokens& t) -> asio::awaitable<http::response> {
            co_await d.connect(at_broker());
            const http::request fixed = get("/fixed");
            http::response answer = co_await client.request(fixed, t);
            co_await d.disconnect();
            co_return answer;
        }(device, rest, tokens));
    const server_stats after = stats();
    CHECK(r.status == 200);
    CHECK(tokens.refreshes == 1);
    CHECK(after.unauthorized == before.unauthorized);
    CHECK(after.requests("/fixed") - before.requests("/fixed") == 1);
}

TEST_CASE("a token with a bad signature: one refresh, one retry, and a second 401 is returned")
{
    const std::int64_t now = unix_now();
    const auto forged =
        mtls::device_token::from_jwt(env().server.mint("rest-device", now, now + 3600, "not-the-plugin-secret"));
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    fixed_tokens tokens{forged};
    const server_stats before = stats();
    const http::response r = run(io, [](mtls::https_client& client, fixed_tokens& t) -> asio::awaitable<http::response> {
        const http::request fixed = get("/fixed");
        co_return co_await client.request(fixed, t);
    }(rest, tokens));
    const server_stats after = stats();
    CHECK(r.status == 401);
    CHECK(r.body.find("signature is invalid") != std::string::npos);
    CHECK(tokens.refreshes == 1);
    CHECK(after.unauthorized - before.unauthorized == 2);
    CHECK(after.requests("/fixed") - before.requests("/fixed") == 2);
}

TEST_CASE("a redirect is returned with its Location, not followed")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    platform_tokens tokens{device};
    const server_stats before = stats();
    run(io, [](mtls::client& d, mtls::https_client& client, platform_tokens& t) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        const http::request redirect = get("/redirect");
        const http::response moved = co_await client.request(redirect, t);
        CHECK(moved.status == 302);
        CHECK(moved.is_redirect());
        REQUIRE(moved.location() != nullptr);
        CHECK(*moved.location() == "/fixed");
        CHECK(moved.body == "see /fixed");
        http::request follow = redirect;
        follow.url = http::url::parse(redirect.url).resolve(*moved.location()).str();
        CHECK(follow.url == env().server.url("/fixed"));
        const http::response target = co_await client.request(follow, t);
        CHECK(target.status == 200);
        co_await d.disconnect();
    }(device, rest, tokens));
    CHECK(stats().requests("/fixed") - before.requests("/fixed") == 1); // only the one the test made
}

TEST_CASE("an oversized body is refused, and the next request gets a fresh connection")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::https_options small;
    small.limits.max_body_bytes = 64 * 1024;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust(), {}, small);
    platform_tokens tokens{device};
    run(io, [](mtls::client& d, mtls::https_client& client, platform_tokens& t) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        const http::request by_length = get("/big?bytes=1000000");
        std::optional<mtls::error> first;
        try {
            (void)co_await client.request(by_length, t);
        } catch (const mtls::error& e) {
            first = e;
        }
        REQUIRE(first.has_value());
        CHECK(first->code() == mtls::errc::http_body_too_large);
        CHECK(first->detail() == "Content-Length 1000000 exceeds the limit of 65536 bytes");
        CHECK_FALSE(client.is_connected());

        const http::request by_chunks = get("/big-chunked?bytes=1000000");
        std::optional<mtls::error> second;
        try {
            (void)co_await client.request(by_chunks, t);
        } catch (const mtls::error& e) {
            second = e;
        }
        REQUIRE(second.has_value());
        CHECK(second->code() == mtls::errc::http_body_too_large);
        CHECK(second->detail().find("takes the body over 65536 bytes") != std::string::npos);

        const http::request fixed = get("/fixed");
        const http::response fine = co_await client.request(fixed, t);
        CHECK(fine.status == 200);
        co_await d.disconnect();
    }(device, rest, tokens));
    CHECK(rest.connections_opened() == 3);
}

TEST_CASE("a malformed response is refused naming the fault; a body ended by the connection is read")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    const auto e = failure_of(io, rest.request(get("/malformed")));
    CHECK(e.code() == mtls::errc::http_malformed_status_line);
    CHECK(e.detail() == "\"HTTP/1.1 2OO OK\": the status code is not 3 digits");

    const http::response old = run(io, rest.request(get("/http10")));
    CHECK(old.status == 200);
    CHECK(old.minor_version == 0);
    CHECK(old.body == "the body ends with the connection");
    CHECK_FALSE(old.keep_alive);
    CHECK_FALSE(rest.is_connected());
}

TEST_CASE("a connection the server closed is replaced: while idle, and after Connection: close")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    platform_tokens tokens{device};
    const long connections_before = stats().connections;
    run(io, [](mtls::client& d, mtls::https_client& client, platform_tokens& t) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        const http::request close_soon = get("/close-after?ms=50");
        const http::response first = co_await client.request(close_soon, t);
        CHECK(first.keep_alive);
        // The server closes the idle connection 50 ms after its answer; the client notices.
        for (int i = 0; i < 250 && client.is_connected(); ++i)
            co_await sleep_for(20ms);
        CHECK_FALSE(client.is_connected());
        const http::request fixed = get("/fixed");
        const http::response second = co_await client.request(fixed, t);
        CHECK(second.status == 200);
        CHECK(client.connections_opened() == 2);

        const http::request close_now = get("/close");
        const http::response third = co_await client.request(close_now, t);
        CHECK_FALSE(third.keep_alive);
        CHECK(*third.fields.find("Connection") == "close");
        CHECK_FALSE(client.is_connected());
        const http::response fourth = co_await client.request(fixed, t);
        CHECK(fourth.status == 200);
        CHECK(client.connections_opened() == 3);
        co_await d.disconnect();
    }(device, rest, tokens));
    CHECK(stats().connections - connections_before == 4);
}

TEST_CASE("a kept-alive connection closed under a request: a GET is sent once more, a POST is not")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-device"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    platform_tokens tokens{device};
    const server_stats before = stats();
    run(io, [](mtls::client& d, mtls::https_client& client, platform_tokens& t) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        const http::request arm = get("/drop-next");
        const http::response armed = co_await client.request(arm, t);
        CHECK(armed.status == 200);
        const http::request fixed = get("/fixed");
        const http::response again = co_await client.request(fixed, t);
        CHECK(again.status == 200);
        CHECK(client.connections_opened() == 2);

        const http::response armed_again = co_await client.request(arm, t);
        CHECK(armed_again.status == 200);
        http::request post = get("/echo", "POST");
        post.body = "400,c8y_Event,sent at most once";
        std::optional<mtls::error> lost;
        try {
            (void)co_await client.request(post, t);
        } catch (const mtls::error& e) {
            lost = e;
        }
        REQUIRE(lost.has_value());
        CHECK(lost->code() == mtls::errc::connection_closed);
        CHECK(lost->detail() == "the server closed the connection without answering");
        CHECK(client.connections_opened() == 2);
        co_await d.disconnect();
    }(device, rest, tokens));
    const server_stats after = stats();
    CHECK(after.requests("/fixed") - before.requests("/fixed") == 2); // dropped once, then answered
    CHECK(after.requests("/echo") - before.requests("/echo") == 1);
}

TEST_CASE("timeouts: a slow answer ends with http_request_timeout, a silent server with connect_timeout")
{
    asio::io_context io;
    mtls::https_options quick;
    quick.request_timeout = 300ms;
    quick.connect_timeout = 300ms;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust(), {}, quick);
    const auto slow = failure_of(io, rest.request(get("/slow?ms=3000")));
    CHECK(slow.code() == mtls::errc::http_request_timeout);
    CHECK(slow.detail().find("GET " + env().server.url("/slow?ms=3000") + ": no complete response within 300 ms") !=
          std::string::npos);
    // The client is usable again at once, on a new connection.
    CHECK(run(io, rest.request(get("/slow?ms=0"))).status == 200);
    CHECK(rest.connections_opened() == 2);

    // A listener that never answers the TLS handshake.
    asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    http::request to_silent;
    to_silent.url = "https://localhost:" + std::to_string(silent.local_endpoint().port()) + "/";
    const auto never = failure_of(io, rest.request(to_silent));
    CHECK(never.code() == mtls::errc::connect_timeout);
    CHECK(never.detail() == "localhost:" + std::to_string(silent.local_endpoint().port()) + " after 300 ms");
}

TEST_CASE("Basic authentication for administrator calls")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    const http::response admitted = run(io, rest.request(get("/admin"), mtls::basic_credentials("admin", "admin-password")));
    CHECK(admitted.status == 200);
    CHECK(admitted.body == "hello admin");
    const http::response refused = run(io, rest.request(get("/admin"), mtls::basic_credentials("admin", "wrong")));
    CHECK(refused.status == 401);
    CHECK(*refused.fields.find("WWW-Authenticate") == "Basic realm=\"Cumulocity\"");

    mtls::basic_credentials spent("admin", "admin-password");
    spent.wipe();
    CHECK(failure_of(io, rest.request(get("/admin"), std::move(spent))).code() == mtls::errc::invalid_argument);
}

TEST_CASE("POST /user/logout: the platform refuses the token afterwards")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-logout"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-logout"), server_trust());
    platform_tokens tokens{device};
    run(io, [](mtls::client& d, mtls::https_client& client, platform_tokens& t) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        const http::request fixed = get("/fixed");
        const http::response before_logout = co_await client.request(fixed, t);
        CHECK(before_logout.status == 200);
        const http::response out = co_await client.logout(env().server.url(""), t);
        CHECK(out.status == 200);
        // The platform hands out the same token until half its lifetime: refreshing cannot help.
        const http::response after = co_await client.request(fixed, t);
        CHECK(after.status == 401);
        CHECK(after.body.find("logged out") != std::string::npos);
        CHECK(t.refreshes == 1);
        co_await d.disconnect();
    }(device, rest, tokens));
    const server_stats s = stats();
    CHECK(s.requests("/user/logout") >= 1);
}

TEST_CASE("concurrent requests take turns on the one connection")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"), server_trust());
    int done = 0;
    std::vector<std::string> bodies;
    for (const char* path : {"/slow?ms=200", "/slow?ms=0", "/whoami"}) {
        asio::co_spawn(io, rest.request(get(path)), [&](std::exception_ptr e, http::response r) {
            CHECK_FALSE(e);
            bodies.push_back(r.body);
            if (++done == 3)
                io.stop();
        });
    }
    io.restart();
    io.run();
    std::sort(bodies.begin(), bodies.end());
    CHECK(bodies == std::vector<std::string>{"rest-device", "slow answer", "slow answer"});
    CHECK(rest.connections_opened() == 1);
}

TEST_CASE("the server certificate is checked as for MQTT: a server the truststore does not know is refused")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), device_credentials("rest-device"),
                            mtls::truststore::from_path(env().platform.dir() / "rogue" / "caCert.pem"));
    const auto e = failure_of(io, rest.request(get("/whoami")));
    CHECK(e.code() == mtls::errc::server_not_trusted);
}

TEST_CASE("c8y-mtls-connect --token --http-get prints the body of a request made with the device's token")
{
    const std::string device = "rest-device";
    const std::string command =
        "CLI_KEY_PASSWORD=" + shell_quote(env().platform.password(device)) + " " +
        std::string(C8Y_TEST_CONNECT_CLI) + " --host localhost --port " + std::to_string(env().platform.port()) +
        " --cafile " + shell_quote(env().platform.server_ca().string()) + " --cert " +
        shell_quote(env().platform.chain(device).string()) + " --key " +
        shell_quote(env().platform.key(device).string()) + " --key-password-env CLI_KEY_PASSWORD --token --timeout 10";
    int code = -1;
    const std::string body = run_command(command + " --http-get " + shell_quote(env().server.url("/fixed")) +
                                             " --http-cafile " + shell_quote(env().platform.server_ca().string()) +
                                             " 2>/dev/null",
                                         &code);
    CHECK(code == 0);
    CHECK_MESSAGE(body.find(device) != std::string::npos, body);
    CHECK(body.find("\"jwt\"") == std::string::npos); // the body alone, not the token

    // A status that is not 2xx: exit 1, the status on stderr.
    const std::string redirected =
        run_command(command + " --http-get " + shell_quote(env().server.url("/redirect")) + " 2>&1 >/dev/null", &code);
    CHECK(code == 1);
    CHECK_MESSAGE(redirected.find("HTTP 302") != std::string::npos, redirected);

    // --http-get without --token is a usage error.
    run_command(std::string(C8Y_TEST_CONNECT_CLI) + " --host localhost --cafile x --cert y --key z --http-get " +
                    shell_quote(env().server.url("/fixed")) + " 2>/dev/null",
                &code);
    CHECK(code == 2);
}

TEST_CASE("the token keeper is the HTTPS client's token source: Bearer from it, a 401 makes it fetch anew once")
{
    static_assert(mtls::token_source<mtls::token_keeper>);
    asio::io_context io;
    mtls::client device(io.get_executor(), device_credentials("rest-keeper"), server_trust());
    mtls::https_client rest(io.get_executor(), device_credentials("rest-keeper"), server_trust());
    run(io, [](mtls::client& d, mtls::https_client& r) -> asio::awaitable<void> {
        co_await d.connect(at_broker());
        mtls::token_keeper keeper(d);
        keeper.start();
        const http::request fixed = get("/fixed");
        const http::response ok = co_await r.request(fixed, keeper);
        CHECK(ok.status == 200);
        CHECK(ok.body == "fixed-length body for rest-keeper");
        CHECK(keeper.requests() == 1);

        // Logged out, the token is refused: the keeper is asked once more (the platform hands
        // out the same token before its half-life, so the retry is refused too and returned).
        const http::response bye = co_await r.logout(env().server.url(""), keeper);
        CHECK(bye.ok());
        const http::response refused = co_await r.request(fixed, keeper);
        CHECK(refused.status == 401);
        CHECK(keeper.requests() == 2);
        keeper.stop();
        co_await d.disconnect();
    }(device, rest));
}

TEST_CASE("the logger hook: a whole session is told, and no password, token or key byte is in it")
{
    const std::string device_id = "rest-log";
    const std::string key_password = env().platform.password(device_id);
    const std::string keystore_password = "keystore-" + random_secret();
    const fs::path keystore = fs::path(C8Y_TEST_WORK_DIR) / "log-keystore.p12";
    int code = -1;
    run_command("openssl pkcs12 -export -in " + shell_quote(env().platform.chain(device_id).string()) + " -inkey " +
                    shell_quote(env().platform.key(device_id).string()) + " -passin pass:" + key_password +
                    " -passout pass:" + keystore_password + " -out " + shell_quote(keystore.string()),
                &code);
    REQUIRE(code == 0);
    const mtls::credentials from_keystore = mtls::credentials::from_pkcs12_file(keystore, keystore_password);
    const std::string key_der(reinterpret_cast<const char*>(from_keystore.private_key().data()),
                              from_keystore.private_key().size());
    REQUIRE(key_der.size() > 32);

    std::string log;
    mtls::logger logger{[&log](mtls::log_level level, std::string_view line) {
                            log += std::string(mtls::to_string(level)) + ": " + std::string(line) + "\n";
                        },
                        mtls::log_level::debug};
    asio::io_context io;
    mtls::client device(io.get_executor(), mtls::credentials::from_pkcs12_file(keystore, keystore_password),
                        server_trust());
    mtls::https_options rest_options;
    rest_options.log = logger;
    mtls::https_client rest(io.get_executor(), device_credentials(device_id), server_trust(), {}, rest_options);
    std::string jwt;
    run(io, [](mtls::client& d, mtls::https_client& r, const mtls::logger& logger,
               std::string& jwt) -> asio::awaitable<void> {
        mtls::connect_options o = at_broker();
        o.log = logger;
        co_await d.connect(o);
        co_await d.subscribe("log/echo", mtls::mqtt::qos::at_least_once);
        co_await d.publish("log/echo", "hello", mtls::mqtt::qos::at_least_once);
        const mtls::message echoed = co_await d.receive();
        CHECK(echoed.payload == "hello");
        mtls::token_keeper_options k;
        k.log = logger;
        mtls::token_keeper keeper(d, k);
        keeper.start();
        const http::request fixed = get("/fixed");
        const http::response ok = co_await r.request(fixed, keeper);
        CHECK(ok.status == 200);
        const mtls::device_token token = co_await keeper.current();
        jwt = token.jwt();
        keeper.stop();
        co_await d.disconnect();
    }(device, rest, logger, jwt));
    INFO(log);

    // What it tells: every step of the session, at its level.
    CHECK(contains(log, "info: connecting to localhost:"));
    CHECK(contains(log, "info: TLS with localhost:" + std::to_string(env().platform.port()) + ": TLSv1.3, TLS_"));
    CHECK(contains(log, "info: CONNACK 0, no session present"));
    CHECK(contains(log, "info: state: connected"));
    CHECK(contains(log, "info: SUBACK for log/echo: QoS 1"));
    CHECK(contains(log, "info: token obtained, valid until 20"));
    CHECK(contains(log, "debug: GET " + env().server.url("/fixed") + ": 200"));
    CHECK(contains(log, "info: state: stopped"));

    // What it never tells: the passwords, the token or any part of it, the private key in any
    // spelling (raw, hex, base64), 16 bytes of it anywhere.
    REQUIRE(jwt.size() > 40);
    CHECK_FALSE(contains(log, key_password));
    CHECK_FALSE(contains(log, keystore_password));
    CHECK_FALSE(contains(log, jwt));
    for (std::string_view part : {std::string_view(jwt).substr(0, jwt.find('.')),
                                  std::string_view(jwt).substr(jwt.rfind('.') + 1)})
        CHECK_FALSE(contains(log, part));
    const std::string spellings[] = {key_der, mtls::detail::hex(std::span(from_keystore.private_key().data(),
                                                                         from_keystore.private_key().size())),
                                     mtls::detail::base64_encode(key_der)};
    for (const std::string& spelled : spellings)
        for (std::size_t at = 0; at + 16 <= spelled.size(); at += 4)
            REQUIRE_FALSE(contains(log, std::string_view(spelled).substr(at, 16)));
}
