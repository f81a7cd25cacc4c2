// The example device: the shortest complete use of c8y-mtls. It connects with its certificate
// chain and encrypted key, gets its JWT, sends one measurement with SmartREST template 200 and
// disconnects.
//
//   c8y-mtls-demo-device HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem   (key password in $DEVICE_KEY_PASSWORD)
#include <c8y/mtls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace mtls = c8y::mtls;

asio::awaitable<void> run_device(mtls::client& device, std::string host, std::uint16_t port)
{
    mtls::connect_options where;
    where.host = host;
    where.port = port;
    co_await device.connect(where);
    std::cout << "connected as " << device.client_id() << " over " << device.tls_protocol() << "\n";

    const mtls::device_token token = co_await device.request_token();
    std::cout << "token for " << token.subject().value_or("(no subject)") << ", expires "
              << mtls::format_time(token.expires_at()) << "\n";

    co_await device.publish("s/us", "200,c8y_Temperature,T,21.5,C", mtls::mqtt::qos::at_least_once);
    std::cout << "measurement sent: 200,c8y_Temperature,T,21.5,C\n";

    co_await device.disconnect();
    std::cout << "disconnected\n";
}

int main(int argc, char** argv)
{
    if (argc != 6) {
        std::cerr << "usage: c8y-mtls-demo-device HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem"
                     "   (key password in $DEVICE_KEY_PASSWORD)\n";
        return 2;
    }
    const char* password = std::getenv("DEVICE_KEY_PASSWORD");
    try {
        asio::io_context io;
        mtls::client device(io.get_executor(),
                            mtls::credentials::from_pem_files(argv[4], argv[5], password ? password : ""),
                            mtls::truststore::from_path(argv[3]));
        bool ok = false;
        asio::co_spawn(io, run_device(device, argv[1], static_cast<std::uint16_t>(std::atoi(argv[2]))),
                       [&](std::exception_ptr failure) {
                           if (!failure) {
                               ok = true;
                               return;
                           }
                           device.close();
                           try {
                               std::rethrow_exception(failure);
                           } catch (const std::exception& e) {
                               std::cerr << "device failed: " << e.what() << "\n";
                           }
                       });
        io.run();
        return ok ? 0 : 1;
    } catch (const mtls::error& e) {
        std::cerr << "device cannot start: " << e.what() << "\n";
        return 2;
    }
}
