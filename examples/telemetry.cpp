// c8y-mtls-telemetry: a device loop. Connects with the device certificate, keeps the device's
// token, sends a measurement every few seconds on s/us, reconnects by itself, and stops cleanly
// on SIGINT or SIGTERM.
//
//   c8y-mtls-telemetry --host H [--port P] --cafile TRUSTSTORE [--cafile-password-env VAR]
//       (--cert CHAIN.pem --key KEY.pem [--key-password-env VAR]
//        | --keystore FILE --password-env VAR [--alias NAME] [--key-password-env VAR]
//        | [--cert CHAIN.pem] --pkcs11-module PATH --key-uri URI [--pin-env VAR])
//       [--interval SECONDS] [--count N] [--store FILE]
//       [--renew-before-days N [--url URL] [--tenant-ca CA.pem]]
//
// With --store, measurements wait in that SQLite file until acknowledged: those an earlier run
// (or a crash) left behind go first. With --renew-before-days, the certificate keeper renews the
// device certificate with the platform's certificate authority (EST at URL, https://H by
// default) once it expires within N days: the new files are written next to --cert and --key and
// replace them once the device connected with them, without a measurement lost.
// --key-uri names a key that stays in a PKCS#11 token (RFC 7512 URI; the PIN in the variable
// --pin-env names); without --cert, the chain is the token's certificate of that key.
//
// Exit 0 after a clean stop (a signal, or --count measurements sent); 1 when the client stops
// with an error (one line on stderr naming the cause); 2 for bad arguments or unreadable files.
#include <c8y/mtls.hpp>
#include <c8y/mtls/sqlite_store.hpp>

#include "cli_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mtls = c8y::mtls;
using mtls::examples::close_on_failure;
using mtls::examples::device_credentials;
using mtls::examples::secret_from_env;
using mtls::examples::to_number;
using mtls::examples::truststore_from;
using mtls::examples::usage_error;

