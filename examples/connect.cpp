// c8y-mtls-connect: connects a device with its certificate, optionally gets its token and
// publishes messages. Other tools drive it: its flags, output and exit codes are stable.
//
//   c8y-mtls-connect --host H [--port P] --cafile TRUSTSTORE [--cafile-password-env VAR]
//       (--cert CHAIN.pem --key KEY.pem [--key-password-env VAR]
//        | --keystore FILE --password-env VAR [--alias NAME] [--key-password-env VAR]
//        | [--cert CHAIN.pem] --pkcs11-module PATH --key-uri URI [--pin-env VAR])
//       [--client-id ID] [--token [--http-get URL [--http-cafile CA.pem]]] [--timeout SECONDS]
//       [--publish TOPIC --message TEXT [--count N] [--qos 0|1|2] [--interval-ms MS]]
//       [--store FILE] [--keepalive SECONDS] [--log debug|info|warning|error]
//
// --keystore takes JKS, PKCS#12 or PEM (told by the content), --cafile a PEM file, a directory or
// a JKS or PKCS#12 truststore (keytool -importcert's). --key-uri names a key that stays in a
// PKCS#11 token (RFC 7512 URI; the PIN in the variable --pin-env names); without --cert, the
// chain is the token's certificate of that key and its issuers there.
// With --http-get, the token is used on REST: URL is requested with `Authorization: Bearer`
// and the response body goes to stdout (instead of the token); a status that is not 2xx is
// printed on stderr and exits 1.
// With --count, the i-th message is TEXT followed by i (from 1); without it, TEXT is sent once.
// Messages go on through broker restarts (the client reconnects by itself). With --store, accepted
// messages wait in that SQLite file until acknowledged: what an earlier run accepted and did not
// deliver goes first, and --count counts only the new ones.
// Exit 0 on success (every message acknowledged at QoS 1/2, written at QoS 0); 1 when the
// connection, handshake, broker, token or a message fails (one line on stderr naming the
// cause); 2 for bad arguments or unreadable files.
// With --log, the SDK's events at that level and above go to stderr, one per line, prefixed with
// "c8y-mtls: LEVEL: " (never a key, password or token).
#include <c8y/mtls.hpp>
#include <c8y/mtls/sqlite_store.hpp>

#include "cli_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace mtls = c8y::mtls;
using mtls::examples::close_on_failure;
using mtls::examples::device_credentials;
using mtls::examples::to_number;
using mtls::examples::truststore_from;
using mtls::examples::usage_error;

