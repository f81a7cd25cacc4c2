// The client against the local platform: a real mosquitto with mutual TLS and our plugin,
// certificates made by the platform guide's OpenSSL recipes, mosquitto_pub/_sub as peers.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <filesystem>
#include <fstream>

#include "support/async.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
using mtls::test::failure_of;
using mtls::test::local_platform;
using mtls::test::run;
using mtls::test::run_command;
using mtls::test::shell_quote;

namespace {

constexpr int lifespan = 3600;

// One broker with the platform plugin for the whole program; its PKI is made once.
local_platform& platform()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "platform";
        o.devices = {"device-0001", "device-0002", "bad:cn"};
        o.intermediate_devices = {"via-intermediate"};
        o.lifespan = lifespan;
        return o;
    }());
    return instance;
}

mtls::truststore server_trust() { return mtls::truststore::from_path(platform().server_ca()); }

mtls::credentials pem_credentials(const std::string& device)
{
    return mtls::credentials::from_pem_files(platform().chain(device), platform().key(device),
                                             platform().password(device));
}

mtls::connect_options at_platform(std::string host = "localhost")
{
    mtls::connect_options o;
    o.host = std::move(host);
    o.port = static_cast<std::uint16_t>(platform().port());
    o.timeout = std::chrono::seconds(10);
    return o;
}

template <class Client>
asio::awaitable<mtls::device_token> connect_and_get_token(Client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    mtls::device_token token = co_await device.request_token(std::chrono::seconds(10));
    co_await device.disconnect();
    co_return token;
}

asio::awaitable<void> connect_only(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    co_await device.disconnect();
}

std::string mosquitto_client_flags(const std::string& device)
{
    return " -h localhost -p " + std::to_string(platform().port()) + " --cafile " +
           shell_quote(platform().server_ca().string()) + " --cert " + shell_quote(platform().chain(device).string()) +
           " --key " + shell_quote(platform().plain_key(device).string()) + " -i " + device;
}

void check_token(const mtls::device_token& token, const std::string& device)
{
    CHECK(token.subject() == device);
    CHECK(token.tenant() == "t0");
    CHECK(token.lifetime() == std::chrono::seconds(lifespan));
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    CHECK(token.issued_at() <= now + std::chrono::seconds(5));
    CHECK(token.expires_at() > now);
    CHECK(std::count(token.jwt().begin(), token.jwt().end(), '.') == 2);
}

} // namespace

TEST_CASE("a device with a PEM chain and an encrypted key connects and gets its token")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    const auto token = run(io, connect_and_get_token(device, at_platform()));
    CHECK(device.client_id() == "device-0001");
    check_token(token, "device-0001");
}

TEST_CASE("a device with a PKCS#12 keystore connects as d:<CN> and gets its token")
{
    asio::io_context io;
    mtls::client device(io.get_executor(),
                        mtls::credentials::from_pkcs12_file(platform().keystore("device-0002"),
                                                            platform().password("device-0002")),
                        server_trust());
    auto options = at_platform();
    options.device_prefix = true;
    const auto token = run(io, connect_and_get_token(device, options));
    CHECK(device.client_id() == "d:device-0002");
    check_token(token, "device-0002");
}

TEST_CASE("the platform answers with the current token until half its lifetime passed")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    const auto first = run(io, connect_and_get_token(device, at_platform()));
    const auto second = run(io, connect_and_get_token(device, at_platform()));
    CHECK(first.jwt() == second.jwt());
}

TEST_CASE("TLS 1.2 or newer is negotiated, 1.3 preferred")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    run(io, [](mtls::client& d, mtls::connect_options o) -> asio::awaitable<void> {
        co_await d.connect(o);
        CHECK(d.tls_protocol() == "TLSv1.3");
        co_await d.disconnect();
    }(device, at_platform()));
}

