// c8y-mtls: basic_client, the coroutine MQTT client that connects a device with its certificate.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "c8y/mtls/client_id.hpp"
#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/tls_stream.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/time_format.hpp"
#include "c8y/mtls/tls.hpp"
#include "c8y/mtls/transport.hpp"
#include "c8y/mtls/wolfssl_tls.hpp"

namespace c8y::mtls {

/// Where and how to connect. The defaults are the platform's: port 8883, clean session,
/// the client id made from the device certificate's CN.
struct connect_options {
    std::string host{};
    std::uint16_t port = 8883;
    /// The MQTT client id as sent; empty: made from the device certificate's CN, with the
    /// options below.
    std::string client_id{};
    /// Prefix the CN with the connection type `d:` as the platform's Java example does.
    bool device_prefix = false;
    /// A default SmartREST template collection appended as `:<template>`.
    std::string default_template{};
    /// PINGREQ after this long without sending; 0 disables keepalive.
    std::chrono::seconds keepalive{60};
    /// Bound on TCP connect, TLS handshake and CONNACK together.
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

/// An application message, as received from a subscription.
using message = mqtt::publish;

/// An MQTT 3.1.1 client over mutual TLS, built from three policies:
/// - Transport (bytes over a connection; default asio_tcp_transport),
/// - Tls (a sans-I/O TLS engine; default wolfssl_tls),
/// - Clock (wall time for token expiry; default std::chrono::system_clock).
///
/// All operations are coroutines on the client's executor and must be awaited from it; they
/// throw c8y::mtls::error whose code names the cause (see error.hpp). Once the connection
/// fails, every pending and later operation throws that failure until connect() is awaited
/// again. Destroying the client closes the connection.
template <Transport T = asio_tcp_transport, Tls S = wolfssl_tls, Clock C = std::chrono::system_clock>
class basic_client {
    struct state;

public:
    using executor_type = asio::any_io_executor;
    using transport_type = T;
    using tls_type = S;
    using clock_type = C;

    /// Builds the TLS context from the device credentials and the truststore; the private key
    /// in `device` is wiped once the context holds it. Throws c8y::mtls::error (a key that does
    /// not match the certificate, an unusable truststore certificate).
    basic_client(executor_type ex, credentials device, const truststore& trust, const tls_options& tls = {})
        : state_(std::make_shared<state>(ex, device, trust, tls))
    {
        device.wipe_private_key();
    }

    basic_client(const basic_client&) = delete;
    basic_client& operator=(const basic_client&) = delete;
    ~basic_client() { state_->close(); }

    executor_type get_executor() const noexcept { return state_->executor; }

    /// Connects: TCP, TLS handshake (the server verified, the device's chain sent), then MQTT
    /// CONNECT with a clean session. Completes when the broker accepted (CONNACK 0).
    /// Throws c8y::mtls::error: host_not_found, connection_refused, connect_timeout,
    /// server_not_trusted, server_name_mismatch, a tls_alert_category() code when the broker
    /// rejects the device chain (the platform's certificate_unknown), or a connack_category()
    /// code when the broker refuses the CONNECT. Cancelled by closing the client.
    asio::awaitable<void> connect(connect_options options)
    {
        auto self = state_;
        if (options.keepalive.count() < 0 || options.keepalive.count() > 65535)
            throw error(errc::invalid_argument, "keepalive must be 0..65535 s, not " +
                                                    std::to_string(options.keepalive.count()));
        self->reset();
        self->client_id = options.client_id.empty()
                              ? client_id::for_device(self->common_name, options.device_prefix ? "d" : "",
                                                      options.default_template)
                                    .str()
                              : options.client_id;
        self->keepalive = options.keepalive;
        // A watchdog closes the stream at the deadline, which makes the pending step throw.
        self->connect_timed_out = false;
        self->connect_timer.expires_after(options.timeout);
        asio::co_spawn(self->executor, state::connect_watchdog(self, self->generation), asio::detached);
        try {
            co_await state::establish(self, options);
        } catch (const error&) {
            self->connect_timer.cancel();
            if (!self->connect_timed_out)
                throw;
        }
        self->connect_timer.cancel();
        if (self->connect_timed_out) {
            self->close();
            throw error(errc::connect_timeout, options.host + ":" + std::to_string(options.port) + " after " +
                                                   std::to_string(options.timeout.count()) + " ms");
        }
        self->connected = true;
        asio::co_spawn(self->executor, state::read_loop(self, self->stream, self->generation), asio::detached);
        if (options.keepalive.count() > 0)
            asio::co_spawn(self->executor, state::keepalive_loop(self, self->generation), asio::detached);
    }

