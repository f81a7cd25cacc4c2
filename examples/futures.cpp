// An application without coroutines of its own: the demo device's steps (connect, get the JWT,
// send one measurement, disconnect) as blocking calls on the main thread, each waiting for a
// std::future (asio::use_future), while another thread runs the io_context. A failed step's
// future rethrows the c8y::mtls::error, detail and all.
//
//   c8y-mtls-futures HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem   (key password in $DEVICE_KEY_PASSWORD)
#include <c8y/mtls.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

namespace mtls = c8y::mtls;

namespace {

// The thread that runs the io_context while `device` is used from the main thread. Its end
// closes the client on that thread (nothing after a clean disconnect), lets the io_context
// finish what remains and joins: the client is then destroyed while no thread runs it.
class io_thread {
public:
    io_thread(asio::io_context& io, mtls::client& device)
        : io_(io), device_(device), work_(asio::make_work_guard(io)), thread_([&io] { io.run(); })
    {
    }
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;
    ~io_thread()
    {
        asio::post(io_, [&device = device_] { device.close(); });
        work_.reset();
        thread_.join();
    }

private:
    asio::io_context& io_;
    mtls::client& device_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;
};

} // namespace

int main(int argc, char** argv)
{
    if (argc != 6) {
        std::cerr << "usage: c8y-mtls-futures HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem"
                     "   (key password in $DEVICE_KEY_PASSWORD)\n";
        return 2;
    }
    const char* password = std::getenv("DEVICE_KEY_PASSWORD");
    asio::io_context io;
    try {
        mtls::client device(io.get_executor(),
                            mtls::credentials::from_pem_files(argv[4], argv[5], password ? password : ""),
                            mtls::truststore::from_path(argv[3]));
        const io_thread running(io, device);
        mtls::connect_options where;
        where.host = argv[1];
        where.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
        device.connect(where, asio::use_future).get();
        // What the client tells of itself is read on the io_context's thread.
        const std::string tls = asio::post(io, asio::use_future([&device] { return device.tls_protocol(); })).get();
        std::cout << "connected as " << device.client_id() << " over " << tls << "\n";

        const mtls::device_token token = device.request_token(std::chrono::seconds(30), asio::use_future).get();
        std::cout << "token for " << token.subject().value_or("(no subject)") << ", expires "
                  << mtls::format_time(token.expires_at()) << "\n";

        device.publish("s/us", "200,c8y_Temperature,T,21.5,C", mtls::mqtt::qos::at_least_once, false, asio::use_future)
            .get();
        std::cout << "measurement sent: 200,c8y_Temperature,T,21.5,C\n";

        device.disconnect(std::chrono::seconds(10), asio::use_future).get();
        std::cout << "disconnected\n";
        return 0;
    } catch (const mtls::error& e) {
        std::cerr << "c8y-mtls-futures: " << e.what() << "\n";
        return 1;
    }
}