TEST_CASE("interop: mosquitto_sub receives what the SDK publishes, and the SDK what mosquitto_pub sends")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    const std::string sub_flags = mosquitto_client_flags("device-0002");
    const auto received = run(io, [](mtls::client& d, mtls::connect_options o,
                                     std::string flags) -> asio::awaitable<mtls::message> {
        co_await d.connect(o);
        // Retained, so that mosquitto_sub, started after, gets it.
        co_await d.publish("interop/to-sub", "hello from c8y-mtls", mtls::mqtt::qos::at_least_once, true);
        const std::string got = run_command("mosquitto_sub" + flags + " -t interop/to-sub -C 1 -W 10");
        CHECK(got == "hello from c8y-mtls\n");
        CHECK(co_await d.subscribe("interop/to-sdk", mtls::mqtt::qos::at_least_once) ==
              mtls::mqtt::qos::at_least_once);
        run_command("mosquitto_pub" + flags + " -t interop/to-sdk -q 1 -m 'hello from mosquitto_pub'");
        mtls::message m = co_await d.receive();
        // Clear the retained message for later runs.
        co_await d.publish("interop/to-sub", "", mtls::mqtt::qos::at_least_once, true);
        co_await d.disconnect();
        co_return m;
    }(device, at_platform(), sub_flags));
    CHECK(received.topic == "interop/to-sdk");
    CHECK(received.payload == "hello from mosquitto_pub");
    CHECK(received.qos == mtls::mqtt::qos::at_least_once);
}

TEST_CASE("a device chain from a CA the broker does not trust surfaces as the broker's TLS alert")
{
    asio::io_context io;
    const fs::path rogue = platform().rogue_device_dir();
    mtls::client device(io.get_executor(),
                        mtls::credentials::from_pem_files(rogue / "deviceCertChain.pem", rogue / "deviceKey.pem",
                                                          platform().rogue_password()),
                        server_trust());
    const auto e = failure_of(io, connect_only(device, at_platform()));
    CHECK(e.code().category() == mtls::tls_alert_category());
    CHECK(e.code().value() == 48); // OpenSSL's unknown_ca; the platform sends certificate_unknown (46)
    CHECK(std::string(e.what()).find("CA of the device certificate") != std::string::npos);
}

TEST_CASE("a server certificate that no CA of the truststore signed is refused, naming the certificate")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"),
                        mtls::truststore::from_path(platform().dir() / "rogue" / "caCert.pem"));
    const auto e = failure_of(io, connect_only(device, at_platform()));
    CHECK(e.code() == mtls::errc::server_not_trusted);
    CHECK(e.detail().find("CN=localhost") != std::string::npos);
}

TEST_CASE("a server certificate for another name is refused")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    const auto e = failure_of(io, connect_only(device, at_platform("127.0.0.1")));
    CHECK(e.code() == mtls::errc::server_name_mismatch);
    CHECK(e.detail().find("127.0.0.1") != std::string::npos);

    SUBCASE("unless the name to check is given explicitly")
    {
        mtls::tls_options tls;
        tls.server_name = "localhost";
        mtls::client named(io.get_executor(), pem_credentials("device-0001"), server_trust(), tls);
        run(io, connect_only(named, at_platform("127.0.0.1")));
    }
}

TEST_CASE("a client id whose device identifier is not the certificate's CN is refused with CONNACK 5")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    auto options = at_platform();
    options.client_id = "d:device-0002";
    // connect()'s chain check sees it first...
    CHECK(failure_of(io, connect_only(device, options)).code() == mtls::errc::chain_rejected);
    // ...and so does the broker.
    options.validate_chain = false;
    const auto e = failure_of(io, connect_only(device, options));
    CHECK(e.code() == mtls::make_connack_error(5));
    CHECK(std::string(e.what()).find("not authorised") != std::string::npos);
}