    /// Publishes. QoS 0 completes once written; QoS 1 once PUBACK came, QoS 2 once PUBCOMP came.
    /// Throws mqtt_payload_too_large over the platform's 16184-byte limit, mqtt_invalid_topic,
    /// or the connection's failure. Cancelled by close(), which fails it with not_connected.
    asio::awaitable<void> publish(std::string topic, std::string payload, mqtt::qos qos = mqtt::qos::at_most_once,
                                  bool retain = false)
    {
        auto self = state_;
        self->throw_if_down();
        const std::uint16_t id = qos == mqtt::qos::at_most_once ? 0 : self->allocate_packet_id();
        // Encoded first: a message the codec refuses (too large, a bad topic) takes no packet id.
        const std::string bytes =
            mqtt::encode(mqtt::publish{std::move(topic), std::move(payload), qos, retain, false, id});
        if (qos == mqtt::qos::at_most_once) {
            co_await self->send_bytes(bytes);
            co_return;
        }
        auto ack = self->expect(id);
        co_await self->send_bytes(bytes);
        if (qos == mqtt::qos::exactly_once) {
            co_await state::await_ack(ack, mqtt::packet_type::pubrec);
            ack = self->expect(id);
            const mqtt::packet release = mqtt::pubrel{id};
            co_await self->send(release);
            co_await state::await_ack(ack, mqtt::packet_type::pubcomp);
        } else {
            co_await state::await_ack(ack, mqtt::packet_type::puback);
        }
    }

    /// Subscribes to one filter; completes with the QoS the broker granted. Throws
    /// subscription_refused when the broker answers 0x80, mqtt_invalid_topic for a bad filter,
    /// or the connection's failure. Cancelled by close().
    asio::awaitable<mqtt::qos> subscribe(std::string topic_filter, mqtt::qos qos = mqtt::qos::at_most_once)
    {
        auto self = state_;
        self->throw_if_down();
        const std::uint16_t id = self->allocate_packet_id();
        const std::string bytes = mqtt::encode(mqtt::subscribe{id, {{topic_filter, qos}}});
        auto ack = self->expect(id);
        co_await self->send_bytes(bytes);
        const mqtt::packet answer = co_await state::await_ack(ack, mqtt::packet_type::suback);
        const auto& codes = std::get<mqtt::suback>(answer).return_codes;
        if (codes.size() != 1)
            throw error(errc::mqtt_unexpected_packet, "SUBACK with " + std::to_string(codes.size()) +
                                                          " return codes for one subscription");
        if (codes[0] == mqtt::suback_failure)
            throw error(errc::subscription_refused, topic_filter);
        co_return static_cast<mqtt::qos>(codes[0]);
    }

    /// The next message from the subscriptions, in arrival order. Messages that arrive while
    /// nobody awaits are kept. Throws the connection's failure once the queue is empty; close()
    /// ends the wait the same way.
    asio::awaitable<message> receive()
    {
        auto self = state_;
        for (;;) {
            if (!self->inbox.empty()) {
                message m = std::move(self->inbox.front());
                self->inbox.pop_front();
                co_return m;
            }
            self->throw_if_down();
            co_await self->inbox_changed.wait();
        }
    }

    /// Gets the device's JWT the platform's way: subscribes to `s/dat` (once per connection),
    /// publishes an empty message on `s/uat`, and awaits `71,<JWT>` on `s/dat`.
    /// Throws token_timeout when no answer comes within `timeout`, token_answer_malformed,
    /// token_unexpected_template (another template number on s/dat), jwt_malformed, and
    /// token_expired when the token is already expired by the Clock. The JWT's signature is not
    /// checked: the device has no key to check it with. Cancelled by close().
    asio::awaitable<device_token> request_token(std::chrono::milliseconds timeout = std::chrono::seconds(30))
    {
        auto self = state_;
        self->throw_if_down();
        if (!self->token_topic_subscribed) {
            co_await subscribe("s/dat", mqtt::qos::at_most_once);
            self->token_topic_subscribed = true;
        }
        // Concurrent requests share one question and its answer.
        auto answer = self->token_answer;
        if (!answer) {
            answer = std::make_shared<detail::pending_result<std::string>>(self->executor);
            self->token_answer = answer;
            const mqtt::packet ask = mqtt::publish{"s/uat", "", mqtt::qos::at_most_once, false, false, 0};
            co_await self->send(ask);
        }
        const auto payload = co_await answer->wait_until(asio::steady_timer::clock_type::now() + timeout);
        if (self->token_answer == answer)
            self->token_answer.reset();
        if (!payload)
            throw error(errc::token_timeout, "nothing on s/dat within " + std::to_string(timeout.count()) +
                                                 " ms after publishing on s/uat");
        device_token token = parse_token_answer(*payload);
        const auto now = std::chrono::time_point_cast<std::chrono::seconds>(C::now());
        if (token.expired_at(now))
            throw error(errc::token_expired, "expired at " + format_time(token.expires_at()) + ", now is " +
                                                 format_time(now) + " (check the device clock)");
        co_return token;
    }

