// mqtt_bench: c8y-mtls under test. One io_context on the calling thread runs the client; each
// operation of the driver runs it until that operation completes.
#include <c8y/mtls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <algorithm>
#include <exception>
#include <vector>

#include "mqtt_bench.hpp"

namespace mtls = c8y::mtls;

namespace bench {
namespace {

// Far above any healthy run: a benchmark that stalls ends with an error instead of hanging.
constexpr std::chrono::minutes stall_limit{5};

struct publish_job {
    mtls::client& client;
    const std::string& topic;
    const std::string& payload;
    mtls::mqtt::qos qos;
    std::size_t count;
    std::size_t started = 0;
};

// One of `window` publishers sharing a job: each keeps one message in flight, so the window is
// the number of publishers, the way an application awaits several publishes at once.
asio::awaitable<void> publisher(publish_job& job)
{
    while (job.started < job.count) {
        ++job.started;
        co_await job.client.publish(job.topic, job.payload, job.qos);
    }
}

class c8y_mtls_library final : public mqtt_library {
public:
    explicit c8y_mtls_library(const broker& where)
        : client_(io_.get_executor(), mtls::credentials::from_pem_files(where.chain, where.key, where.key_password),
                  mtls::truststore::from_path(where.cafile))
    {
        options_.host = where.host;
        options_.port = where.port; // the client id: the certificate's CN, as the platform wants
        options_.keepalive = std::chrono::seconds(where.keepalive_s);
    }

    std::string_view name() const override { return "c8y-mtls"; }

    clock::duration connect() override
    {
        const auto start = clock::now();
        std::vector<asio::awaitable<void>> connecting;
        connecting.push_back(client_.connect(options_));
        run(std::move(connecting), "connect");
        return clock::now() - start;
    }

    void disconnect() override
    {
        std::vector<asio::awaitable<void>> leaving;
        leaving.push_back(client_.disconnect());
        run(std::move(leaving), "disconnect");
    }

    void publish(const std::string& topic, const std::string& payload, int qos, std::size_t count,
                 std::size_t window) override
    {
        publish_job job{client_, topic, payload, qos == 0 ? mtls::mqtt::qos::at_most_once : mtls::mqtt::qos::at_least_once,
                        count};
        std::vector<asio::awaitable<void>> publishers;
        for (std::size_t i = 0; i < std::min(window, count); ++i)
            publishers.push_back(publisher(job));
        run(std::move(publishers), "publish");
    }

private:
    // Runs the operations together until all completed; rethrows the first failure.
    void run(std::vector<asio::awaitable<void>> operations, std::string_view what)
    {
        std::size_t remaining = operations.size();
        std::exception_ptr first_failure;
        for (auto& operation : operations)
            asio::co_spawn(io_, std::move(operation), [&](std::exception_ptr e) {
                if (e && !first_failure)
                    first_failure = e;
                if (--remaining == 0)
                    io_.stop(); // the client's reader and keepalive wait for the next run
            });
        io_.restart();
        io_.run_for(stall_limit);
        if (remaining != 0)
            throw failure("c8y-mtls: " + std::string(what) + " did not complete within 5 minutes");
        if (first_failure) {
            try {
                std::rethrow_exception(first_failure);
            } catch (const std::exception& e) {
                throw failure("c8y-mtls: " + std::string(what) + ": " + e.what());
            }
        }
    }

    asio::io_context io_;
    mtls::client client_;
    mtls::connect_options options_;
};

} // namespace

std::unique_ptr<mqtt_library> make_c8y_mtls(const broker& where)
{
    try {
        return std::make_unique<c8y_mtls_library>(where);
    } catch (const mtls::error& e) {
        throw failure(std::string("c8y-mtls: cannot build the client: ") + e.what());
    }
}

} // namespace bench