TEST_CASE("a certificate whose CN contains ':' cannot name a device")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("bad:cn"), server_trust());
    // The SDK refuses to derive a client id from such a CN...
    const auto local = failure_of(io, connect_only(device, at_platform()));
    CHECK(local.code() == mtls::errc::client_id_invalid);
    // ...the chain check names the CN when a client id is given...
    auto options = at_platform();
    options.client_id = "bad:cn";
    CHECK(failure_of(io, connect_only(device, options)).code() == mtls::errc::chain_rejected);
    // ...and the broker refuses it when sent anyway.
    options.validate_chain = false;
    CHECK(failure_of(io, connect_only(device, options)).code() == mtls::make_connack_error(5));
}

TEST_CASE("a token answer that never comes ends with token_timeout")
{
    local_platform::options o;
    o.dir = fs::path(C8Y_TEST_WORK_DIR) / "plain-broker";
    o.plugin = false;
    local_platform plain(o);
    asio::io_context io;
    mtls::client device(io.get_executor(),
                        mtls::credentials::from_pem_files(plain.chain("device-0001"), plain.key("device-0001"),
                                                          plain.password("device-0001")),
                        mtls::truststore::from_path(plain.server_ca()));
    mtls::connect_options options;
    options.host = "localhost";
    options.port = static_cast<std::uint16_t>(plain.port());
    const auto e = failure_of(io, [](mtls::client& d, mtls::connect_options op) -> asio::awaitable<void> {
        co_await d.connect(op);
        (void)co_await d.request_token(std::chrono::milliseconds(500));
    }(device, options));
    CHECK(e.code() == mtls::errc::token_timeout);
}

TEST_CASE("nothing listening gives connection_refused; a silent server gives connect_timeout")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());

    asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto silent_port = silent.local_endpoint().port();
    asio::ip::tcp::socket accepted(io);
    silent.async_accept(accepted, [](std::error_code) {});

    auto options = at_platform();
    options.port = silent_port;
    options.timeout = std::chrono::milliseconds(300);
    const auto timeout = failure_of(io, connect_only(device, options));
    CHECK(timeout.code() == mtls::errc::connect_timeout);

    silent.close();
    options.timeout = std::chrono::seconds(5);
    const auto refused = failure_of(io, connect_only(device, options));
    CHECK(refused.code() == mtls::errc::connection_refused);
}

TEST_CASE("c8y-mtls-connect: token as JSON, exit codes 0, 1 and 2")
{
    const std::string cli = C8Y_TEST_CONNECT_CLI;
    const std::string common = " --host localhost --port " + std::to_string(platform().port()) + " --cafile " +
                               shell_quote(platform().server_ca().string());
    const std::string env = "DEVICE_PW=" + shell_quote(platform().password("device-0001")) + " ";
    int code = -1;

    const std::string json =
        run_command(env + cli + common + " --keystore " + shell_quote(platform().keystore("device-0001").string()) +
                        " --password-env DEVICE_PW --token --publish s/us --message '200,c8y_Temperature,T,21'",
                    &code);
    CHECK(code == 0);
    CHECK(json.rfind("{\"sub\":\"device-0001\",\"iat\":", 0) == 0);
    CHECK(json.find("\"jwt\":\"ey") != std::string::npos);

    run_command(env + cli + common + " --cert " + shell_quote(platform().chain("device-0001").string()) + " --key " +
                    shell_quote(platform().key("device-0001").string()) +
                    " --key-password-env DEVICE_PW --client-id someone-else 2>/dev/null",
                &code);
    CHECK(code == 1);

    run_command(cli + common + " --keystore /nonexistent.p12 --password-env HOME 2>/dev/null", &code);
    CHECK(code == 2);
    run_command(cli + " --port 99999 2>/dev/null", &code);
    CHECK(code == 2);
    run_command(cli + common + " --cert only-a-cert.pem 2>/dev/null", &code);
    CHECK(code == 2);
}