    /// Sends DISCONNECT and close_notify, then closes the connection. Never throws for a
    /// connection that is already gone.
    asio::awaitable<void> disconnect()
    {
        auto self = state_;
        if (self->connected && !self->failure) {
            self->closing = true;
            try {
                const mqtt::packet goodbye = mqtt::disconnect{};
                co_await self->send(goodbye);
                co_await self->stream->shutdown();
            } catch (const error&) {
                // Already gone: nothing left to say goodbye to.
            }
        }
        self->close();
    }

    /// Closes the connection at once, without DISCONNECT (the broker then publishes any last
    /// will). Pending operations complete with an error; background work stops.
    void close() noexcept { state_->close(); }

    bool is_connected() const noexcept { return state_->connected && !state_->failure; }
    /// The client id sent in the last CONNECT.
    const std::string& client_id() const noexcept { return state_->client_id; }
    /// The device certificate's CN: the device identifier the platform sees.
    const std::string& device_id() const noexcept { return state_->common_name; }
    /// Why the connection failed, if it did.
    std::optional<error> failure() const { return state_->failure; }
    /// The TLS version negotiated ("TLSv1.3"), once connected.
    std::string tls_protocol() const { return state_->connected ? state_->stream->session().protocol() : std::string(); }

private:
    // Everything the background coroutines share with the client; they hold it by shared_ptr
    // so that destroying the client while they wind down is safe.
    struct state {
        state(executor_type ex, const credentials& device, const truststore& trust, const tls_options& tls)
            : executor(ex), context(device, trust, tls), common_name(device.device_common_name()), inbox_changed(ex),
              keepalive_timer(ex), connect_timer(ex)
        {
        }

        executor_type executor;
        typename S::context context;
        std::string common_name;
        std::string client_id;
        std::chrono::seconds keepalive{};
        // One stream per connection, shared with that connection's background coroutines so
        // that a reconnect never pulls it from under them; `generation` tells them apart.
        std::shared_ptr<detail::tls_stream<T, S>> stream;
        std::uint64_t generation = 0;
        mqtt::decoder decoder;
        bool connected = false;
        bool closing = false;
        std::optional<error> failure;
        std::uint16_t last_packet_id = 0;
        std::map<std::uint16_t, std::shared_ptr<detail::pending_result<mqtt::packet>>> in_flight;
        std::set<std::uint16_t> qos2_received; // PUBREC sent, PUBREL not yet received
        std::deque<message> inbox;
        detail::async_event inbox_changed;
        bool token_topic_subscribed = false;
        std::shared_ptr<detail::pending_result<std::string>> token_answer;
        asio::steady_timer::time_point last_sent{};
        bool ping_outstanding = false;
        asio::steady_timer keepalive_timer;
        asio::steady_timer connect_timer;
        bool connect_timed_out = false;

        void reset()
        {
            close();
            stream = std::make_shared<detail::tls_stream<T, S>>(executor, context);
            ++generation;
            inbox.clear();
            decoder = mqtt::decoder{};
            connected = closing = ping_outstanding = token_topic_subscribed = false;
            failure.reset();
            in_flight.clear();
            qos2_received.clear();
        }

        void close() noexcept
        {
            closing = true;
            keepalive_timer.cancel();
            connect_timer.cancel();
            if (stream)
                stream->close();
        }

        void throw_if_down() const
        {
            if (failure)
                throw *failure;
            if (!connected)
                throw error(errc::not_connected);
        }

