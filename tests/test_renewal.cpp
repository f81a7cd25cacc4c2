// A running client moved to new credentials against the local platform (a real mosquitto over
// mutual TLS): a stream of QoS 1 messages loses nothing across the move, and the broker sees the
// new certificate's serial; refused new credentials leave the client on the old ones.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/broker_streams.hpp"
#include "support/check_error.hpp"
#include "support/https_server.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace mqtt = c8y::mtls::mqtt;
namespace prov = c8y::mtls::provisioning;
using mtls::errc;
using mtls::test::local_platform;
using namespace std::chrono_literals;

namespace {

constexpr const char* device = "renewing-0001";

local_platform& platform()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "renewal-platform";
        o.devices = {device, "subscriber-0001"};
        return o;
    }());
    return instance;
}

std::string text_of(const fs::path& p)
{
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A new key and certificate for `cn` signed by the CA in `ca_dir` (caCert.pem, caKey.pem and its
// password.txt, as local_platform.py makes them).
struct issued {
    prov::private_key key;
    mtls::der_certificate certificate;
    mtls::der_certificate ca;

    // The chain as the platform wants it: the certificate, then the CA.
    std::string chain_pem() const { return prov::certificate_pem(certificate) + prov::certificate_pem(ca); }
    mtls::credentials credentials() const { return mtls::credentials::from_pem(chain_pem(), key.to_pem(), {}, "issued"); }
    std::string serial() const { return mtls::certificate::from_der(certificate).serial(); }
};

// The CA of a certificate file and its key file (encrypted with `password`, or not).
prov::signing_authority authority_of(const fs::path& certificate, const fs::path& key, const std::string& password = {})
{
    return {mtls::certificate::from_pem_file(certificate).front().der(), prov::private_key::from_pem(text_of(key), password)};
}

issued issue(const fs::path& ca_dir, const std::string& cn)
{
    const prov::signing_authority authority =
        authority_of(ca_dir / "caCert.pem", ca_dir / "caKey.pem", text_of(ca_dir / "password.txt"));
    issued out{prov::private_key::generate(prov::key_type::ec256), {}, authority.certificate};
    prov::certificate_options o;
    o.common_name = cn;
    out.certificate = prov::make_device_certificate(out.key, o, authority);
    return out;
}

mtls::connect_options options_for(const std::string& client_id)
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = static_cast<std::uint16_t>(platform().port());
    o.client_id = client_id;
    o.timeout = 5s;
    o.reconnect.initial_delay = 100ms;
    o.reconnect.max_delay = 1s;
    return o;
}

// Whether the broker's log says `cn` connected with the certificate of `serial`.
bool broker_saw(const std::string& cn, const std::string& serial)
{
    return text_of(platform().log()).find("accepted device '" + cn + "' with certificate serial " + serial) !=
           std::string::npos;
}

struct move_outcome {
    bool done = false;
    std::optional<mtls::error> failure;
};

// Streams m1..m<total> at QoS 1, moving the client to `next` once a third was acknowledged.
void stream_across_move(asio::io_context& io, mtls::client& client, const std::string& client_id,
                        mtls::credentials next, int total, move_outcome& moved, std::vector<int>& acknowledged)
{
    mtls::connect_options o = options_for(client_id);
    o.send_queue.max_messages = static_cast<std::size_t>(total);
    mtls::test::run(io, [&]() -> asio::awaitable<void> {
        co_await client.connect(o);
        co_await mtls::test::publish_numbered(client, "renewal/stream", mqtt::qos::at_least_once, total, acknowledged,
                                              total / 3, [&] {
                                                  asio::co_spawn(client.get_executor(),
                                                                 client.change_credentials(std::move(next)),
                                                                 [&](std::exception_ptr e) {
                                                                     moved.done = true;
                                                                     if (e)
                                                                         moved.failure = mtls::detail::error_of(e);
                                                                 });
                                              });
        asio::steady_timer pause(io);
        for (int i = 0; i < 1000 && !moved.done; ++i) {
            pause.expires_after(10ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
    }());
}

} // namespace

TEST_CASE("change_credentials: a client streaming QoS 1 moves to a renewed certificate and loses nothing; the broker sees the new serial")
{
    const issued renewed = issue(platform().dir() / "ca", device);
    mtls::test::persistent_subscriber subscriber(platform(), "renewal/stream", 1, "d:subscriber-0001:renewal",
                                                 platform().dir() / "renewal-stream.out");
    asio::io_context io;
    mtls::client client = mtls::test::client_of(platform(), io, device);
    const std::string old_serial = mtls::certificate::from_der(client.device_chain().front()).serial();
    const int total = 600;
    std::vector<int> acknowledged(total + 1, 0);
    move_outcome moved;
    stream_across_move(io, client, std::string("d:") + device, renewed.credentials(), total, moved, acknowledged);

    REQUIRE(moved.done);
    CHECK_MESSAGE(!moved.failure, (moved.failure ? moved.failure->what() : ""));
    CHECK(client.is_connected());
    CHECK(client.connections() == 2);
    CHECK(mtls::certificate::from_der(client.device_chain().front()).serial() == renewed.serial());
    CHECK(broker_saw(device, old_serial));
    CHECK(broker_saw(device, renewed.serial()));
    std::set<std::string> expected;
    for (int i = 1; i <= total; ++i) {
        expected.insert("m" + std::to_string(i));
        CHECK_MESSAGE(acknowledged[static_cast<std::size_t>(i)] == 1, "m" << i);
    }
    const auto counts = subscriber.received(expected);
    CHECK(counts.size() == expected.size());
    mtls::test::run(io, client.disconnect());
}

TEST_CASE("change_credentials: credentials the broker refuses leave the client on the old ones, connected again, losing nothing")
{
    // The same CN under a CA the platform does not trust: the handshake fails with the new ones.
    const issued rogue = issue(platform().dir() / "rogue", device);
    mtls::test::persistent_subscriber subscriber(platform(), "renewal/stream", 1, "d:subscriber-0001:refused",
                                                 platform().dir() / "renewal-refused.out");
    asio::io_context io;
    mtls::client client = mtls::test::client_of(platform(), io, device);
    const std::string old_serial = mtls::certificate::from_der(client.device_chain().front()).serial();
    const int total = 300;
    std::vector<int> acknowledged(total + 1, 0);
    move_outcome moved;
    stream_across_move(io, client, std::string("d:") + device + ":refused", rogue.credentials(), total, moved,
                       acknowledged);

    REQUIRE(moved.done);
    REQUIRE(moved.failure);
    CHECK_FALSE(mtls::retry_can_help(moved.failure->code())); // the broker's alert: a certificate it refuses
    CHECK(mtls::test::contains(moved.failure->detail(), "with the new credentials"));
    CHECK(mtls::certificate::from_der(client.device_chain().front()).serial() == old_serial);
    CHECK_FALSE(broker_saw(device, rogue.serial()));
    std::set<std::string> expected;
    for (int i = 1; i <= total; ++i)
        expected.insert("m" + std::to_string(i));
    CHECK(subscriber.received(expected).size() == expected.size());
    mtls::test::run(io, [&]() -> asio::awaitable<void> {
        co_await client.publish("renewal/stream", "after", mqtt::qos::at_least_once); // on the old credentials
        co_await client.disconnect();
    }());
    CHECK(client.connections() >= 2);
}

TEST_CASE("change_credentials: another device's certificate, or a key that is not the certificate's, is refused before anything changes")
{
    asio::io_context io;
    mtls::client client = mtls::test::client_of(platform(), io, device);
    const issued other = issue(platform().dir() / "ca", "another-device");
    CHECK_ERROR(mtls::test::run(io, client.change_credentials(other.credentials())), errc::invalid_argument,
                "another-device");
    const issued mine = issue(platform().dir() / "ca", device);
    const issued unrelated = issue(platform().dir() / "ca", device);
    auto mismatched = [&] {
        return mtls::credentials::from_pem(mine.chain_pem(), unrelated.key.to_pem(), {}, "mismatched");
    };
    CHECK_ERROR(mtls::test::run(io, client.change_credentials(mismatched())), errc::chain_rejected, "private key");

    // Stopped, the client takes them for its next connect().
    mtls::test::run(io, client.change_credentials(mine.credentials()));
    mtls::test::run(io, [&]() -> asio::awaitable<void> {
        co_await client.connect(options_for(std::string("d:") + device + ":stopped"));
        co_await client.disconnect();
    }());
    CHECK(broker_saw(device, mine.serial()));
}

// ---- the certificate keeper against the local platform's certificate authority -----------------

namespace {

const std::string shared_secret = mtls::test::random_secret();

// A local platform that plays the certificate authority (its HTTPS listener serves EST), issuing
// certificates for 30 days; `name` tells two apart (each has a tenant CA of its own).
local_platform& ca_platform(const std::string& name)
{
    static std::map<std::string, std::unique_ptr<local_platform>> platforms;
    auto& p = platforms[name];
    if (!p) {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / ("renewal-" + name);
        o.devices = {"subscriber-0001"};
        o.https = true;
        o.certificate_days = 30;
        o.secret = shared_secret; // the tokens of one platform's broker are good at the other's EST
        p = std::make_unique<local_platform>(o);
    }
    return *p;
}

// A device directory (key.pem, cert.pem, chain.pem) for `cn` with a certificate of one day from
// `platform`'s tenant CA, as enrollment would have made it: due for renewal at once.
mtls::credential_files one_day_device(local_platform& platform, const std::string& cn, const fs::path& dir)
{
    fs::remove_all(dir);
    fs::create_directories(dir);
    const prov::signing_authority authority = authority_of(platform.tenant_ca(), platform.tenant_ca_key());
    const prov::private_key key = prov::private_key::generate(prov::key_type::ec256);
    prov::certificate_options o;
    o.common_name = cn;
    o.days = 1;
    const mtls::der_certificate certificate = prov::make_device_certificate(key, o, authority);
    const auto files = mtls::credential_files::in_directory(dir);
    std::ofstream(files.key) << key.to_pem();
    fs::permissions(files.key, fs::perms::owner_read | fs::perms::owner_write);
    std::ofstream(files.certificate) << prov::certificate_pem(certificate);
    std::ofstream(files.chain) << prov::certificate_pem(certificate) << prov::certificate_pem(authority.certificate);
    return files;
}

bool any_staged(const mtls::credential_files& f)
{
    for (const fs::path& p : {f.key, f.certificate, f.chain})
        if (fs::exists(mtls::credential_files::staged(p)))
            return true;
    return false;
}

struct keeper_run {
    std::optional<mtls::error> failure;
    std::uint64_t renewals = 0;
    std::string serial;
};

// Connects the device of `files` to `mqtt`'s broker, runs the certificate keeper against `est`'s
// certificate authority while m1..m<total> stream at QoS 1 on `topic`, until the keeper renewed
// once or stopped.
keeper_run stream_through_renewal(local_platform& mqtt, local_platform& est, const mtls::credential_files& files, const std::string& topic, int total,
                                  std::vector<int>& acknowledged)
{
    asio::io_context io;
    const mtls::truststore trust = mtls::truststore::from_path(mqtt.server_ca());
    mtls::client client(io.get_executor(), mtls::credentials::from_pem_files(files.chain, files.key), trust);
    mtls::https_client http(io.get_executor(), mtls::truststore::from_path(est.server_ca()));
    keeper_run outcome;
    mtls::test::run(io, [&]() -> asio::awaitable<void> {
        mtls::connect_options o;
        o.host = "localhost";
        o.port = static_cast<std::uint16_t>(mqtt.port());
        o.send_queue.max_messages = static_cast<std::size_t>(total);
        // Leaf-only chains pass the client's check: a new certificate the broker does not trust
        // is tried with the broker itself.
        o.chain_rules.profile = mtls::chain_profile::current;
        co_await client.connect(o);
        mtls::token_keeper tokens(client);
        tokens.start();
        mtls::platform_renewal_options renewal;
        renewal.files = files;
        mtls::certificate_keeper_options k;
        k.renew_before = std::chrono::days(2);
        k.jitter = 0s;
        mtls::certificate_keeper keeper(client.get_executor(),
                                        mtls::certificate::from_der(client.device_chain().front()),
                                        mtls::renewal_through_platform(client, http, tokens, est.https_url(),
                                                                       std::move(renewal)),
                                        k);
        keeper.start();
        co_await mtls::test::publish_numbered(client, topic, mqtt::qos::at_least_once, total, acknowledged, total,
                                              nullptr);
        try {
            if (keeper.renewals() == 0)
                co_await keeper.renewed();
        } catch (const mtls::error& e) {
            outcome.failure = e;
        }
        outcome.renewals = keeper.renewals();
        outcome.serial = keeper.current().serial();
        keeper.stop();
        tokens.stop();
        http.close();
        co_await client.publish(topic, "last", mqtt::qos::at_least_once); // still connected
        co_await client.disconnect();
    }());
    return outcome;
}

} // namespace

TEST_CASE("certificate keeper end to end: a device streaming QoS 1 renews with the platform's CA, loses nothing, and connects with the new certificate")
{
    local_platform& platform = ca_platform("a");
    const std::string cn = "renewing-0002";
    const auto files = one_day_device(platform, cn, platform.dir() / "renewing-0002");
    const std::string old_serial = mtls::certificate::from_pem_file(files.certificate).front().serial();
    const std::string old_key = text_of(files.key);
    mtls::test::persistent_subscriber subscriber(platform, "renewal/keeper", 1, "d:subscriber-0001:keeper",
                                                 platform.dir() / "renewal-keeper.out");
    const int total = 500;
    std::vector<int> acknowledged(total + 1, 0);
    const keeper_run run = stream_through_renewal(platform, platform, files, "renewal/keeper", total, acknowledged);

    REQUIRE_MESSAGE(!run.failure, (run.failure ? run.failure->what() : ""));
    CHECK(run.renewals == 1);
    // The files are the new ones, promoted whole: a 30-day certificate, its chain, a new key.
    const auto certificate = mtls::certificate::from_pem_file(files.certificate);
    REQUIRE(certificate.size() == 1);
    CHECK(certificate.front().serial() == run.serial);
    CHECK(certificate.front().serial() != old_serial);
    CHECK(certificate.front().not_after() - certificate.front().not_before() == std::chrono::days(30));
    const auto chain = mtls::certificate::from_pem_file(files.chain);
    REQUIRE(chain.size() == 2);
    CHECK(chain.front().der() == certificate.front().der());
    CHECK(chain.back().der() == mtls::certificate::from_pem_file(platform.tenant_ca()).front().der());
    CHECK(text_of(files.key) != old_key);
    CHECK((fs::status(files.key).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
    CHECK_FALSE(any_staged(files));
    // The broker saw the device with both certificates; the new files load and match.
    const std::string log = text_of(platform.log());
    CHECK(log.find("accepted device '" + cn + "' with certificate serial " + old_serial) != std::string::npos);
    CHECK(log.find("accepted device '" + cn + "' with certificate serial " + run.serial) != std::string::npos);
    CHECK(mtls::validate_credentials(mtls::credentials::from_pem_files(files.chain, files.key)).findings().empty());
    // Nothing lost.
    std::set<std::string> expected{"last"};
    for (int i = 1; i <= total; ++i) {
        expected.insert("m" + std::to_string(i));
        CHECK_MESSAGE(acknowledged[static_cast<std::size_t>(i)] == 1, "m" << i);
    }
    CHECK(subscriber.received(expected).size() == expected.size());
}

TEST_CASE("certificate keeper end to end: a new certificate the broker refuses leaves the files intact and the device on the old one")
{
    // The broker of "a" does not trust the tenant CA of "b", whose EST issues the new certificate.
    local_platform& broker = ca_platform("a");
    local_platform& other = ca_platform("b");
    const std::string cn = "renewing-0003";
    const auto files = one_day_device(broker, cn, broker.dir() / "renewing-0003");
    const std::string key = text_of(files.key), certificate = text_of(files.certificate), chain = text_of(files.chain);
    mtls::test::persistent_subscriber subscriber(broker, "renewal/refused", 1, "d:subscriber-0001:refused-keeper",
                                                 broker.dir() / "renewal-refused-keeper.out");
    const int total = 200;
    std::vector<int> acknowledged(total + 1, 0);
    const keeper_run run = stream_through_renewal(broker, other, files, "renewal/refused", total, acknowledged);

    REQUIRE(run.failure);
    INFO(std::string(run.failure->what()));
    CHECK(run.failure->code().category() == mtls::tls_alert_category()); // the broker's refusal
    CHECK(mtls::test::contains(run.failure->detail(), "with the new credentials"));
    CHECK(run.renewals == 0);
    CHECK(text_of(files.key) == key);
    CHECK(text_of(files.certificate) == certificate);
    CHECK(text_of(files.chain) == chain);
    CHECK_FALSE(any_staged(files));
    std::set<std::string> expected{"last"};
    for (int i = 1; i <= total; ++i)
        expected.insert("m" + std::to_string(i));
    CHECK(subscriber.received(expected).size() == expected.size());
}

// ---- the CLIs -------------------------------------------------------------------------------

namespace {

std::string q(const fs::path& p) { return mtls::test::shell_quote(p.string()); }

std::string serial_in(const fs::path& pem) { return mtls::certificate::from_pem_file(pem).front().serial(); }

} // namespace

TEST_CASE("c8y-mtls-pki renew: renewed and promoted (exit 0); a certificate the broker refuses leaves the files (exit 1); an expired one is refused at once")
{
    local_platform& platform = ca_platform("a");
    local_platform& other = ca_platform("b");
    const auto renew = [&](const fs::path& dir, local_platform& est, int& code) {
        return mtls::test::run_command(std::string(C8Y_TEST_PKI_CLI) + " renew --dir " + q(dir) + " --url " +
                                           mtls::test::shell_quote(est.https_url()) + " --host localhost --port " +
                                           std::to_string(platform.port()) + " --cafile " + q(platform.server_ca()) +
                                           " 2>&1",
                                       &code);
    };
    // The other platform's server CA too, for its HTTPS listener.
    const fs::path both_cas = platform.dir() / "both-server-cas.pem";
    std::ofstream(both_cas) << text_of(platform.server_ca()) << text_of(other.server_ca());

    const auto files = one_day_device(platform, "renewing-cli-1", platform.dir() / "renewing-cli-1");
    const std::string old_serial = serial_in(files.certificate);
    int code = -1;
    const std::string out = renew(files.key.parent_path(), platform, code);
    CHECK_MESSAGE(code == 0, out);
    const std::string new_serial = serial_in(files.certificate);
    CHECK(new_serial != old_serial);
    CHECK(mtls::test::contains(out, "renewed: serial " + new_serial));
    CHECK(mtls::certificate::from_pem_file(files.chain).size() == 2);
    CHECK_FALSE(any_staged(files));
    CHECK(mtls::test::contains(text_of(platform.log()), "certificate serial " + new_serial));

    // Issued by a tenant CA the device does not have: exit 1, the files as they were.
    const auto refused = one_day_device(platform, "renewing-cli-2", platform.dir() / "renewing-cli-2");
    const std::string before = text_of(refused.key) + text_of(refused.chain);
    const std::string refused_out =
        mtls::test::run_command(std::string(C8Y_TEST_PKI_CLI) + " renew --dir " + q(refused.key.parent_path()) +
                                    " --url " + mtls::test::shell_quote(other.https_url()) +
                                    " --host localhost --port " + std::to_string(platform.port()) + " --cafile " +
                                    q(both_cas) + " 2>&1",
                                &code);
    CHECK_MESSAGE(code == 1, refused_out);
    // Refused by the client's own check of the new chain, before the broker (which the SDK test
    // above has refuse it): a certificate of a CA the chain cannot name.
    CHECK_MESSAGE(mtls::test::contains(refused_out, "ca-included"), refused_out);
    CHECK(text_of(refused.key) + text_of(refused.chain) == before);
    CHECK_FALSE(any_staged(refused));

    // Expired: no renewal can authenticate; enroll again.
    const fs::path expired_dir = platform.dir() / "renewing-cli-3";
    const auto expired = one_day_device(platform, "renewing-cli-3", expired_dir);
    {
        const prov::signing_authority authority = authority_of(platform.tenant_ca(), platform.tenant_ca_key());
        prov::certificate_options o;
        o.common_name = "renewing-cli-3";
        o.not_before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - std::chrono::days(3);
        o.days = 1;
        std::ofstream(expired.certificate)
            << prov::certificate_pem(prov::make_device_certificate(
                   prov::private_key::from_pem(text_of(expired.key)), o, authority));
    }
    const std::string expired_out = renew(expired_dir, platform, code);
    CHECK_MESSAGE(code == 1, expired_out);
    CHECK(mtls::test::contains(expired_out, "one-time password"));
}

TEST_CASE("c8y-mtls-telemetry --renew-before-days: the running device renews, keeps sending, and its files are the new ones")
{
    local_platform& platform = ca_platform("a");
    const auto files = one_day_device(platform, "renewing-telemetry", platform.dir() / "renewing-telemetry");
    const std::string old_serial = serial_in(files.chain);
    int code = -1;
    const std::string out = mtls::test::run_command(
        std::string(C8Y_TEST_TELEMETRY_CLI) + " --host localhost --port " + std::to_string(platform.port()) +
            " --cafile " + q(platform.server_ca()) + " --cert " + q(files.chain) + " --key " + q(files.key) +
            " --renew-before-days 2 --url " + mtls::test::shell_quote(platform.https_url()) +
            " --count 6 --interval 1 2>&1",
        &code);
    CHECK_MESSAGE(code == 0, out);
    const std::string new_serial = serial_in(files.chain);
    CHECK(new_serial != old_serial);
    CHECK(mtls::test::contains(out, "certificate renewed: serial " + new_serial));
    CHECK(mtls::test::contains(out, "measurement 6"));
    CHECK(mtls::certificate::from_pem_file(files.chain).size() == 2); // --cert holds the whole chain
    CHECK_FALSE(fs::exists(mtls::credential_files::staged(files.chain)));
    CHECK_FALSE(fs::exists(mtls::credential_files::staged(files.key)));
}