TEST_CASE("c8y-mtls-connect --log: the SDK's events on stderr, never the password or the token")
{
    const std::string cli = C8Y_TEST_CONNECT_CLI;
    const std::string password = platform().password("device-0001");
    const fs::path err = fs::path(C8Y_TEST_WORK_DIR) / "connect-log.txt";
    int code = -1;
    const std::string json = run_command(
        "DEVICE_PW=" + shell_quote(password) + " " + cli + " --host localhost --port " +
            std::to_string(platform().port()) + " --cafile " + shell_quote(platform().server_ca().string()) +
            " --keystore " + shell_quote(platform().keystore("device-0001").string()) +
            " --password-env DEVICE_PW --token --log debug 2>" + shell_quote(err.string()),
        &code);
    CHECK(code == 0);
    const std::string log = mtls::read_file(err);
    INFO(log);
    CHECK(log.find("c8y-mtls: info: TLS with localhost:") != std::string::npos);
    CHECK(log.find("c8y-mtls: info: CONNACK 0") != std::string::npos);
    CHECK(log.find("c8y-mtls: info: state: stopped") != std::string::npos);
    const auto at = json.find("\"jwt\":\"");
    REQUIRE(at != std::string::npos);
    const std::string jwt = json.substr(at + 7, json.find('"', at + 7) - at - 7);
    REQUIRE(jwt.size() > 40);
    CHECK(log.find(jwt) == std::string::npos);
    CHECK(log.find(password) == std::string::npos);

    run_command(cli + " --host localhost --cafile x --keystore y --password-env HOME --log loud 2>/dev/null", &code);
    CHECK(code == 2);
}

TEST_CASE("c8y-mtls-connect and c8y-mtls-telemetry refuse a directory, a FIFO or a device as a file: exit 2, named")
{
    const fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "not-files";
    fs::remove_all(dir);
    fs::create_directories(dir / "a-directory");
    const fs::path fifo = dir / "a-fifo";
    run_command("mkfifo " + shell_quote(fifo.string()));
    const std::string chain = shell_quote(platform().chain("device-0001").string());
    const std::string key = shell_quote(platform().key("device-0001").string());
    const std::string ca = shell_quote(platform().server_ca().string());
    const std::string env = "DEVICE_PW=" + shell_quote(platform().password("device-0001")) + " ";
    struct bad_file {
        fs::path path;
        std::string why;
    };
    const bad_file files[] = {
        {dir / "a-directory", "is a directory, not a file"},
        {fifo, "is a FIFO (named pipe), not a regular file"},
        {"/dev/zero", "is a device, not a regular file"},
    };
    for (const std::string cli : {C8Y_TEST_CONNECT_CLI, C8Y_TEST_TELEMETRY_CLI}) {
        for (const bad_file& f : files) {
            const std::string bad = shell_quote(f.path.string());
            const std::string common = " --host localhost --port " + std::to_string(platform().port());
            for (const std::string& args :
                 {common + " --cafile " + ca + " --cert " + bad + " --key " + key + " --key-password-env DEVICE_PW",
                  common + " --cafile " + ca + " --cert " + chain + " --key " + bad + " --key-password-env DEVICE_PW",
                  common + " --cafile " + ca + " --keystore " + bad + " --password-env DEVICE_PW",
                  // A directory is a truststore of its own (here an empty one).
                  f.path == files[0].path
                      ? std::string()
                      : common + " --cafile " + bad + " --cert " + chain + " --key " + key + " --key-password-env DEVICE_PW"}) {
                if (args.empty())
                    continue;
                CAPTURE(cli);
                CAPTURE(args);
                int code = -1;
                // Bounded: a CLI that blocked on the FIFO would hang the test without it.
                const std::string out = run_command("timeout 20 env " + env + cli + args + " 2>&1", &code);
                CHECK(code == 2);
                CHECK_MESSAGE(out.find(f.path.string() + ": " + f.why) != std::string::npos, out);
            }
        }
    }
}

