// The small client program of the compile-time benchmark (compile_bench.py): connects a device,
// publishes one message, requests its JWT and disconnects. Compiled, never run.
#include <c8y/mtls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace mtls = c8y::mtls;

asio::awaitable<void> run(mtls::client& device, std::string host)
{
    mtls::connect_options where;
    where.host = std::move(host);
    co_await device.connect(where);
    co_await device.publish("s/us", "200,c8y_Temperature,T,21.5", mtls::mqtt::qos::at_least_once);
    const mtls::device_token token = co_await device.request_token();
    std::cout << "token for " << device.device_id() << " valid until " << mtls::format_time(token.expires_at()) << "\n";
    co_await device.disconnect();
}

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::cerr << "usage: c8y-client HOST SERVER_CA.pem CHAIN.pem KEY.pem\n";
        return 2;
    }
    try {
        asio::io_context io;
        mtls::client device(io.get_executor(), mtls::credentials::from_pem_files(argv[3], argv[4], ""),
                            mtls::truststore::from_path(argv[2]));
        asio::co_spawn(io, run(device, argv[1]), [](std::exception_ptr failure) {
            if (failure)
                std::rethrow_exception(failure);
        });
        io.run();
        return 0;
    } catch (const mtls::error& e) {
        std::cerr << "c8y-client: " << e.what() << "\n";
        return 1;
    }
}