        // The connection is unusable: every waiter learns why.
        void fail(const error& e)
        {
            if (failure)
                return;
            failure = e;
            const auto ex = std::make_exception_ptr(e);
            for (auto& [id, pending] : in_flight)
                pending->fail(ex);
            in_flight.clear();
            if (token_answer)
                token_answer->fail(ex);
            inbox_changed.notify_all();
            close();
        }

        std::uint16_t allocate_packet_id()
        {
            for (int tries = 0; tries < 65535; ++tries) {
                last_packet_id = static_cast<std::uint16_t>(last_packet_id == 65535 ? 1 : last_packet_id + 1);
                if (!in_flight.contains(last_packet_id) && !qos2_received.contains(last_packet_id))
                    return last_packet_id;
            }
            throw error(errc::invalid_argument, "all 65535 packet ids are in flight");
        }

        std::shared_ptr<detail::pending_result<mqtt::packet>> expect(std::uint16_t packet_id)
        {
            auto pending = std::make_shared<detail::pending_result<mqtt::packet>>(executor);
            in_flight[packet_id] = pending;
            return pending;
        }

        static asio::awaitable<mqtt::packet> await_ack(std::shared_ptr<detail::pending_result<mqtt::packet>> ack,
                                                       mqtt::packet_type expected)
        {
            auto answer = co_await ack->wait_until(asio::steady_timer::time_point::max());
            if (mqtt::type_of(*answer) != expected)
                throw error(errc::mqtt_unexpected_packet,
                            std::string(mqtt::packet_name(mqtt::type_of(*answer))) + " where " +
                                std::string(mqtt::packet_name(expected)) + " was due");
            co_return std::move(*answer);
        }

        // Callers pass a named packet: g++ 12 can destroy a temporary in a co_await twice.
        asio::awaitable<void> send(const mqtt::packet& packet)
        {
            const std::string bytes = mqtt::encode(packet);
            co_await send_bytes(bytes);
        }

        // A write failure ends the connection for everyone waiting on it.
        asio::awaitable<void> send_bytes(std::string_view bytes)
        {
            throw_if_failed();
            try {
                last_sent = asio::steady_timer::clock_type::now();
                co_await stream->write(bytes);
            } catch (const error& e) {
                fail(e);
                throw;
            }
        }

        void throw_if_failed() const
        {
            if (failure)
                throw *failure;
        }

        static asio::awaitable<void> connect_watchdog(std::shared_ptr<state> self, std::uint64_t generation)
        {
            std::error_code ec;
            co_await self->connect_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (!ec && self->generation == generation && !self->connected) {
                self->connect_timed_out = true;
                self->close();
            }
        }

        // TCP, TLS and the CONNECT/CONNACK exchange.
        static asio::awaitable<void> establish(std::shared_ptr<state> self, connect_options options)
        {
            co_await self->stream->connect(options.host, options.port);
            mqtt::connect hello;
            hello.client_id = self->client_id;
            hello.keepalive = static_cast<std::uint16_t>(options.keepalive.count());
            hello.clean_session = true;
            const std::string hello_bytes = mqtt::encode(hello);
            co_await self->stream->write(hello_bytes);
            self->last_sent = asio::steady_timer::clock_type::now();
            const mqtt::packet first = co_await self->read_packet(*self->stream);
            const auto* ack = std::get_if<mqtt::connack>(&first);
            if (!ack)
                throw error(errc::mqtt_unexpected_packet,
                            std::string(mqtt::packet_name(mqtt::type_of(first))) + " where CONNACK was due");
            if (ack->return_code != 0)
                throw error(make_connack_error(ack->return_code), "client id '" + self->client_id + "'");
        }

        asio::awaitable<mqtt::packet> read_packet(detail::tls_stream<T, S>& from)
        {
            for (;;) {
                if (auto packet = decoder.next())
                    co_return std::move(*packet);
                std::array<char, 4096> buffer;
                const std::size_t n = co_await from.read_some(buffer);
                decoder.feed(std::string_view(buffer.data(), n));
            }
        }

        static asio::awaitable<void> read_loop(std::shared_ptr<state> self,
                                               std::shared_ptr<detail::tls_stream<T, S>> stream,
                                               std::uint64_t generation)
        {
            try {
                for (;;) {
                    mqtt::packet packet = co_await self->read_packet(*stream);
                    co_await self->dispatch(packet);
                }
            } catch (const error& e) {
                if (self->generation != generation)
                    co_return; // an earlier connection, already replaced
                if (self->closing && !self->failure)
                    self->fail(error(errc::not_connected, "disconnected"));
                else
                    self->fail(e);
            }
        }