TEST_CASE("c8y-mtls-connect: a message that can never be sent fails at once with exit 1, never retried")
{
    const std::string common = " --host localhost --port " + std::to_string(platform().port()) + " --cafile " +
                               shell_quote(platform().server_ca().string()) + " --cert " +
                               shell_quote(platform().chain("device-0001").string()) + " --key " +
                               shell_quote(platform().key("device-0001").string()) + " --key-password-env DEVICE_PW";
    const std::string env = "DEVICE_PW=" + shell_quote(platform().password("device-0001")) + " ";
    struct bad_message {
        std::string flags;
        std::string why;
    };
    const bad_message messages[] = {
        {"--publish '#' --message x", "wildcard"},
        {"--publish 's/+' --message x", "wildcard"},
        {"--publish '' --message x", "empty"},
        {"--publish \"$(printf 's/\\377')\" --message x", "UTF-8"},
        {"--publish s/us --message \"$(head -c 16200 /dev/zero | tr '\\0' x)\"", "16184"},
    };
    for (const bad_message& m : messages) {
        CAPTURE(m.flags);
        int code = -1;
        const std::string out = run_command("timeout 20 env " + env + C8Y_TEST_CONNECT_CLI + common + " " + m.flags + " 2>&1", &code);
        CHECK(code == 1);
        CHECK_MESSAGE(out.find(m.why) != std::string::npos, out);
    }
}

TEST_CASE("keepalive pings keep an idle connection open past 1.5 times the interval")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    auto options = at_platform();
    options.keepalive = std::chrono::seconds(1);
    run(io, [](mtls::client& d, mtls::connect_options o) -> asio::awaitable<void> {
        co_await d.connect(o);
        // mosquitto drops a client that sends nothing for 1.5 keepalive intervals.
        asio::steady_timer idle(co_await asio::this_coro::executor, std::chrono::milliseconds(3200));
        co_await idle.async_wait(asio::use_awaitable);
        CHECK(d.is_connected());
        co_await d.publish("keepalive/check", "still here", mtls::mqtt::qos::at_least_once);
        co_await d.disconnect();
    }(device, options));

    options.keepalive = std::chrono::seconds(70000);
    CHECK(failure_of(io, connect_only(device, options)).code() == mtls::errc::invalid_argument);
}

TEST_CASE("concurrent token requests share one question and get the same token")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0002"), server_trust());
    run(io, [](mtls::client& d, mtls::connect_options o) -> asio::awaitable<void> {
        co_await d.connect(o);
        std::optional<mtls::device_token> second;
        asio::co_spawn(
            co_await asio::this_coro::executor,
            [](mtls::client& c, std::optional<mtls::device_token>& out) -> asio::awaitable<void> {
                out = co_await c.request_token(std::chrono::seconds(10));
            }(d, second),
            asio::detached);
        const mtls::device_token first = co_await d.request_token(std::chrono::seconds(10));
        asio::steady_timer poll(co_await asio::this_coro::executor);
        for (int i = 0; i < 500 && !second; ++i) {
            poll.expires_after(std::chrono::milliseconds(10));
            co_await poll.async_wait(asio::use_awaitable);
        }
        REQUIRE(second.has_value());
        CHECK(first.jwt() == second->jwt());
        co_await d.disconnect();
    }(device, at_platform()));
}

