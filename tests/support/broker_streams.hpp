// c8y-mtls tests: what the tests of message streams against a real mosquitto share: a
// persistent-session mosquitto_sub that records every payload, and numbered messages published
// all at once with each completion counted.
#pragma once

#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/local_platform.hpp"

namespace c8y::mtls::test {

/// mosquitto_pub/mosquitto_sub flags for `device` of `broker`, as client `client_id`.
inline std::string mosquitto_flags(local_platform& broker, const std::string& device, const std::string& client_id)
{
    return " -h localhost -p " + std::to_string(broker.port()) + " --cafile " +
           shell_quote(broker.server_ca().string()) + " --cert " + shell_quote(broker.chain(device).string()) +
           " --key " + shell_quote(broker.plain_key(device).string()) + " -i " + client_id;
}

/// A client of `broker` for `device`, its encrypted key and password.
inline client client_of(local_platform& broker, asio::io_context& io, const std::string& device)
{
    return client(io.get_executor(),
                  credentials::from_pem_files(broker.chain(device), broker.key(device), broker.password(device)),
                  truststore::from_path(broker.server_ca()));
}

/// A mosquitto_sub of device "subscriber-0001" with a persistent session (-c), connected to the
/// broker directly, writing every payload on a line of its own into `output`; it reconnects by
/// itself through broker outages. The session and its subscription exist from construction;
/// it listens from then on, or from listen() when it starts offline (the broker queues for it
/// meanwhile).
class persistent_subscriber {
public:
    persistent_subscriber(local_platform& broker, const std::string& topic, int qos, const std::string& client_id,
                          std::filesystem::path output, bool online = true)
        : output_(std::move(output)),
          flags_(mosquitto_flags(broker, "subscriber-0001", client_id) + " -c -q " + std::to_string(qos) + " -t " +
                 shell_quote(topic))
    {
        run_command("mosquitto_sub" + flags_ + " -E 2>&1"); // -E: exit once subscribed
        std::filesystem::remove(output_);
        if (online)
            listen();
    }
    persistent_subscriber(const persistent_subscriber&) = delete;
    persistent_subscriber& operator=(const persistent_subscriber&) = delete;
    ~persistent_subscriber()
    {
        if (pid_ > 0)
            ::kill(pid_, SIGTERM);
    }

    void listen()
    {
        pid_ = std::stoi(run_command("mosquitto_sub" + flags_ + " -F %p > " + shell_quote(output_.string()) +
                                     " 2>/dev/null & echo $!"));
    }

    /// How many times each payload arrived, once `expected` distinct payloads did (or after 60 s).
    std::map<std::string, int> received(std::size_t expected) const
    {
        return received_until([&](const auto& counts) { return counts.size() >= expected; });
    }

    /// How many times each payload arrived, once every one of `expected` did (or after 60 s).
    std::map<std::string, int> received(const std::set<std::string>& expected) const
    {
        return received_until([&](const auto& counts) {
            return std::all_of(expected.begin(), expected.end(), [&](const std::string& p) { return counts.contains(p); });
        });
    }

private:
    template <class Done>
    std::map<std::string, int> received_until(Done done) const
    {
        std::map<std::string, int> counts;
        for (int tries = 0; tries < 600; ++tries) {
            counts.clear();
            std::ifstream in(output_);
            for (std::string line; std::getline(in, line);)
                ++counts[line];
            if (done(counts))
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return counts;
    }

    std::filesystem::path output_;
    std::string flags_;
    int pid_ = 0;
};

/// Publishes "m1".."m<total>" on `topic` at `qos`, all at once, and completes once every one
/// completed: acknowledged[i] counts how often m<i> was reported acknowledged, a failure fails
/// the test. `on_reached` runs once `reached` of them completed.
inline asio::awaitable<void> publish_numbered(client& device, const std::string& topic, mqtt::qos qos, int total,
                                              std::vector<int>& acknowledged, int reached,
                                              std::function<void()> on_reached)
{
    int done = 0;
    asio::steady_timer all_done(device.get_executor(), asio::steady_timer::time_point::max());
    for (int i = 1; i <= total; ++i)
        asio::co_spawn(device.get_executor(), device.publish(topic, "m" + std::to_string(i), qos),
                       [&, i](std::exception_ptr e) {
                           if (e) {
                               try {
                                   std::rethrow_exception(e);
                               } catch (const std::exception& x) {
                                   FAIL_CHECK("message m" << i << " failed: " << x.what());
                               }
                           } else {
                               ++acknowledged[static_cast<std::size_t>(i)];
                           }
                           if (++done == reached && on_reached)
                               on_reached();
                           if (done == total)
                               all_done.cancel();
                       });
    std::error_code woken;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, woken));
}

} // namespace c8y::mtls::test
