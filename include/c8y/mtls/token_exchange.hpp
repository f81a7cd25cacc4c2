// c8y-mtls: the platform's token exchange over MQTT, a layer on top of the MQTT client: an empty
// message on s/uat, the answer `71,<JWT>` on s/dat. The client itself knows nothing of either.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/clock_timer.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/time_format.hpp"

namespace c8y::mtls {

/// What a layer on top of the MQTT client sees of its messages before the inbox does
/// (basic_client::intercept()).
struct message_tap {
    std::string topic_filter;
    /// A message on the filter; true takes it (receive() never sees it).
    std::function<bool(const mqtt::publish&)> on_message;
    /// The client stopped, with this error.
    std::function<void(const error&)> on_stop;
};

namespace detail {

/// The token requests of one client (basic_client::request_token()): concurrent requests share
/// one question and its answer. `Client` is a handle on the client's state (wait_until_connected,
/// intercept, subscribed_to, subscribe, publish) copied into each request, which holds it and
/// this object's state: a request may outlive both objects (a client moved or destroyed).
template <class Client>
class token_exchange {
    using clock = typename Client::clock_type;
    using timer_clock = timer_clock_t<clock>;
    using answer_type = pending_result<std::string, clock_timer<clock>>;
    struct state;

public:
    asio::awaitable<device_token> request(Client client, std::chrono::milliseconds timeout) const
    {
        return run(state_, std::move(client), timeout);
    }

private:
    // Defined below the class, so that not being inline, the library's explicit instantiation
    // under separate compilation is the only one.
    static asio::awaitable<device_token> run(std::shared_ptr<state> shared, Client client,
                                             std::chrono::milliseconds timeout);

    struct state {
        std::shared_ptr<answer_type> answer;
        bool tapped = false;
    };
    std::shared_ptr<state> state_ = std::make_shared<state>();
};

template <class Client>
asio::awaitable<device_token> token_exchange<Client>::run(std::shared_ptr<state> shared, Client client,
                                                         std::chrono::milliseconds timeout)
{
    co_await client.wait_until_connected();
    if (!shared->tapped) {
        // Once for the client's life (taps outlive connect() runs). The tap holds the state,
        // not this object: the client's background work may outlive it.
        client.intercept({"s/dat",
                          [state = shared](const mqtt::publish& m) {
                              if (!state->answer)
                                  return false;
                              std::exchange(state->answer, nullptr)->complete(m.payload);
                              return true;
                          },
                          [state = shared](const error& e) {
                              if (state->answer)
                                  std::exchange(state->answer, nullptr)->fail(std::make_exception_ptr(e));
                          }});
        shared->tapped = true;
    }
    if (!client.subscribed_to("s/dat"))
        co_await client.subscribe("s/dat", mqtt::qos::at_most_once);
    // The answer's time counts from the question, not from when its write completed.
    const auto deadline = timer_clock::now() + timeout;
    auto answer = shared->answer;
    if (!answer) {
        answer = std::make_shared<answer_type>(client.get_executor());
        shared->answer = answer;
        co_await client.publish("s/uat", "", mqtt::qos::at_most_once);
    }
    const auto payload = co_await answer->wait_until(deadline, "request_token");
    if (shared->answer == answer)
        shared->answer.reset();
    if (!payload)
        throw error(errc::token_timeout, "nothing on s/dat within " + std::to_string(timeout.count()) +
                                             " ms after publishing on s/uat");
    device_token token = parse_token_answer(*payload);
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(clock::now());
    if (token.expired_at(now))
        throw error(errc::token_expired, "expired at " + format_time(token.expires_at()) + ", now is " +
                                             format_time(now) + " (check the device clock)");
    co_return token;
}

} // namespace detail
} // namespace c8y::mtls