TEST_CASE("the device sends its whole chain: a device below an intermediate CA needs it")
{
    const fs::path dir = platform().intermediate_device_dir("via-intermediate");
    const std::string password = platform().intermediate_password("via-intermediate");
    asio::io_context io;
    {
        // The broker trusts only the root: it can verify the device only through the
        // intermediate the device sends.
        mtls::client device(io.get_executor(),
                            mtls::credentials::from_pem_files(dir / "deviceCertChain.pem", dir / "deviceKey.pem",
                                                              password),
                            server_trust());
        // Three certificates: more than the public cloud's limit of the guide's profile.
        auto options = at_platform();
        options.chain_rules.max_chain_length = 3;
        const auto token = run(io, connect_and_get_token(device, options));
        CHECK(token.subject() == "via-intermediate");
    }
    {
        mtls::client leaf_only(io.get_executor(),
                               mtls::credentials::from_pem_files(dir / "deviceCert.pem", dir / "deviceKey.pem",
                                                                 password),
                               server_trust());
        // connect() names the fault before handshaking...
        const auto checked = failure_of(io, connect_only(leaf_only, at_platform()));
        CHECK(checked.code() == mtls::errc::chain_rejected);
        // ...which the broker confirms with a bare alert when the check is off.
        auto unchecked = at_platform();
        unchecked.validate_chain = false;
        const auto e = failure_of(io, connect_only(leaf_only, unchecked));
        CHECK(e.code().category() == mtls::tls_alert_category());
    }
}

TEST_CASE("a default template is appended to the client id and the broker takes it")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    auto options = at_platform();
    options.default_template = "my-template";
    run(io, connect_only(device, options));
    CHECK(device.client_id() == "d:device-0001:my-template");
}

namespace {

// `openssl s_server` on a free port for the life of the object; its output goes to a file.
class openssl_server {
public:
    openssl_server(const std::string& name, const std::string& extra_flags)
        : output_(fs::path(C8Y_TEST_WORK_DIR) / (name + ".out"))
    {
        asio::io_context io;
        asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
        port_ = probe.local_endpoint().port();
        probe.close();
        const fs::path server = platform().dir() / "server";
        pid_ = run_command("openssl s_server -accept 127.0.0.1:" + std::to_string(port_) + " -cert " +
                           shell_quote((server / "serverCert.pem").string()) + " -key " +
                           shell_quote((server / "serverKey.pem").string()) + " -naccept 1 -www " + extra_flags +
                           " > " + shell_quote(output_.string()) + " 2>&1 & echo $!");
        for (int i = 0; i < 100 && output().find("ACCEPT") == std::string::npos; ++i)
            run_command("sleep 0.05");
    }
    ~openssl_server() { run_command("kill " + pid_ + " 2>/dev/null; true"); }
    std::uint16_t port() const { return port_; }
    std::string output() const
    {
        std::ifstream in(output_);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

private:
    fs::path output_;
    std::uint16_t port_ = 0;
    std::string pid_;
};

} // namespace

TEST_CASE("SNI names the host; none is sent for an IP address")
{
    asio::io_context io;
    mtls::tls_options by_ip;
    by_ip.server_name = "127.0.0.1";
    by_ip.verify_host_name = false;
    for (const bool named : {true, false}) {
        CAPTURE(named);
        openssl_server server(named ? "sni-named" : "sni-ip", "-tlsextdebug");
        mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust(),
                            named ? mtls::tls_options{} : by_ip);
        auto options = at_platform(named ? "localhost" : "127.0.0.1");
        options.port = server.port();
        options.timeout = std::chrono::milliseconds(1500); // s_server -www never answers CONNECT
        CHECK(failure_of(io, connect_only(device, options)).code() == mtls::errc::connect_timeout);
        const std::string seen = server.output();
        CHECK(seen.find("TLS client extension \"supported versions\"") != std::string::npos);
        CHECK((seen.find("TLS client extension \"server name\"") != std::string::npos) == named);
        CHECK((seen.find(".....localhost") != std::string::npos) == named);
    }
}

TEST_CASE("a server that offers only TLS 1.1 is refused")
{
    openssl_server server("tls11", "-tls1_1 -cipher DEFAULT@SECLEVEL=0");
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    auto options = at_platform();
    options.port = server.port();
    const auto e = failure_of(io, connect_only(device, options));
    CHECK(e.code() == mtls::make_tls_alert_error(70));
    CHECK(std::string(e.what()).find("TLS 1.2 or newer") != std::string::npos);
}