namespace {

struct arguments {
    std::string host;
    std::uint16_t port = 8883;
    std::string cafile;
    std::string cert, key, key_password_env;
    std::string keystore, password_env;
    std::string alias, cafile_password_env;
    mtls::examples::token_key_flags token_key;
    std::string client_id;
    bool token = false;
    std::optional<std::string> http_get;
    std::string http_cafile;
    std::optional<std::string> publish_topic, message;
    std::optional<int> count;
    mtls::mqtt::qos qos = mtls::mqtt::qos::at_least_once;
    int interval_ms = 0;
    int timeout_s = 30;
    std::string store;
    std::optional<int> keepalive_s;
    std::optional<mtls::log_level> log;
};

using durable_client = mtls::basic_client<mtls::asio_tcp_transport, mtls::wolfssl_tls, std::chrono::system_clock,
                                          mtls::sqlite_store>;

constexpr std::string_view usage =
    "usage: c8y-mtls-connect --host H [--port P] --cafile TRUSTSTORE [--cafile-password-env VAR]\n"
    "         (--cert CHAIN.pem --key KEY.pem [--key-password-env VAR]\n"
    "          | --keystore FILE --password-env VAR [--alias NAME] [--key-password-env VAR]\n"
    "          | [--cert CHAIN.pem] --pkcs11-module PATH --key-uri URI [--pin-env VAR])\n"
    "         [--client-id ID] [--token [--http-get URL [--http-cafile CA.pem]]] [--timeout SECONDS]\n"
    "         [--publish TOPIC --message TEXT [--count N] [--qos 0|1|2] [--interval-ms MS]]\n"
    "         [--store FILE] [--keepalive SECONDS] [--log debug|info|warning|error]\n";

arguments parse(int argc, char** argv)
{
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw usage_error{std::string(flag) + " needs a value"};
            return argv[++i];
        };
        if (flag == "--host") a.host = value();
        else if (flag == "--port") a.port = static_cast<std::uint16_t>(to_number(flag, value(), 1, 65535));
        else if (flag == "--cafile") a.cafile = value();
        else if (flag == "--cert") a.cert = value();
        else if (flag == "--key") a.key = value();
        else if (flag == "--key-password-env") a.key_password_env = value();
        else if (flag == "--keystore") a.keystore = value();
        else if (flag == "--password-env") a.password_env = value();
        else if (flag == "--alias") a.alias = value();
        else if (flag == "--cafile-password-env") a.cafile_password_env = value();
        else if (a.token_key.take(flag, value)) continue;
        else if (flag == "--client-id") a.client_id = value();
        else if (flag == "--token") a.token = true;
        else if (flag == "--http-get") a.http_get = value();
        else if (flag == "--http-cafile") a.http_cafile = value();
        else if (flag == "--publish") a.publish_topic = value();
        else if (flag == "--message") a.message = value();
        else if (flag == "--count") a.count = static_cast<int>(to_number(flag, value(), 1, 100'000'000));
        else if (flag == "--qos") a.qos = static_cast<mtls::mqtt::qos>(to_number(flag, value(), 0, 2));
        else if (flag == "--interval-ms") a.interval_ms = static_cast<int>(to_number(flag, value(), 0, 3'600'000));
        else if (flag == "--timeout") a.timeout_s = static_cast<int>(to_number(flag, value(), 1, 3600));
        else if (flag == "--store") a.store = value();
        else if (flag == "--keepalive") a.keepalive_s = static_cast<int>(to_number(flag, value(), 0, 65535));
        else if (flag == "--log") {
            const std::string level = value();
            a.log = mtls::parse_log_level(level);
            if (!a.log) throw usage_error{"--log takes debug, info, warning or error, not '" + level + "'"};
        }
        else if (flag == "--help" || flag == "-h") throw usage_error{};
        else throw usage_error{"unknown argument '" + std::string(flag) + "'"};
    }
    if (a.host.empty()) throw usage_error{"--host is required"};
    if (a.cafile.empty()) throw usage_error{"--cafile is required"};
    const bool pem = !a.cert.empty() || !a.key.empty();
    const bool p12 = !a.keystore.empty();
    if (a.token_key.given()) {
        a.token_key.check(!a.key.empty() ? "--key" : p12 ? "--keystore" : "");
    } else {
        if (pem == p12) throw usage_error{"give either --cert and --key, --keystore, or --key-uri"};
        if (pem && (a.cert.empty() || a.key.empty())) throw usage_error{"--cert and --key go together"};
    }
    if (p12 && a.password_env.empty()) throw usage_error{"--keystore needs --password-env"};
    if (pem && !a.password_env.empty()) throw usage_error{"--password-env is for --keystore; use --key-password-env"};
    if (!a.alias.empty() && !p12) throw usage_error{"--alias goes with --keystore"};
    if (a.publish_topic.has_value() != a.message.has_value()) throw usage_error{"--publish and --message go together"};
    if (a.http_get && !a.token) throw usage_error{"--http-get needs --token"};
    if (!a.http_cafile.empty() && !a.http_get) throw usage_error{"--http-cafile goes with --http-get"};
    if (!a.publish_topic && (a.count || a.interval_ms || a.qos != mtls::mqtt::qos::at_least_once))
        throw usage_error{"--count, --qos and --interval-ms need --publish and --message"};
    return a;
}

std::string json_string(std::string_view s)
{
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
            out += buffer;
        } else out += c;
    }
    return out + "\"";
}

