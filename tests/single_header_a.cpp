// c8y-mtls: the single header used from two translation units of one program.
//
// Both units include single_include/c8y/mtls.hpp and nothing else of the project, and both use
// the client. A function or variable defined in the headers without `inline` is then defined
// in both object files, and linking fails with a duplicate symbol; a header the amalgamation
// lost or misordered fails the compilation. main() checks what both units computed.
#include <c8y/mtls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

int use_client_in_b();

namespace {

int failures_in_a = 0;

void expect_in_a(bool ok, std::string_view what)
{
    if (!ok) {
        std::cerr << "single_header_a.cpp: " << what << '\n';
        ++failures_in_a;
    }
}

// Every client operation, so that their templates are instantiated in this unit too.
asio::awaitable<void> session_in_a(c8y::mtls::client& client)
{
    c8y::mtls::connect_options options;
    options.host = "localhost";
    co_await client.connect(options);
    const c8y::mtls::device_token token = co_await client.request_token();
    co_await client.subscribe("s/dat");
    co_await client.publish("s/us", "400,c8y_Test,a", c8y::mtls::mqtt::qos::at_least_once);
    const c8y::mtls::message m = co_await client.receive();
    std::cout << m.payload << ' ' << c8y::mtls::format_time(token.expires_at()) << '\n';
    co_await client.disconnect();
}

// The protocol code and the client's constructor, reached through credentials that fail to
// load: no network, no certificate needed.
int use_client_in_a()
{
    asio::io_context io;

    const c8y::mtls::client_id id = c8y::mtls::client_id::parse("d:dev-1");
    expect_in_a(id.connection_type == "d" && id.device_id == "dev-1" && id.default_template.empty(),
                "client_id::parse(\"d:dev-1\")");

    // MQTT 3.1.1 §3.1: fixed header, "MQTT" level 4, clean session, keepalive 60, the client id.
    using namespace std::string_view_literals;
    const std::string wire = c8y::mtls::mqtt::encode(c8y::mtls::mqtt::connect{.client_id = id.str()});
    expect_in_a(wire == "\x10\x13\x00\x04MQTT\x04\x02\x00\x3c\x00\x07" "d:dev-1"sv, "the encoded CONNECT");

    expect_in_a(c8y::mtls::make_error_code(c8y::mtls::errc::timeout).message() == "operation timed out",
                "the message of errc::timeout");
    expect_in_a(c8y::mtls::format_time(std::chrono::sys_seconds{std::chrono::seconds{1767225600}}) ==
                    "2026-01-01T00:00:00Z",
                "format_time of 2026-01-01");

    try {
        auto device = c8y::mtls::credentials::from_pem("", "");
        const auto trust = c8y::mtls::truststore::from_pem("");
        c8y::mtls::client client(io.get_executor(), std::move(device), trust);
        asio::co_spawn(io, session_in_a(client), asio::detached);
        io.run();
        expect_in_a(false, "credentials loaded from empty PEM");
    } catch (const c8y::mtls::error& e) {
        expect_in_a(e.code() == c8y::mtls::errc::no_certificate,
                    std::string("empty PEM credentials: unexpected error ") + e.what());
    }
    return failures_in_a;
}

} // namespace

int main()
{
    const int failures = use_client_in_a() + use_client_in_b();
    if (failures != 0) {
        std::cerr << failures << " check(s) failed\n";
        return 1;
    }
    std::cout << "the single header works from two translation units\n";
    return 0;
}