TEST_CASE("a message over the platform's 16184-byte limit is refused and the connection stays usable")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    run(io, [](mtls::client& d, mtls::connect_options o) -> asio::awaitable<void> {
        co_await d.connect(o);
        const std::string too_large(16184, 'x');
        std::optional<mtls::error> refused;
        try {
            co_await d.publish("s/us", too_large, mtls::mqtt::qos::at_least_once);
        } catch (const mtls::error& e) {
            refused = e;
        }
        REQUIRE(refused.has_value());
        CHECK(refused->code() == mtls::errc::mqtt_payload_too_large);
        CHECK(d.is_connected());
        co_await d.publish("s/us", "200,c8y_Temperature,T,20", mtls::mqtt::qos::at_least_once);
        co_await d.disconnect();
    }(device, at_platform()));
}

namespace {

// A Transport of the test's own: TCP through Asio, counting the bytes that cross it. It shows
// that TLS rides on whatever Transport the client is given.
struct counting_transport {
    inline static std::size_t bytes_read = 0;
    inline static std::size_t bytes_written = 0;

    explicit counting_transport(asio::any_io_executor ex) : tcp(std::move(ex)) {}
    asio::any_io_executor get_executor() { return tcp.get_executor(); }
    asio::awaitable<void> connect(std::string_view host, std::uint16_t port) { return tcp.connect(host, port); }
    asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer)
    {
        const std::size_t n = co_await tcp.read_some(buffer);
        bytes_read += n;
        co_return n;
    }
    asio::awaitable<void> write(asio::const_buffer buffer)
    {
        co_await tcp.write(buffer);
        bytes_written += buffer.size();
    }
    void close() noexcept { tcp.close(); }

    mtls::asio_tcp_transport tcp;
};
static_assert(mtls::Transport<counting_transport>);

// A Clock stopped in 2100, when every token of today has expired.
struct clock_in_2100 {
    static std::chrono::sys_seconds now() { return std::chrono::sys_days{std::chrono::year{2100} / 1 / 1}; }
};
static_assert(mtls::Clock<clock_in_2100>);

} // namespace

TEST_CASE("TLS and MQTT ride on a Transport of the application's own")
{
    asio::io_context io;
    mtls::basic_client<counting_transport> device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    counting_transport::bytes_read = counting_transport::bytes_written = 0;
    const auto token = run(io, connect_and_get_token(device, at_platform()));
    CHECK(token.subject() == "device-0001");
    // The handshake alone carries the certificates both ways.
    CHECK(counting_transport::bytes_written > 1000);
    CHECK(counting_transport::bytes_read > 1000);
}

TEST_CASE("the Clock policy judges the token: one that expired by the clock's time is refused")
{
    asio::io_context io;
    mtls::basic_client<mtls::asio_tcp_transport, mtls::wolfssl_tls, clock_in_2100> device(
        io.get_executor(), pem_credentials("device-0001"), server_trust());
    auto options = at_platform();
    options.validate_chain = false; // by 2100 the device certificate has expired too
    const auto e = failure_of(io, connect_and_get_token(device, options));
    CHECK(e.code() == mtls::errc::token_expired);
    CHECK(e.detail().find("2100-01-01T00:00:00Z") != std::string::npos);
}

TEST_CASE("close() ends a pending receive() with not_connected")
{
    asio::io_context io;
    mtls::client device(io.get_executor(), pem_credentials("device-0001"), server_trust());
    const auto e = failure_of(io, [](mtls::client& d, mtls::connect_options o) -> asio::awaitable<void> {
        co_await d.connect(o);
        asio::steady_timer later(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
        later.async_wait([&d](std::error_code) { d.close(); });
        (void)co_await d.receive();
    }(device, at_platform()));
    CHECK(e.code() == mtls::errc::not_connected);
}
