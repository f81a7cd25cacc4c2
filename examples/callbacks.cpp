// An application without coroutines of its own: the demo device's steps (connect, get the JWT,
// send one measurement, disconnect) as a chain of callbacks on one thread that runs the
// io_context. Each callback gets a std::error_code; c8y::mtls::completion_error() holds the
// whole error, with its detail, while the callback runs.
//
//   c8y-mtls-callbacks HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem   (key password in $DEVICE_KEY_PASSWORD)
#include <c8y/mtls.hpp>

#include <asio/io_context.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <system_error>

namespace mtls = c8y::mtls;

namespace {

// The steps, each started by the previous one's callback. The device outlives them all.
class demo {
public:
    explicit demo(mtls::client& device) : device_(device) {}

    void start(const std::string& host, std::uint16_t port)
    {
        mtls::connect_options where;
        where.host = host;
        where.port = port;
        device_.connect(where, [this](std::error_code ec) {
            if (failed(ec, "connect"))
                return;
            std::cout << "connected as " << device_.client_id() << " over " << device_.tls_protocol() << "\n";
            device_.request_token(std::chrono::seconds(30), [this](std::error_code ec, mtls::device_token token) {
                if (failed(ec, "token"))
                    return;
                std::cout << "token for " << token.subject().value_or("(no subject)") << ", expires "
                          << mtls::format_time(token.expires_at()) << "\n";
                send_measurement();
            });
        });
    }

    bool succeeded() const noexcept { return succeeded_; }

private:
    void send_measurement()
    {
        device_.publish("s/us", "200,c8y_Temperature,T,21.5,C", mtls::mqtt::qos::at_least_once, false,
                        [this](std::error_code ec) {
                            if (failed(ec, "publish"))
                                return;
                            std::cout << "measurement sent: 200,c8y_Temperature,T,21.5,C\n";
                            device_.disconnect(std::chrono::seconds(10), [this](std::error_code ec) {
                                if (failed(ec, "disconnect"))
                                    return;
                                std::cout << "disconnected\n";
                                succeeded_ = true;
                            });
                        });
    }

    // Prints a failure with its detail (readable only during the callback) and closes.
    bool failed(std::error_code ec, const char* step)
    {
        if (!ec)
            return false;
        const mtls::error* e = mtls::completion_error();
        std::cerr << "c8y-mtls-callbacks: " << step << ": " << (e ? e->what() : ec.message()) << "\n";
        device_.close();
        return true;
    }

    mtls::client& device_;
    bool succeeded_ = false;
};

} // namespace

int main(int argc, char** argv)
{
    if (argc != 6) {
        std::cerr << "usage: c8y-mtls-callbacks HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem"
                     "   (key password in $DEVICE_KEY_PASSWORD)\n";
        return 2;
    }
    const char* password = std::getenv("DEVICE_KEY_PASSWORD");
    try {
        asio::io_context io;
        mtls::client device(io.get_executor(),
                            mtls::credentials::from_pem_files(argv[4], argv[5], password ? password : ""),
                            mtls::truststore::from_path(argv[3]));
        demo steps(device);
        steps.start(argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])));
        io.run(); // until the last callback: nothing else keeps the io_context busy then
        return steps.succeeded() ? 0 : 1;
    } catch (const mtls::error& e) { // the credentials or the truststore
        std::cerr << "c8y-mtls-callbacks: " << e.what() << "\n";
        return 1;
    }
}
