// Under separate compilation (C8Y_MTLS_SEPARATE_COMPILATION, the library c8y_mtls_compiled_dep
// links): the codec the headers only declare, and the client, the token exchange and the HTTPS
// client of the library's explicit instantiations, against the local platform; the keystore
// readers the loaders' templates call.
#include <c8y/mtls.hpp>

#if !defined(C8Y_MTLS_SEPARATE_COMPILATION) || defined(C8Y_MTLS_HEADER_ONLY)
#error "tests/test_separate_compilation.cpp is built with C8Y_MTLS_SEPARATE_COMPILATION"
#endif

#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include <filesystem>
#include <string>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/https_server.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
using namespace std::chrono_literals;
using mtls::test::local_platform;

TEST_CASE("separate compilation: the codec compiled once encodes and decodes")
{
    const mtls::mqtt::publish sent{"s/us", "200,c8y_Temperature,T,21.5", mtls::mqtt::qos::at_least_once, false, false, 7};
    mtls::mqtt::decoder decoder;
    decoder.feed(mtls::mqtt::encode(sent));
    const auto received = decoder.next();
    REQUIRE(received);
    CHECK(std::get<mtls::mqtt::publish>(*received) == sent);
    CHECK(mtls::mqtt::topic_matches("s/+", "s/us"));
    CHECK_THROWS_AS(mtls::mqtt::encode(mtls::mqtt::publish{"s/#", "", mtls::mqtt::qos::at_most_once}), mtls::error);
}

TEST_CASE("separate compilation: connect, publish, get the token, use it on REST, disconnect")
{
    const std::string secret = mtls::test::random_secret();
    local_platform platform{[&] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "separate-platform";
        o.devices = {"separate-device"};
        o.secret = secret;
        return o;
    }()};
    mtls::test::https_server server{platform, secret};
    asio::io_context io;
    mtls::client device(io.get_executor(),
                        mtls::credentials::from_pem_files(platform.chain("separate-device"), platform.key("separate-device"),
                                                          platform.password("separate-device")),
                        mtls::truststore::from_path(platform.server_ca()));
    mtls::https_client rest(io.get_executor(),
                            mtls::credentials::from_pem_files(platform.chain("separate-device"),
                                                              platform.key("separate-device"),
                                                              platform.password("separate-device")),
                            mtls::truststore::from_path(platform.server_ca()));
    mtls::token_keeper keeper(device);
    const mtls::device_token token = mtls::test::run(io, [&]() -> asio::awaitable<mtls::device_token> {
        mtls::connect_options where;
        where.host = "localhost";
        where.port = static_cast<std::uint16_t>(platform.port());
        where.timeout = 10s;
        co_await device.connect(where);
        co_await device.publish("s/us", "200,c8y_Temperature,T,21.5", mtls::mqtt::qos::at_least_once);
        mtls::device_token t = co_await device.request_token(10s);
        keeper.start();
        mtls::http::request get;
        get.method = "GET";
        get.url = server.url("/fixed");
        const mtls::http::response answer = co_await rest.request(get, keeper);
        CHECK(answer.status == 200);
        keeper.stop();
        co_await device.disconnect();
        co_return t;
    }());
    CHECK(token.subject() == "separate-device");
    CHECK(token.expires_at() > token.issued_at());
    CHECK(device.state() == mtls::connection_state::stopped);
}

TEST_CASE("separate compilation: the keystore readers compiled once tell a keystore from a truststore")
{
    const fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "separate-keystores";
    fs::create_directories(dir);
    mtls::test::run_command("python3 " + mtls::test::shell_quote(std::string(C8Y_TEST_SCRIPT_DIR) + "/local_platform.py") +
                            " pki --dir " + mtls::test::shell_quote(dir.string()) + " --device keystore-device 2>&1");
    const fs::path device = dir / "devices" / "keystore-device";
    std::string password = mtls::read_file(device / "password.txt");
    password.erase(password.find_last_not_of("\r\n") + 1);
    const auto identity = mtls::credentials::from_keystore_file(device / "deviceKeystore.p12", password);
    CHECK(identity.device_common_name() == "keystore-device");
    CHECK(mtls::truststore::from_path(dir / "server" / "serverCaCert.pem", "unused").certificates().size() == 1);
    CHECK_ERROR(mtls::truststore::from_path(device / "deviceKeystore.p12", "wrong"), mtls::errc::keystore_password_wrong,
                "its integrity MAC");
    CHECK_ERROR(mtls::truststore::from_path(device / "deviceKeystore.p12", password), mtls::errc::truststore_empty,
                "a keystore, not a truststore");
}