// One message, sent again when the connection was lost under it (a QoS 0 write) until the
// client stops; the client itself resends unacknowledged QoS 1/2 messages.
template <class Device>
asio::awaitable<void> publish_one(Device& device, const arguments& a, std::string text, int& failed)
{
    for (;;) {
        try {
            co_await device.publish(*a.publish_topic, text, a.qos);
            co_return;
        } catch (const mtls::error& e) {
            if (device.state() == mtls::connection_state::stopped || !mtls::retry_can_help(e.code())) {
                if (failed++ == 0)
                    std::cerr << "c8y-mtls-connect: message '" << text << "': " << e.what() << "\n";
                co_return;
            }
        }
    }
}

// N messages, paced by --interval-ms, as many in flight as the client allows.
template <class Device>
asio::awaitable<void> publish_all(Device& device, const arguments& a)
{
    const int total = a.count.value_or(1);
    int finished = 0, failed = 0;
    asio::steady_timer pace(device.get_executor());
    asio::steady_timer all_done(device.get_executor(), asio::steady_timer::time_point::max());
    for (int i = 1; i <= total; ++i) {
        std::string text = a.count ? *a.message + std::to_string(i) : *a.message;
        asio::co_spawn(device.get_executor(), publish_one(device, a, std::move(text), failed),
                       [&finished, &all_done, total](std::exception_ptr) {
                           if (++finished == total)
                               all_done.cancel();
                       });
        if (a.interval_ms > 0 && i < total) {
            pace.expires_after(std::chrono::milliseconds(a.interval_ms));
            co_await pace.async_wait(asio::use_awaitable);
        }
    }
    std::error_code woken;
    if (finished < total)
        co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, woken));
    if (failed > 0)
        throw mtls::error(mtls::errc::not_connected, std::to_string(failed) + " of " + std::to_string(total) +
                                                         " messages not delivered");
    std::cerr << "published " << total << " message" << (total == 1 ? "" : "s") << " at QoS "
              << static_cast<int>(a.qos) << " on " << *a.publish_topic << " (" << device.connections()
              << " connection" << (device.connections() == 1 ? "" : "s") << ")\n";
}

// The token source of one command: the token asked for over MQTT, asked for again when the
// server refuses it (a long-running device uses token_keeper instead).
template <class Device>
struct token_over_mqtt {
    Device& device;
    std::chrono::seconds timeout;
    std::optional<mtls::device_token> token;

    asio::awaitable<mtls::device_token> current()
    {
        if (!token)
            token = co_await device.request_token(timeout);
        co_return *token;
    }
    asio::awaitable<mtls::device_token> refresh()
    {
        token = co_await device.request_token(timeout);
        co_return *token;
    }
};

// GET `url` with the device's token; the body on stdout, a status that is not 2xx on stderr.
template <class Device>
asio::awaitable<bool> http_get(Device& device, mtls::https_client& rest, const arguments& a)
{
    token_over_mqtt<Device> tokens{device, std::chrono::seconds(a.timeout_s), std::nullopt};
    mtls::http::request req;
    req.url = *a.http_get;
    const mtls::http::response r = co_await rest.request(req, tokens);
    std::cout << r.body;
    if (!r.ok()) {
        std::cerr << "c8y-mtls-connect: GET " << req.url << ": HTTP " << r.status << " " << r.reason << "\n";
        co_return false;
    }
    co_return true;
}

// The SDK's events on stderr, when --log asks for them.
mtls::logger stderr_logger(const arguments& a)
{
    if (!a.log)
        return {};
    return {[](mtls::log_level level, std::string_view line) {
                std::cerr << "c8y-mtls: " << mtls::to_string(level) << ": " << line << "\n";
            },
            *a.log};
}

