// c8y-mtls: second translation unit of the single-header test; see single_header_a.cpp.
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
#include <variant>

namespace {

int failures_in_b = 0;

void expect_in_b(bool ok, std::string_view what)
{
    if (!ok) {
        std::cerr << "single_header_b.cpp: " << what << '\n';
        ++failures_in_b;
    }
}

// Every client operation, so that their templates are instantiated in this unit too.
asio::awaitable<void> session_in_b(c8y::mtls::client& client)
{
    c8y::mtls::connect_options options;
    options.host = "localhost";
    co_await client.connect(options);
    co_await client.subscribe("s/ds");
    co_await client.publish("s/us", "400,c8y_Test,b");
    const c8y::mtls::message m = co_await client.receive();
    const c8y::mtls::device_token token = co_await client.request_token();
    std::cout << m.topic << ' ' << c8y::mtls::format_time(token.expires_at()) << '\n';
    co_await client.disconnect();
}

} // namespace

// Decodes what unit a encodes, and reaches the client's constructor through credentials that
// fail to load: no network, no certificate needed.
int use_client_in_b()
{
    asio::io_context io;

    const std::string wire = c8y::mtls::mqtt::encode(
        c8y::mtls::mqtt::connect{.client_id = c8y::mtls::client_id::parse("d:dev-1").str()});
    c8y::mtls::mqtt::decoder decoder;
    decoder.feed(wire);
    const auto packet = decoder.next();
    expect_in_b(packet && std::holds_alternative<c8y::mtls::mqtt::connect>(*packet) &&
                    std::get<c8y::mtls::mqtt::connect>(*packet).client_id == "d:dev-1",
                "a CONNECT does not decode to what was encoded");

    expect_in_b(c8y::mtls::format_time(std::chrono::sys_seconds{std::chrono::seconds{0}}) == "1970-01-01T00:00:00Z",
                "format_time of the epoch");
    const std::error_code refused = c8y::mtls::errc::connection_refused;
    expect_in_b(refused.category() == c8y::mtls::error_category() && refused.message() == "connection refused",
                "errc::connection_refused as a std::error_code");

    try {
        auto device = c8y::mtls::credentials::from_pem("", "");
        const auto trust = c8y::mtls::truststore::from_pem("");
        c8y::mtls::client client(io.get_executor(), std::move(device), trust);
        asio::co_spawn(io, session_in_b(client), asio::detached);
        io.run();
        expect_in_b(false, "credentials loaded from empty PEM");
    } catch (const c8y::mtls::error& e) {
        expect_in_b(e.code() == c8y::mtls::errc::no_certificate,
                    std::string("empty PEM credentials: unexpected error ") + e.what());
    }
    return failures_in_b;
}
