// The smallest program that connects a device with c8y-mtls and publishes one message; its
// stripped size, memory and run time are what mqtt_bench compares with the other libraries'.
//
//   c8y-mtls-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS   (password in $DEVICE_KEY_PASSWORD)
//
// Connects, publishes 64 bytes at QoS 1, stays connected and idle for IDLE_MS, disconnects.
// Exit 0 on success, 1 with the cause on stderr otherwise, 2 for bad arguments.
#include <c8y/mtls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace mtls = c8y::mtls;

asio::awaitable<void> run(mtls::client& device, std::string host, std::uint16_t port, std::chrono::milliseconds idle)
{
    mtls::connect_options where;
    where.host = host;
    where.port = port;
    co_await device.connect(where);
    const std::string topic = "bench/minimal";
    const std::string payload(64, 'x');
    co_await device.publish(topic, payload, mtls::mqtt::qos::at_least_once);
    asio::steady_timer timer(device.get_executor(), idle);
    co_await timer.async_wait(asio::use_awaitable);
    co_await device.disconnect();
}

int main(int argc, char** argv)
{
    if (argc != 7) {
        std::cerr << "usage: c8y-mtls-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS\n";
        return 2;
    }
    const char* password = std::getenv("DEVICE_KEY_PASSWORD");
    try {
        asio::io_context io;
        mtls::client device(io.get_executor(),
                            mtls::credentials::from_pem_files(argv[4], argv[5], password ? password : ""),
                            mtls::truststore::from_path(argv[3]));
        int status = 1;
        asio::co_spawn(io,
                       run(device, argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])),
                           std::chrono::milliseconds(std::atol(argv[6]))),
                       [&](std::exception_ptr failure) {
                           if (!failure) {
                               status = 0;
                               return;
                           }
                           device.close();
                           try {
                               std::rethrow_exception(failure);
                           } catch (const std::exception& e) {
                               std::cerr << "c8y-mtls-minimal: " << e.what() << "\n";
                           }
                       });
        io.run();
        return status;
    } catch (const mtls::error& e) {
        std::cerr << "c8y-mtls-minimal: " << e.what() << "\n";
        return 1;
    }
}