        asio::awaitable<void> dispatch(mqtt::packet& packet)
        {
            switch (mqtt::type_of(packet)) {
            case mqtt::packet_type::publish: {
                auto& m = std::get<mqtt::publish>(packet);
                const std::uint16_t id = m.packet_id;
                const mqtt::qos qos = m.qos;
                bool deliver = true;
                if (qos == mqtt::qos::exactly_once)
                    deliver = qos2_received.insert(id).second; // a resent PUBLISH is delivered once
                if (deliver)
                    deliver_message(std::move(m));
                if (qos != mqtt::qos::at_most_once) {
                    const mqtt::packet ack = qos == mqtt::qos::at_least_once ? mqtt::packet(mqtt::puback{id})
                                                                             : mqtt::packet(mqtt::pubrec{id});
                    co_await send(ack);
                }
                break;
            }
            case mqtt::packet_type::pubrel: {
                const std::uint16_t id = std::get<mqtt::pubrel>(packet).packet_id;
                qos2_received.erase(id);
                const mqtt::packet released = mqtt::pubcomp{id};
                co_await send(released);
                break;
            }
            case mqtt::packet_type::puback:
            case mqtt::packet_type::pubrec:
            case mqtt::packet_type::pubcomp:
            case mqtt::packet_type::suback:
            case mqtt::packet_type::unsuback:
                complete(packet);
                break;
            case mqtt::packet_type::pingresp:
                ping_outstanding = false;
                break;
            case mqtt::packet_type::connack: {
                // The platform may report an error this way before closing the connection.
                const auto code = std::get<mqtt::connack>(packet).return_code;
                throw error(code ? make_connack_error(code) : make_error_code(errc::mqtt_unexpected_packet),
                            "CONNACK in the middle of the session");
            }
            default:
                throw error(errc::mqtt_unexpected_packet,
                            std::string(mqtt::packet_name(mqtt::type_of(packet))) + " sent by the broker");
            }
        }

        void deliver_message(message m)
        {
            if (m.topic == "s/dat" && token_answer) {
                auto answer = std::move(token_answer);
                answer->complete(std::move(m.payload));
                return;
            }
            inbox.push_back(std::move(m));
            inbox_changed.notify_all();
        }

        // An acknowledgement completes the operation waiting for its packet id.
        void complete(const mqtt::packet& answer)
        {
            const std::uint16_t packet_id = std::visit(
                [](const auto& p) -> std::uint16_t {
                    if constexpr (requires { p.packet_id; })
                        return p.packet_id;
                    else
                        return 0;
                },
                answer);
            const auto it = in_flight.find(packet_id);
            if (it == in_flight.end())
                throw error(errc::mqtt_unexpected_packet,
                            std::string(mqtt::packet_name(mqtt::type_of(answer))) + " for packet id " +
                                std::to_string(packet_id) + ", which is not in flight");
            auto pending = std::move(it->second);
            in_flight.erase(it);
            pending->complete(answer);
        }

        // PINGREQ when nothing was sent for a keepalive interval; a PINGRESP that has not come
        // by the next interval means the broker is gone.
        static asio::awaitable<void> keepalive_loop(std::shared_ptr<state> self, std::uint64_t generation)
        {
            auto& timer = self->keepalive_timer;
            while (self->generation == generation && !self->failure && !self->closing) {
                const auto due = self->last_sent + self->keepalive;
                timer.expires_at(self->ping_outstanding ? asio::steady_timer::clock_type::now() + self->keepalive : due);
                std::error_code ignored;
                co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                if (self->generation != generation || self->failure || self->closing)
                    break;
                if (self->ping_outstanding) {
                    self->fail(error(errc::timeout, "no PINGRESP within the keepalive interval of " +
                                                        std::to_string(self->keepalive.count()) + " s"));
                    break;
                }
                if (asio::steady_timer::clock_type::now() >= self->last_sent + self->keepalive) {
                    self->ping_outstanding = true;
                    try {
                        const mqtt::packet ping = mqtt::pingreq{};
                        co_await self->send(ping);
                    } catch (const error&) {
                        break;
                    }
                }
            }
        }
    };

    std::shared_ptr<state> state_;
};

/// The client with the default policies: Asio TCP, wolfSSL, the system clock.
using client = basic_client<>;

} // namespace c8y::mtls