namespace {

struct arguments {
    std::string host;
    std::uint16_t port = 8883;
    std::string cafile, cert, key, key_password_env, keystore, password_env;
    std::string alias, cafile_password_env;
    mtls::examples::token_key_flags token_key;
    int interval_s = 5;
    std::optional<int> count;
    std::string store;
    std::optional<int> renew_before_days;
    std::string url, tenant_ca;
};

constexpr std::string_view usage =
    "usage: c8y-mtls-telemetry --host H [--port P] --cafile TRUSTSTORE [--cafile-password-env VAR]\n"
    "         (--cert CHAIN.pem --key KEY.pem [--key-password-env VAR]\n"
    "          | --keystore FILE --password-env VAR [--alias NAME] [--key-password-env VAR]\n"
    "          | [--cert CHAIN.pem] --pkcs11-module PATH --key-uri URI [--pin-env VAR])\n"
    "         [--interval SECONDS] [--count N] [--store FILE]\n"
    "         [--renew-before-days N [--url URL] [--tenant-ca CA.pem]]\n";

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
        else if (flag == "--interval") a.interval_s = static_cast<int>(to_number(flag, value(), 1, 86400));
        else if (flag == "--count") a.count = static_cast<int>(to_number(flag, value(), 1, 1'000'000'000));
        else if (flag == "--store") a.store = value();
        else if (flag == "--renew-before-days") a.renew_before_days = static_cast<int>(to_number(flag, value(), 0, 3650));
        else if (flag == "--url") a.url = value();
        else if (flag == "--tenant-ca") a.tenant_ca = value();
        else if (flag == "--help" || flag == "-h") throw usage_error{};
        else throw usage_error{"unknown argument '" + std::string(flag) + "'"};
    }
    if (a.host.empty()) throw usage_error{"--host is required"};
    if (a.cafile.empty()) throw usage_error{"--cafile is required"};
    const bool pem = !a.cert.empty() || !a.key.empty();
    const bool p12 = !a.keystore.empty();
    if (a.token_key.given()) {
        a.token_key.check(!a.key.empty() ? "--key" : p12 ? "--keystore" : "");
        if (a.renew_before_days)
            throw usage_error{"--renew-before-days renews a key kept in a file: give --cert and --key"};
    } else {
        if (pem == p12) throw usage_error{"give either --cert and --key, --keystore, or --key-uri"};
        if (pem && (a.cert.empty() || a.key.empty())) throw usage_error{"--cert and --key go together"};
    }
    if (p12 && a.password_env.empty()) throw usage_error{"--keystore needs --password-env"};
    if (!a.alias.empty() && !p12) throw usage_error{"--alias goes with --keystore"};
    if (!a.renew_before_days && (!a.url.empty() || !a.tenant_ca.empty()))
        throw usage_error{"--url and --tenant-ca go with --renew-before-days"};
    if (a.renew_before_days && p12)
        throw usage_error{"--renew-before-days writes the renewed certificate and key as PEM: give --cert and --key"};
    if (a.url.empty())
        a.url = "https://" + a.host;
    return a;
}

// Tells of every token the keeper obtains, until the keeper stops.
template <class Keeper>
asio::awaitable<void> report_tokens(Keeper& tokens)
{
    try {
        for (;;) {
            const mtls::device_token token = co_await tokens.next();
            std::cerr << "token for " << token.subject().value_or("?") << " until "
                      << mtls::format_time(token.expires_at()) << "\n";
        }
    } catch (const mtls::error&) {
        // The keeper stopped.
    }
}

// The files the certificate keeper renews: --key, and --cert, which gets the whole chain.
mtls::credential_files renewed_files(const arguments& a) { return {a.key, a.cert, {}}; }

// Tells of every renewal, and of the error that stopped the keeper.
asio::awaitable<void> report_renewals(mtls::certificate_keeper& keeper)
{
    for (;;) {
        try {
            co_await keeper.renewed();
            std::cerr << "certificate renewed: serial " << keeper.current().serial() << " until "
                      << mtls::format_time(keeper.current().not_after()) << "\n";
        } catch (const mtls::error& e) {
            if (e.code() != mtls::errc::operation_aborted)
                std::cerr << "certificate keeper stopped: " << e.what() << "\n";
            co_return;
        }
    }
}

template <class Device, class Tokens>
std::unique_ptr<mtls::certificate_keeper> keep_certificate(Device& device, mtls::https_client& http, Tokens& tokens,
                                                           const arguments& a)
{
    mtls::platform_renewal_options renewal;
    renewal.files = renewed_files(a);
    renewal.key_password = secret_from_env(a.key_password_env);
    if (!a.tenant_ca.empty())
        renewal.enrollment.tenant_ca = mtls::certificate::from_pem_file(a.tenant_ca).at(0).der();
    mtls::certificate_keeper_options options;
    options.renew_before = std::chrono::days(*a.renew_before_days);
    options.log.sink = [](mtls::log_level, std::string_view line) { std::cerr << line << "\n"; };
    auto keeper = std::make_unique<mtls::certificate_keeper>(
        device.get_executor(), mtls::certificate::from_der(device.device_chain().front()),
        mtls::renewal_through_platform(device, http, tokens, a.url, std::move(renewal)), std::move(options));
    keeper->start();
    asio::co_spawn(device.get_executor(), report_renewals(*keeper), asio::detached);
    return keeper;
}

template <class Device>
asio::awaitable<void> run(Device& device, const arguments& a, const mtls::truststore& trust,
                          asio::steady_timer& pace, bool& stopping, int& exit_code)
{
    mtls::connect_options options;
    options.host = a.host;
    options.port = a.port;
    options.on_state_change = [](mtls::connection_state s, const std::optional<mtls::error>& why) {
        std::cerr << "connection " << mtls::to_string(s) << (why ? std::string(": ") + why->what() : "") << "\n";
    };
    co_await device.connect(options);
    mtls::basic_token_keeper<Device> tokens(device);
    tokens.start();
    asio::co_spawn(device.get_executor(), report_tokens(tokens), asio::detached);
    mtls::https_client http(device.get_executor(), trust);
    std::unique_ptr<mtls::certificate_keeper> certificates;
    if (a.renew_before_days)
        certificates = keep_certificate(device, http, tokens, a);

    const std::string topic = "s/us";
    for (int sent = 0; !stopping && (!a.count || sent < *a.count);) {
        // The temperature of a device that warms up and cools down over a minute.
        const double celsius = 20.0 + static_cast<double>((sent % 12) - 6) / 2.0;
        const std::string line = mtls::smartrest::measurement("c8y_Temperature", "T", celsius, "C");
        co_await device.publish(topic, line, mtls::mqtt::qos::at_least_once);
        std::cerr << "measurement " << ++sent << ": " << line << "\n";
        if (stopping || (a.count && sent == *a.count))
            break;
        pace.expires_after(std::chrono::seconds(a.interval_s));
        std::error_code woken; // a signal cancels the wait
        co_await pace.async_wait(asio::redirect_error(asio::use_awaitable, woken));
    }
    if (certificates)
        certificates->stop();
    tokens.stop();
    http.close();
    co_await device.disconnect();
    std::cerr << "stopped\n";
    exit_code = 0;
}

// Runs the device loop until it stops; the exit status.
template <class Device>
int serve(asio::io_context& io, Device& device, const arguments& a, const mtls::truststore& trust)
{
    int exit_code = 1;
    bool stopping = false;
    asio::steady_timer pace(io);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::co_spawn(io, run(device, a, trust, pace, stopping, exit_code),
                   [&, on_failure = close_on_failure(device, "c8y-mtls-telemetry")](std::exception_ptr failure) {
                       signals.cancel();
                       on_failure(failure);
                   });
    // The first signal asks the loop to finish its step and disconnect; the wait between two
    // measurements ends at once.
    signals.async_wait([&](const std::error_code& ec, int) {
        if (ec)
            return;
        std::cerr << "signal received: stopping\n";
        stopping = true;
        pace.cancel();
    });
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
            std::cerr << "c8y-mtls-telemetry: " << e.what << "\n";
        std::cerr << usage;
        return 2;
    }

    asio::io_context io;
    try {
        if (a.renew_before_days) // a renewal a crash interrupted is finished first
            mtls::recover_credential_files(renewed_files(a));
        auto identity = a.token_key.given()
                            ? a.token_key.load(a.cert)
                            : device_credentials(a.keystore, a.cert, a.key, a.password_env, a.key_password_env, a.alias);
        const mtls::truststore trust = truststore_from(a.cafile, a.cafile_password_env, "--cafile-password-env");
        if (a.store.empty()) {
            mtls::client device(io.get_executor(), std::move(identity), trust);
            return serve(io, device, a, trust);
        }
        using durable_client = mtls::basic_client<mtls::asio_tcp_transport, mtls::wolfssl_tls,
                                                  std::chrono::system_clock, mtls::sqlite_store>;
        durable_client device(io.get_executor(), std::move(identity), trust, {}, mtls::sqlite_store(a.store));
        return serve(io, device, a, trust);
    } catch (const usage_error& e) {
        std::cerr << "c8y-mtls-telemetry: " << e.what << "\n";
        return 2;
    } catch (const std::exception& e) { // c8y::mtls::error among them: files, keys, passwords, the store
        std::cerr << "c8y-mtls-telemetry: " << e.what() << "\n";
        return 2;
    }
}