template <class Device>
asio::awaitable<void> run(Device& device, mtls::https_client* rest, const arguments& a, int& exit_code)
{
    mtls::connect_options options;
    options.host = a.host;
    options.port = a.port;
    options.client_id = a.client_id;
    options.timeout = std::chrono::seconds(a.timeout_s);
    options.reconnect.initial_delay = std::chrono::milliseconds(200);
    options.reconnect.max_delay = std::chrono::seconds(5);
    options.log = stderr_logger(a);
    if (a.keepalive_s)
        options.keepalive = std::chrono::seconds(*a.keepalive_s);
    if (a.publish_topic) {
        // Room for every message of --count to wait for a reconnect: its packet (TEXT plus up to
        // 9 digits, 7 bytes of MQTT header at most) and the store's own overhead.
        // A store may hold more from an earlier run.
        const std::size_t messages = static_cast<std::size_t>(a.count.value_or(1)) + device.queued_messages();
        options.send_queue.max_messages = messages;
        options.send_queue.max_bytes =
            messages * (a.publish_topic->size() + a.message->size() + 9 + 7 + mtls::queued_message_overhead);
    }
    co_await device.connect(options);
    std::cerr << "connected to " << a.host << ":" << a.port << " as " << device.client_id() << " over "
              << device.tls_protocol() << "\n";
    if (a.http_get) {
        if (!co_await http_get(device, *rest, a)) {
            co_await device.disconnect();
            co_return;
        }
    } else if (a.token) {
        const mtls::device_token token = co_await device.request_token(std::chrono::seconds(a.timeout_s));
        std::cout << "{\"sub\":" << (token.subject() ? json_string(*token.subject()) : "null")
                  << ",\"iat\":" << token.issued_at().time_since_epoch().count()
                  << ",\"exp\":" << token.expires_at().time_since_epoch().count()
                  << ",\"jwt\":" << json_string(token.jwt()) << "}\n";
    }
    if (a.publish_topic)
        co_await publish_all(device, a);
    co_await device.disconnect();
    exit_code = 0;
}

// Runs the command on `device`; the exit status.
template <class Device>
int serve(asio::io_context& io, Device& device, mtls::https_client* rest, const arguments& a)
{
    int exit_code = 1;
    asio::co_spawn(io, run(device, rest, a, exit_code), close_on_failure(device, "c8y-mtls-connect"));
    io.run();
    return exit_code;
}

} // namespace

int main(int argc, char** argv)
{
    arguments a;
    try {
        a = parse(argc, argv);
    } catch (const usage_error& e) {
        if (!e.what.empty())
            std::cerr << "c8y-mtls-connect: " << e.what << "\n";
        std::cerr << usage;
        return 2;
    }

    asio::io_context io;
    try {
        const auto identity = [&] {
            if (a.token_key.given())
                return a.token_key.load(a.cert);
            return device_credentials(a.keystore, a.cert, a.key, a.password_env, a.key_password_env, a.alias);
        };
        const mtls::truststore trust = truststore_from(a.cafile, a.cafile_password_env, "--cafile-password-env");
        std::optional<mtls::https_client> rest;
        if (a.http_get) {
            mtls::https_options limits;
            limits.request_timeout = std::chrono::seconds(a.timeout_s);
            limits.log = stderr_logger(a);
            rest.emplace(io.get_executor(), identity(),
                         truststore_from(a.http_cafile.empty() ? a.cafile : a.http_cafile, a.cafile_password_env,
                                         "--cafile-password-env"),
                         mtls::tls_options{}, limits);
        }
        if (a.store.empty()) {
            mtls::client device(io.get_executor(), identity(), trust);
            return serve(io, device, rest ? &*rest : nullptr, a);
        }
        durable_client device(io.get_executor(), identity(), trust, {}, mtls::sqlite_store(a.store));
        if (device.queued_messages() > 0)
            std::cerr << device.queued_messages() << " message(s) of an earlier run in " << a.store << " go first\n";
        return serve(io, device, rest ? &*rest : nullptr, a);
    } catch (const usage_error& e) {
        std::cerr << "c8y-mtls-connect: " << e.what << "\n";
        return 2;
    } catch (const std::exception& e) { // c8y::mtls::error among them: files, keys, passwords, the store
        std::cerr << "c8y-mtls-connect: " << e.what() << "\n";
        return 2;
    }
}
