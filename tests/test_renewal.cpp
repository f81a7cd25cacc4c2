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
#include <set>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/broker_streams.hpp"
#include "support/check_error.hpp"
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

issued issue(const fs::path& ca_dir, const std::string& cn)
{
    const auto ca = mtls::certificate::from_pem_file(ca_dir / "caCert.pem");
    const prov::signing_authority authority{
        ca.front().der(), prov::private_key::from_pem(text_of(ca_dir / "caKey.pem"), text_of(ca_dir / "password.txt"))};
    issued out{prov::private_key::generate(prov::key_type::ec256), {}, ca.front().der()};
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
