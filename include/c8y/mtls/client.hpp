// c8y-mtls: basic_client, the coroutine MQTT client that connects a device with its certificate
// and keeps it connected.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "c8y/mtls/chain_validator.hpp"
#include "c8y/mtls/client_id.hpp"
#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/clock_timer.hpp"
#include "c8y/mtls/detail/tls_stream.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/time_format.hpp"
#include "c8y/mtls/tls.hpp"
#include "c8y/mtls/transport.hpp"
#include "c8y/mtls/wolfssl_tls.hpp"

namespace c8y::mtls {

/// Where the client stands.
enum class connection_state {
    stopped,      ///< not connected and not trying: before connect(), after disconnect(), or after a final error
    connecting,   ///< connect() is running its attempt
    connected,    ///< CONNACK 0 received; the connection is up
    reconnecting, ///< the connection was lost; the client waits out its backoff and tries again
};

constexpr std::string_view to_string(connection_state s) noexcept
{
    switch (s) {
    case connection_state::stopped: return "stopped";
    case connection_state::connecting: return "connecting";
    case connection_state::connected: return "connected";
    case connection_state::reconnecting: return "reconnecting";
    }
    return "unknown";
}

/// How the client reconnects once a connection it had is lost. Errors that another attempt
/// cannot fix (see retry_can_help()) stop the client instead.
struct reconnect_options {
    bool enabled = true;
    /// The delay before the first new attempt; it doubles with every failed attempt up to max_delay.
    std::chrono::milliseconds initial_delay{1000};
    std::chrono::milliseconds max_delay{std::chrono::minutes(2)};
    /// Each delay d is drawn uniformly from [d * (1 - jitter), d], so that a fleet that lost
    /// its broker at the same moment does not come back at the same moment. 0..1.
    double jitter = 0.5;
};

/// What publish() does when the send queue is full.
enum class queue_full_policy {
    reject_new,       ///< the new message fails with send_queue_full
    drop_oldest_qos0, ///< queued QoS 0 messages make room, oldest first (each fails with message_dropped); if none is left, as reject_new
};

/// Messages wait in the send queue while the client is reconnecting, and while the window of
/// QoS 1/2 messages in flight is full.
struct send_queue_options {
    std::size_t max_messages = 1000;
    std::size_t max_bytes = 1024 * 1024; ///< topic and payload bytes of the queued messages
    queue_full_policy when_full = queue_full_policy::reject_new;
    /// Called with each message the queue drops to make room (drop_oldest_qos0).
    std::function<void(const mqtt::publish&)> on_drop{};
};

/// Where and how to connect, and how to stay connected. The defaults are the platform's:
/// port 8883, clean session, the client id made from the device certificate's CN.
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
    /// PINGREQ after this long without traffic; 0 disables keepalive.
    std::chrono::seconds keepalive{60};
    /// How long a PINGRESP may take before the connection is declared dead; 0: half the
    /// keepalive, so that a silent broker is detected within 1.5 times the keepalive.
    std::chrono::milliseconds ping_timeout{0};
    /// Bound on TCP connect, TLS handshake and CONNACK together, for every attempt.
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};
    /// The platform requires a clean session. With false (brokers that keep sessions), QoS 1/2
    /// messages in flight survive a reconnect on the broker's side as well.
    bool clean_session = true;
    reconnect_options reconnect{};
    send_queue_options send_queue{};
    /// QoS 1/2 messages sent and not yet acknowledged, at most; more wait in the send queue.
    /// 20 is mosquitto's default limit: beyond it, mosquitto 2.0 acknowledges further QoS 2
    /// messages of an MQTT 3.1.1 client but drops them.
    std::size_t max_in_flight = 20;
    /// Called on every change of connection_state, with the error that caused it, if any; also
    /// after each failed reconnect attempt, and when the broker refuses a subscription being
    /// restored after a reconnect (connected, subscription_refused: it is not restored again).
    std::function<void(connection_state, const std::optional<error>&)> on_state_change{};
    /// connect() first judges the device chain offline as the platform will (chain_validator,
    /// without the uploaded CA, which the device does not know) and fails with chain_rejected
    /// naming the first problem instead of handshaking. Tls policies without certificate
    /// cryptography (certificate_crypto) skip it.
    bool validate_chain = true;
    /// The rules of that check: the guide's profile by default (at most 2 certificates, the
    /// public cloud's limit); dedicated installations may allow longer chains.
    chain_validator_options chain_rules{};
};

/// An application message, as received from a subscription.
using message = mqtt::publish;

/// An MQTT 3.1.1 client over mutual TLS that stays connected, built from three policies:
/// - Transport (bytes over a connection; default asio_tcp_transport),
/// - Tls (a sans-I/O TLS engine; default wolfssl_tls),
/// - Clock (wall time for token expiry, and the timer clock; default std::chrono::system_clock).
///
/// connect() makes the first connection. After that, a lost connection is rebuilt by itself
/// (a new TCP connection and TLS session, the subscriptions restored, unacknowledged QoS 1/2
/// messages sent again with DUP set), with exponential backoff and jitter, until disconnect(),
/// close(), or an error that a retry cannot fix (see retry_can_help()).
///
/// All operations are coroutines on the client's executor and must be awaited from it. They
/// throw c8y::mtls::error whose code names the cause (see error.hpp), and throw
/// operation_aborted when the awaiting coroutine is cancelled (asio::bind_cancellation_slot);
/// a cancelled operation never leaves a half-written packet behind. Destroying the client
/// closes the connection.
template <Transport T = asio_tcp_transport, Tls S = wolfssl_tls, Clock C = std::chrono::system_clock>
class basic_client {
    struct core;

public:
    using executor_type = asio::any_io_executor;
    using transport_type = T;
    using tls_type = S;
    using clock_type = C;

    /// Builds the TLS context from the device credentials and the truststore; the private key
    /// in `device` is wiped once the context holds it. Throws c8y::mtls::error (a key that does
    /// not match the certificate, an unusable truststore certificate).
    basic_client(executor_type ex, credentials device, const truststore& trust, const tls_options& tls = {})
        : state_(std::make_shared<core>(ex, device, trust, tls))
    {
        device.wipe_private_key();
        state_->device.emplace(std::move(device)); // the chain, for connect()'s check
    }

    basic_client(const basic_client&) = delete;
    basic_client& operator=(const basic_client&) = delete;
    ~basic_client() { state_->stop(error(errc::not_connected, "client destroyed")); }

    executor_type get_executor() const noexcept { return state_->executor; }

    /// Connects: TCP, TLS handshake (the server verified, the device's chain sent), then MQTT
    /// CONNECT. Completes when the broker accepted (CONNACK 0); from then on the client
    /// reconnects by itself as `options.reconnect` says. This first attempt is not retried.
    /// Throws c8y::mtls::error: invalid_argument, host_not_found, connection_refused,
    /// connect_timeout, server_not_trusted, server_name_mismatch, a tls_alert_category() code
    /// when the broker rejects the device chain (the platform's certificate_unknown), or a
    /// connack_category() code when the broker refuses the CONNECT, chain_rejected when the
    /// device chain breaks the platform's rules (options.validate_chain). A client that was
    /// running is stopped first (its pending operations fail with not_connected).
    asio::awaitable<void> connect(connect_options options)
    {
        auto self = state_;
        validate(options);
        self->stop(error(errc::not_connected, "connect() called again"));
        self->start_run(std::move(options));
        try {
            if constexpr (certificate_crypto<S>)
                if (self->options.validate_chain)
                    validate_credentials<S, C>(*self->device, self->client_id, self->options.chain_rules)
                        .throw_if_rejected();
            const bool session_present = co_await core::attempt(self);
            self->connected(session_present);
        } catch (const error& e) {
            self->stop(e);
            throw;
        } catch (...) {
            self->stop(error(errc::operation_aborted, "connect cancelled"));
            throw;
        }
    }

    /// Publishes. QoS 0 completes once written to the connection; QoS 1 once PUBACK came, QoS 2
    /// once PUBCOMP came, however many reconnects that takes. While the client reconnects, or
    /// while max_in_flight messages await their acknowledgement, the message waits in the send
    /// queue. Throws mqtt_payload_too_large over the platform's 16184-byte limit,
    /// mqtt_invalid_topic, send_queue_full, message_dropped (drop_oldest_qos0 made room with
    /// it), not_connected once the client stopped (or the error that stopped it), and
    /// operation_aborted when cancelled: a queued message is then withdrawn, one already sent
    /// stays with the broker's session.
    asio::awaitable<void> publish(std::string topic, std::string payload, mqtt::qos qos = mqtt::qos::at_most_once,
                                  bool retain = false)
    {
        auto self = state_;
        self->throw_if_stopped();
        mqtt::publish m{std::move(topic), std::move(payload), qos, retain, false,
                        static_cast<std::uint16_t>(qos == mqtt::qos::at_most_once ? 0 : 1)};
        // Encoded once to refuse what the broker would refuse, before it takes a place in the queue.
        (void)mqtt::encode(m);
        m.packet_id = 0;
        const std::size_t size = m.topic.size() + m.payload.size();
        auto item = std::make_shared<outgoing>(self->executor, std::move(m), size);
        self->enqueue(item);
        try {
            co_await item->done.wait("publish");
        } catch (const error& e) {
            if (e.code() == errc::operation_aborted)
                self->withdraw(item);
            throw;
        }
    }

    /// Subscribes to one filter; completes with the QoS the broker granted. The subscription is
    /// restored after every reconnect. Waits for the connection while reconnecting. Throws
    /// subscription_refused when the broker answers 0x80, mqtt_invalid_topic for a bad filter,
    /// the error of a connection lost before SUBACK, not_connected once stopped, operation_aborted.
    asio::awaitable<mqtt::qos> subscribe(std::string topic_filter, mqtt::qos qos = mqtt::qos::at_most_once)
    {
        auto self = state_;
        co_await self->wait_until_connected("subscribe");
        const std::uint16_t id = self->allocate_packet_id();
        const mqtt::packet request = mqtt::subscribe{id, {{topic_filter, qos}}};
        const mqtt::packet answer = co_await self->exchange(request, id, mqtt::packet_type::suback, "subscribe");
        const auto& codes = std::get<mqtt::suback>(answer).return_codes;
        if (codes.size() != 1)
            throw error(errc::mqtt_unexpected_packet, "SUBACK with " + std::to_string(codes.size()) +
                                                          " return codes for one subscription");
        if (codes[0] == mqtt::suback_failure)
            throw error(errc::subscription_refused, topic_filter);
        self->remember_subscription({topic_filter, qos});
        co_return static_cast<mqtt::qos>(codes[0]);
    }

    /// Unsubscribes from one filter (it is no longer restored after reconnects). Completes when
    /// UNSUBACK came. Throws like subscribe().
    asio::awaitable<void> unsubscribe(std::string topic_filter)
    {
        auto self = state_;
        co_await self->wait_until_connected("unsubscribe");
        std::erase_if(self->subscriptions, [&](const mqtt::subscription& s) { return s.topic_filter == topic_filter; });
        const std::uint16_t id = self->allocate_packet_id();
        const mqtt::packet request = mqtt::unsubscribe{id, {topic_filter}};
        co_await self->exchange(request, id, mqtt::packet_type::unsuback, "unsubscribe");
    }

    /// The next message from the subscriptions, in arrival order. Messages that arrive while
    /// nobody awaits are kept, across reconnects. Throws the error that stopped the client once
    /// the inbox is empty, and operation_aborted when cancelled.
    asio::awaitable<message> receive()
    {
        auto self = state_;
        for (;;) {
            if (!self->inbox.empty()) {
                message m = std::move(self->inbox.front());
                self->inbox.pop_front();
                co_return m;
            }
            self->throw_if_stopped();
            co_await self->inbox_changed.wait();
            const asio::cancellation_state cancel = co_await asio::this_coro::cancellation_state;
            detail::throw_if_cancelled(cancel, "receive");
        }
    }

    /// Gets the device's JWT the platform's way: subscribes to `s/dat` (once; restored after
    /// reconnects), publishes an empty message on `s/uat`, and awaits `71,<JWT>` on `s/dat`.
    /// Throws token_timeout when no answer comes within `timeout` (measured on the Clock's timer
    /// clock), token_answer_malformed, token_unexpected_template (another template number on
    /// s/dat), jwt_malformed, token_expired when the token is already expired by the Clock, and
    /// like subscribe(). The JWT's signature is not checked: the device has no key to check it
    /// with.
    asio::awaitable<device_token> request_token(std::chrono::milliseconds timeout = std::chrono::seconds(30))
    {
        auto self = state_;
        co_await self->wait_until_connected("request_token");
        if (!self->subscribed_to("s/dat"))
            co_await subscribe("s/dat", mqtt::qos::at_most_once);
        // Concurrent requests share one question and its answer.
        auto answer = self->token_answer;
        if (!answer) {
            answer = std::make_shared<detail::pending_result<std::string, timer>>(self->executor);
            self->token_answer = answer;
            const mqtt::packet ask = mqtt::publish{"s/uat", "", mqtt::qos::at_most_once, false, false, 0};
            co_await self->send_detached(ask, "request_token");
        }
        const auto payload = co_await answer->wait_until(timer_clock::now() + timeout, "request_token");
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

    /// Stops cleanly: waits up to `drain_timeout` for the send queue to empty and for every
    /// QoS 1/2 message in flight to be acknowledged (reconnecting meanwhile if need be), then,
    /// when connected, sends DISCONNECT and close_notify, and closes. Messages still unfinished
    /// then fail with not_connected. Never throws for a connection that is already gone.
    asio::awaitable<void> disconnect(std::chrono::milliseconds drain_timeout = std::chrono::seconds(10))
    {
        auto self = state_;
        const std::uint64_t run = self->run;
        const auto deadline = timer_clock::now() + drain_timeout;
        while (self->run == run && self->status != connection_state::stopped && !self->drained() &&
               timer_clock::now() < deadline)
            co_await self->progress.wait_until(deadline);
        if (self->run == run && self->status == connection_state::connected) {
            self->disconnecting = true; // the broker closing the connection now is no loss
            try {
                const mqtt::packet goodbye = mqtt::disconnect{};
                co_await self->send_detached(goodbye, "disconnect");
                auto stream = self->stream;
                if (stream)
                    co_await stream->shutdown();
            } catch (const error&) {
                // Already gone: nothing left to say goodbye to.
            }
        }
        if (self->run == run)
            self->stop(std::nullopt);
    }

    /// Completes at once when connected, else once the client connected (again). Throws the
    /// error that stopped the client (not_connected after disconnect()), operation_aborted.
    asio::awaitable<void> wait_until_connected()
    {
        auto self = state_;
        co_await self->wait_until_connected("wait_until_connected");
    }

    /// Closes the connection at once, without DISCONNECT (the broker then publishes any last
    /// will), and stops reconnecting. Pending operations fail with not_connected.
    void close() noexcept { state_->stop(error(errc::not_connected, "closed")); }

    connection_state state() const noexcept { return state_->status; }
    bool is_connected() const noexcept { return state_->status == connection_state::connected; }
    /// The error behind the last change of state: why the client reconnects, or why it stopped
    /// (none after a clean disconnect()).
    const std::optional<error>& failure() const noexcept { return state_->last_error; }
    /// The client id sent in the last CONNECT.
    const std::string& client_id() const noexcept { return state_->client_id; }
    /// The device certificate's CN: the device identifier the platform sees.
    const std::string& device_id() const noexcept { return state_->common_name; }
    /// The TLS version negotiated ("TLSv1.3"), while connected.
    std::string tls_protocol() const
    {
        return is_connected() ? state_->stream->session().protocol() : std::string();
    }
    /// Messages waiting in the send queue, and their topic and payload bytes.
    std::size_t queued_messages() const noexcept { return state_->queue.size(); }
    std::size_t queued_bytes() const noexcept { return state_->queued_bytes; }
    /// QoS 1/2 messages sent and not yet acknowledged.
    std::size_t in_flight() const noexcept { return state_->in_flight.size(); }
    /// Connections made since connect(), the first included.
    std::uint64_t connections() const noexcept { return state_->connections; }
    /// When the next reconnect attempt is due, while reconnecting.
    std::optional<typename timer_clock_t<C>::time_point> next_attempt() const noexcept
    {
        return state_->status == connection_state::reconnecting ? std::optional(state_->next_attempt) : std::nullopt;
    }

private:
    using timer_clock = timer_clock_t<C>;
    using timer = detail::clock_timer<C>;
    using stream_type = detail::tls_stream<T, S>;

    static void validate(const connect_options& options)
    {
        if (options.keepalive.count() < 0 || options.keepalive.count() > 65535)
            throw error(errc::invalid_argument, "keepalive must be 0..65535 s, not " +
                                                    std::to_string(options.keepalive.count()));
        if (options.max_in_flight == 0 || options.max_in_flight > 65535)
            throw error(errc::invalid_argument, "max_in_flight must be 1..65535, not " +
                                                    std::to_string(options.max_in_flight));
        if (options.send_queue.max_messages == 0)
            throw error(errc::invalid_argument, "send_queue.max_messages must be at least 1");
        const auto& r = options.reconnect;
        if (r.initial_delay.count() < 0 || r.max_delay < r.initial_delay || !(r.jitter >= 0.0 && r.jitter <= 1.0))
            throw error(errc::invalid_argument,
                        "reconnect: 0 <= initial_delay <= max_delay and jitter in [0, 1] are required");
    }

    // A message the application published, until it completed.
    struct outgoing {
        outgoing(const asio::any_io_executor& ex, mqtt::publish m, std::size_t size)
            : packet(std::move(m)), bytes(size), done(ex)
        {
        }
        mqtt::publish packet; // packet_id assigned when first sent at QoS 1/2
        std::size_t bytes;    // counted against send_queue.max_bytes
        bool released = false; // QoS 2: PUBREC came and PUBREL is what to send (again)
        detail::pending_result<std::monostate, timer> done;
    };
    using outgoing_ptr = std::shared_ptr<outgoing>;
    using pending_packet = detail::pending_result<mqtt::packet, timer>;

    // Everything the background coroutines share with the client; they hold it by shared_ptr
    // so that destroying the client while they wind down is safe.
    struct core : std::enable_shared_from_this<core> {
        core(executor_type ex, const credentials& device, const truststore& trust, const tls_options& tls)
            : executor(ex), context(device, trust, tls), common_name(device.device_common_name()), work(ex),
              progress(ex), inbox_changed(ex), keepalive_timer(ex), connect_timer(ex), backoff_timer(ex), rng(std::random_device{}())
        {
        }

        executor_type executor;
        typename S::context context;
        std::optional<credentials> device; // the chain; the key is wiped
        std::string common_name;
        std::string client_id;
        connect_options options;

        connection_state status = connection_state::stopped;
        std::optional<error> last_error;
        std::uint64_t run = 0;        // one per connect(): background work of an earlier run ends
        std::uint64_t generation = 0; // one per connection attempt
        std::uint64_t connections = 0;
        // One stream per connection, shared with that connection's background coroutines so
        // that a reconnect never pulls it from under them.
        std::shared_ptr<stream_type> stream;
        mqtt::decoder decoder;
        bool connect_timed_out = false;
        bool disconnecting = false; // DISCONNECT sent: the end of the connection is expected
        typename timer_clock::time_point next_attempt{};

        // Outgoing: the send queue, then the QoS 1/2 messages in flight in the order sent.
        std::deque<outgoing_ptr> queue;
        std::size_t queued_bytes = 0;
        std::deque<outgoing_ptr> in_flight;
        bool resend_due = false; // a new connection: what is in flight goes again first
        std::map<std::uint16_t, std::shared_ptr<pending_packet>> exchanges; // SUBSCRIBE, UNSUBSCRIBE
        std::uint16_t last_packet_id = 0;
        detail::basic_async_event<timer> work;     // the writer has something to send
        detail::basic_async_event<timer> progress; // state, acknowledgements: waiters re-check
        detail::basic_async_event<timer> inbox_changed;

        // Incoming.
        std::vector<mqtt::subscription> subscriptions; // restored after reconnects
        std::set<std::uint16_t> qos2_received;        // PUBREC sent, PUBREL not yet received
        std::deque<message> inbox;
        std::shared_ptr<detail::pending_result<std::string, timer>> token_answer;

        // Keepalive.
        typename timer_clock::time_point last_sent{}, last_received{}, ping_deadline{};
        bool ping_outstanding = false;
        timer keepalive_timer;
        timer connect_timer;
        timer backoff_timer;
        std::minstd_rand rng;

        // ---- state ---------------------------------------------------------------------

        void start_run(connect_options opts)
        {
            options = std::move(opts);
            ++run;
            connections = 0;
            client_id = options.client_id.empty()
                            ? client_id::for_device(common_name, options.device_prefix ? "d" : "",
                                                    options.default_template)
                                  .str()
                            : options.client_id;
            subscriptions.clear();
            qos2_received.clear();
            inbox.clear();
            last_packet_id = 0;
            disconnecting = false;
            set_state(connection_state::connecting, std::nullopt);
        }

        void set_state(connection_state s, std::optional<error> cause)
        {
            status = s;
            last_error = std::move(cause);
            progress.notify_all();
            work.notify_all();
            inbox_changed.notify_all();
            if (options.on_state_change)
                options.on_state_change(status, last_error);
        }

        // Ends the run: the connection closes, reconnecting stops, and every pending operation
        // fails with `cause` (not_connected after a clean disconnect).
        void stop(std::optional<error> cause) noexcept
        {
            if (status == connection_state::stopped && !stream && queue.empty() && in_flight.empty())
                return;
            close_connection();
            backoff_timer.cancel();
            const error reason = cause ? *cause : error(errc::not_connected, "disconnected");
            const auto failure = std::make_exception_ptr(reason);
            for (auto& item : queue)
                item->done.fail(failure);
            for (auto& item : in_flight)
                item->done.fail(failure);
            queue.clear();
            queued_bytes = 0;
            in_flight.clear();
            fail_exchanges(failure);
            try {
                set_state(connection_state::stopped, std::move(cause));
            } catch (...) { // an on_state_change callback that throws must not stop the stop
            }
        }

        void close_connection() noexcept
        {
            keepalive_timer.cancel();
            connect_timer.cancel();
            if (stream) {
                stream->close();
                stream.reset();
            }
        }

        void fail_exchanges(const std::exception_ptr& failure)
        {
            for (auto& [id, pending] : exchanges)
                pending->fail(failure);
            exchanges.clear();
            if (token_answer)
                token_answer->fail(failure);
            token_answer.reset();
        }

        void throw_if_stopped() const
        {
            if (status != connection_state::stopped)
                return;
            if (last_error)
                throw *last_error;
            throw error(errc::not_connected);
        }

        bool drained() const noexcept { return queue.empty() && in_flight.empty(); }

        bool subscribed_to(std::string_view filter) const
        {
            return std::any_of(subscriptions.begin(), subscriptions.end(),
                               [&](const mqtt::subscription& s) { return s.topic_filter == filter; });
        }

        void remember_subscription(mqtt::subscription s)
        {
            for (auto& known : subscriptions)
                if (known.topic_filter == s.topic_filter) {
                    known.qos = s.qos;
                    return;
                }
            subscriptions.push_back(std::move(s));
        }

        asio::awaitable<void> wait_until_connected(const char* operation)
        {
            while (status == connection_state::reconnecting || status == connection_state::connecting) {
                co_await progress.wait();
                const asio::cancellation_state cancel = co_await asio::this_coro::cancellation_state;
                detail::throw_if_cancelled(cancel, operation);
            }
            throw_if_stopped();
        }

        // Packet ids of our QoS 1/2 messages and exchanges; the broker's ids are another space.
        std::uint16_t allocate_packet_id()
        {
            for (int tries = 0; tries < 65535; ++tries) {
                last_packet_id = static_cast<std::uint16_t>(last_packet_id == 65535 ? 1 : last_packet_id + 1);
                const std::uint16_t id = last_packet_id;
                if (!exchanges.contains(id) &&
                    std::none_of(in_flight.begin(), in_flight.end(),
                                 [id](const outgoing_ptr& o) { return o->packet.packet_id == id; }))
                    return id;
            }
            throw error(errc::invalid_argument, "all 65535 packet ids are in use");
        }

        // ---- sending -------------------------------------------------------------------

        void enqueue(const outgoing_ptr& item)
        {
            const auto& limits = options.send_queue;
            const auto fits = [&](std::size_t count, std::size_t bytes) {
                return count + 1 <= limits.max_messages && bytes + item->bytes <= limits.max_bytes;
            };
            if (!fits(queue.size(), queued_bytes)) {
                // Drop nothing unless dropping makes room.
                std::size_t qos0_count = 0, qos0_bytes = 0;
                for (const auto& queued : queue)
                    if (queued->packet.qos == mqtt::qos::at_most_once) {
                        ++qos0_count;
                        qos0_bytes += queued->bytes;
                    }
                if (limits.when_full != queue_full_policy::drop_oldest_qos0 ||
                    !fits(queue.size() - qos0_count, queued_bytes - qos0_bytes))
                    throw error(errc::send_queue_full,
                                std::to_string(queue.size()) + " messages (" + std::to_string(queued_bytes) +
                                    " bytes) wait; the limits are " + std::to_string(limits.max_messages) +
                                    " messages and " + std::to_string(limits.max_bytes) + " bytes");
                while (!fits(queue.size(), queued_bytes))
                    drop_oldest_qos0();
            }
            queue.push_back(item);
            queued_bytes += item->bytes;
            work.notify_all();
        }

        void drop_oldest_qos0()
        {
            const auto it = std::find_if(queue.begin(), queue.end(), [](const outgoing_ptr& o) {
                return o->packet.qos == mqtt::qos::at_most_once;
            });
            outgoing_ptr dropped = *it;
            queue.erase(it);
            queued_bytes -= dropped->bytes;
            dropped->done.fail(std::make_exception_ptr(
                error(errc::message_dropped, "QoS 0 message on " + dropped->packet.topic +
                                                 " dropped from the full send queue for a newer one")));
            if (options.send_queue.on_drop)
                options.send_queue.on_drop(dropped->packet);
        }

        // A cancelled publish leaves the queue; one already in flight stays (the broker has it).
        void withdraw(const outgoing_ptr& item)
        {
            const auto it = std::find(queue.begin(), queue.end(), item);
            if (it != queue.end()) {
                queued_bytes -= item->bytes;
                queue.erase(it);
            }
        }

        // The writer of one connection: what is in flight goes again after a reconnect (DUP
        // set, or PUBREL once PUBREC came), then the queue, as many packets per TLS write as
        // are ready, within the in-flight window.
        static asio::awaitable<void> write_loop(std::shared_ptr<core> self, std::shared_ptr<stream_type> stream,
                                                std::uint64_t generation)
        {
            std::string batch;
            std::vector<outgoing_ptr> written_qos0;
            while (self->generation == generation && self->status == connection_state::connected) {
                batch.clear();
                written_qos0.clear();
                if (self->resend_due) {
                    self->resend_due = false;
                    for (const auto& item : self->in_flight)
                        encode_outgoing(*item, true, batch);
                }
                while (!self->queue.empty() && batch.size() < batch_limit &&
                       (self->queue.front()->packet.qos == mqtt::qos::at_most_once ||
                        self->in_flight.size() < self->options.max_in_flight)) {
                    outgoing_ptr item = std::move(self->queue.front());
                    self->queue.pop_front();
                    self->queued_bytes -= item->bytes;
                    if (item->packet.qos == mqtt::qos::at_most_once) {
                        written_qos0.push_back(item);
                    } else {
                        item->packet.packet_id = self->allocate_packet_id();
                        self->in_flight.push_back(item);
                    }
                    encode_outgoing(*item, false, batch);
                }
                if (batch.empty()) {
                    co_await self->work.wait();
                    continue;
                }
                try {
                    co_await self->write(*stream, generation, batch);
                } catch (const error& e) {
                    const auto failure = std::make_exception_ptr(e);
                    for (auto& item : written_qos0)
                        item->done.fail(failure);
                    co_return;
                }
                for (auto& item : written_qos0)
                    item->done.complete({});
                self->progress.notify_all();
            }
        }

        static constexpr std::size_t batch_limit = 64 * 1024;

        static void encode_outgoing(outgoing& item, bool again, std::string& out)
        {
            if (item.released) {
                mqtt::encode(mqtt::pubrel{item.packet.packet_id}, out);
                return;
            }
            item.packet.dup = again;
            mqtt::encode(item.packet, out);
        }

        // Every write of a connection goes through here: a failure ends that connection.
        asio::awaitable<void> write(stream_type& to, std::uint64_t gen, std::string_view bytes)
        {
            try {
                last_sent = timer_clock::now();
                co_await to.write(bytes);
            } catch (const error& e) {
                connection_lost(gen, e);
                throw;
            }
        }

        // Packets that operations send themselves (SUBSCRIBE, s/uat, DISCONNECT) are written by a
        // coroutine of their own, so that cancelling the operation never cuts a TLS record.
        asio::awaitable<void> send_detached(const mqtt::packet& packet, const char* operation)
        {
            throw_if_stopped();
            if (status != connection_state::connected)
                throw error(errc::not_connected,
                            std::string(to_string(status)) + (last_error ? std::string(": ") + last_error->what() : ""));
            auto written = std::make_shared<detail::pending_result<std::monostate, timer>>(executor);
            asio::co_spawn(executor, write_packet(this->shared_from_this(), stream, generation, mqtt::encode(packet), written),
                           asio::detached);
            co_await written->wait(operation);
        }

        static asio::awaitable<void> write_packet(std::shared_ptr<core> self, std::shared_ptr<stream_type> stream,
                                                  std::uint64_t generation, std::string bytes,
                                                  std::shared_ptr<detail::pending_result<std::monostate, timer>> written)
        {
            try {
                if (!stream)
                    throw error(errc::not_connected);
                co_await self->write(*stream, generation, bytes);
                written->complete({});
            } catch (const error& e) {
                written->fail(std::make_exception_ptr(e));
            }
        }

        // Sends a request and awaits the answer with its packet id.
        asio::awaitable<mqtt::packet> exchange(const mqtt::packet& request, std::uint16_t id,
                                               mqtt::packet_type expected, const char* operation)
        {
            auto answer = std::make_shared<pending_packet>(executor);
            exchanges[id] = answer;
            try {
                co_await send_detached(request, operation);
                mqtt::packet reply = co_await answer->wait(operation);
                if (mqtt::type_of(reply) != expected)
                    throw error(errc::mqtt_unexpected_packet,
                                std::string(mqtt::packet_name(mqtt::type_of(reply))) + " where " +
                                    std::string(mqtt::packet_name(expected)) + " was due");
                co_return reply;
            } catch (const error&) {
                exchanges.erase(id);
                throw;
            }
        }

        // ---- connecting ----------------------------------------------------------------

        // One connection attempt: TCP, TLS, CONNECT/CONNACK, bounded by options.timeout.
        // Completes with the CONNACK's session-present flag.
        static asio::awaitable<bool> attempt(std::shared_ptr<core> self)
        {
            self->close_connection();
            auto stream = std::make_shared<stream_type>(self->executor, self->context);
            self->stream = stream;
            const std::uint64_t generation = ++self->generation;
            self->decoder = mqtt::decoder{};
            self->connect_timed_out = false;
            self->connect_timer.expires_after(self->options.timeout);
            asio::co_spawn(self->executor, connect_watchdog(self, generation), asio::detached);
            const std::string where = self->options.host + ":" + std::to_string(self->options.port);
            try {
                co_await stream->connect(self->options.host, self->options.port);
                mqtt::connect hello;
                hello.client_id = self->client_id;
                hello.keepalive = static_cast<std::uint16_t>(self->options.keepalive.count());
                hello.clean_session = self->options.clean_session;
                const std::string hello_bytes = mqtt::encode(hello);
                co_await stream->write(hello_bytes);
                self->last_sent = timer_clock::now();
                const mqtt::packet first = co_await self->read_packet(*stream);
                const auto* ack = std::get_if<mqtt::connack>(&first);
                if (!ack)
                    throw error(errc::mqtt_unexpected_packet,
                                std::string(mqtt::packet_name(mqtt::type_of(first))) + " where CONNACK was due");
                if (ack->return_code != 0)
                    throw error(make_connack_error(ack->return_code), "client id '" + self->client_id + "'");
                self->connect_timer.cancel();
                if (self->generation != generation)
                    throw error(errc::not_connected, "stopped while connecting");
                co_return ack->session_present;
            } catch (...) {
                if (self->generation == generation) {
                    self->connect_timer.cancel();
                    self->close_connection();
                }
                if (!self->connect_timed_out)
                    throw;
            }
            throw error(errc::connect_timeout,
                        where + " after " + std::to_string(self->options.timeout.count()) + " ms");
        }

        static asio::awaitable<void> connect_watchdog(std::shared_ptr<core> self, std::uint64_t generation)
        {
            std::error_code ec;
            co_await self->connect_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (!ec && self->generation == generation && self->status != connection_state::connected && self->stream) {
                self->connect_timed_out = true;
                self->stream->close();
            }
        }

        // The connection is up: start its reader, writer and keepalive, restore the session.
        void connected(bool session_present)
        {
            auto self = this->shared_from_this();
            ++connections;
            if (!session_present)
                qos2_received.clear(); // the broker forgot its half of those exchanges
            resend_due = !in_flight.empty();
            last_received = timer_clock::now();
            ping_outstanding = false;
            set_state(connection_state::connected, std::nullopt);
            asio::co_spawn(executor, read_loop(self, stream, generation), asio::detached);
            asio::co_spawn(executor, write_loop(self, stream, generation), asio::detached);
            if (options.keepalive.count() > 0)
                asio::co_spawn(executor, keepalive_loop(self, generation), asio::detached);
            if (!session_present && !subscriptions.empty())
                asio::co_spawn(executor, resubscribe(self, generation), asio::detached);
        }

        static asio::awaitable<void> resubscribe(std::shared_ptr<core> self, std::uint64_t generation)
        {
            const std::vector<mqtt::subscription> filters = self->subscriptions;
            try {
                const std::uint16_t id = self->allocate_packet_id();
                const mqtt::packet request = mqtt::subscribe{id, filters};
                const mqtt::packet answer = co_await self->exchange(request, id, mqtt::packet_type::suback, "resubscribe");
                const auto& codes = std::get<mqtt::suback>(answer).return_codes;
                for (std::size_t i = 0; i < codes.size() && i < filters.size(); ++i)
                    if (codes[i] == mqtt::suback_failure && self->generation == generation &&
                        self->status == connection_state::connected) {
                        // Refused now, refused at every reconnect: it is forgotten, and the
                        // application told through on_state_change.
                        std::erase(self->subscriptions, filters[i]);
                        self->set_state(connection_state::connected,
                                        error(errc::subscription_refused,
                                              filters[i].topic_filter + " (restoring subscriptions after a reconnect)"));
                    }
            } catch (const error& e) {
                // A lost connection is already being rebuilt; the next one restores them.
                self->connection_lost(generation, e);
            }
        }

        // A connection ended: reconnect when the options allow and a retry can help, else stop.
        void connection_lost(std::uint64_t gen, const error& cause)
        {
            if (gen != generation || status != connection_state::connected)
                return;
            close_connection();
            if (disconnecting)
                return; // disconnect() stops the client
            fail_exchanges(std::make_exception_ptr(cause));
            if (!options.reconnect.enabled || !retry_can_help(cause.code())) {
                stop(cause);
                return;
            }
            set_state(connection_state::reconnecting, cause);
            asio::co_spawn(executor, reconnect_loop(this->shared_from_this(), run), asio::detached);
        }

        std::chrono::milliseconds backoff(unsigned failures)
        {
            const auto& r = options.reconnect;
            double delay = static_cast<double>(r.initial_delay.count());
            for (unsigned i = 0; i < failures && delay < static_cast<double>(r.max_delay.count()); ++i)
                delay *= 2;
            delay = std::min(delay, static_cast<double>(r.max_delay.count()));
            std::uniform_real_distribution<double> spread(1.0 - r.jitter, 1.0);
            return std::chrono::milliseconds(static_cast<std::int64_t>(delay * spread(rng)));
        }

        static asio::awaitable<void> reconnect_loop(std::shared_ptr<core> self, std::uint64_t run)
        {
            for (unsigned failures = 0;; ++failures) {
                self->next_attempt = timer_clock::now() + self->backoff(failures);
                self->backoff_timer.expires_at(self->next_attempt);
                self->progress.notify_all();
                std::error_code ignored;
                co_await self->backoff_timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                if (self->run != run || self->status != connection_state::reconnecting)
                    co_return;
                try {
                    const bool session_present = co_await attempt(self);
                    if (self->run != run || self->status != connection_state::reconnecting) {
                        self->close_connection();
                        co_return;
                    }
                    self->connected(session_present);
                    co_return;
                } catch (const error& e) {
                    if (self->run != run || self->status != connection_state::reconnecting)
                        co_return;
                    if (!retry_can_help(e.code())) {
                        self->stop(e);
                        co_return;
                    }
                    self->set_state(connection_state::reconnecting, e); // tells of the failed attempt
                }
            }
        }

        // ---- receiving -----------------------------------------------------------------

        asio::awaitable<mqtt::packet> read_packet(stream_type& from)
        {
            for (;;) {
                if (auto packet = decoder.next())
                    co_return std::move(*packet);
                std::array<char, 4096> buffer;
                std::size_t n = 0;
                try {
                    n = co_await from.read_some(buffer);
                } catch (const error& e) {
                    if (e.code() != errc::connection_closed || decoder.buffered() == 0)
                        throw;
                    throw error(e.code(), e.detail() + " with " + std::to_string(decoder.buffered()) +
                                              " byte(s) of an unfinished packet received");
                }
                last_received = timer_clock::now();
                decoder.feed(std::string_view(buffer.data(), n));
            }
        }

        static asio::awaitable<void> read_loop(std::shared_ptr<core> self, std::shared_ptr<stream_type> stream,
                                               std::uint64_t generation)
        {
            try {
                for (;;) {
                    mqtt::packet packet = co_await self->read_packet(*stream);
                    if (self->generation != generation)
                        co_return;
                    co_await self->dispatch(*stream, generation, packet);
                }
            } catch (const error& e) {
                self->connection_lost(generation, e);
            }
        }

        asio::awaitable<void> dispatch(stream_type& stream, std::uint64_t gen, mqtt::packet& packet)
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
                    const std::string ack = qos == mqtt::qos::at_least_once ? mqtt::encode(mqtt::puback{id})
                                                                            : mqtt::encode(mqtt::pubrec{id});
                    co_await write(stream, gen, ack);
                }
                break;
            }
            case mqtt::packet_type::pubrel: {
                const std::uint16_t id = std::get<mqtt::pubrel>(packet).packet_id;
                qos2_received.erase(id);
                const std::string released = mqtt::encode(mqtt::pubcomp{id});
                co_await write(stream, gen, released);
                break;
            }
            case mqtt::packet_type::puback:
                acknowledge(std::get<mqtt::puback>(packet).packet_id, mqtt::packet_type::puback);
                break;
            case mqtt::packet_type::pubrec: {
                const std::uint16_t id = std::get<mqtt::pubrec>(packet).packet_id;
                acknowledge(id, mqtt::packet_type::pubrec);
                const std::string release = mqtt::encode(mqtt::pubrel{id});
                co_await write(stream, gen, release);
                break;
            }
            case mqtt::packet_type::pubcomp:
                acknowledge(std::get<mqtt::pubcomp>(packet).packet_id, mqtt::packet_type::pubcomp);
                break;
            case mqtt::packet_type::suback:
            case mqtt::packet_type::unsuback:
                answer_exchange(packet);
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

        // PUBACK / PUBCOMP complete a message in flight (once: it leaves in_flight), PUBREC
        // moves a QoS 2 message to its release.
        void acknowledge(std::uint16_t id, mqtt::packet_type ack)
        {
            const auto it = std::find_if(in_flight.begin(), in_flight.end(),
                                         [id](const outgoing_ptr& o) { return o->packet.packet_id == id; });
            const mqtt::qos expected_qos = ack == mqtt::packet_type::puback ? mqtt::qos::at_least_once
                                                                            : mqtt::qos::exactly_once;
            if (it == in_flight.end() || (*it)->packet.qos != expected_qos ||
                (ack == mqtt::packet_type::pubcomp && !(*it)->released))
                throw error(errc::mqtt_unexpected_packet, std::string(mqtt::packet_name(ack)) + " for packet id " +
                                                              std::to_string(id) + ", which is not in flight at QoS " +
                                                              std::to_string(static_cast<int>(expected_qos)));
            if (ack == mqtt::packet_type::pubrec) {
                (*it)->released = true;
                return;
            }
            outgoing_ptr done = std::move(*it);
            in_flight.erase(it);
            done->done.complete({});
            work.notify_all(); // the window has room again
            progress.notify_all();
        }

        void answer_exchange(const mqtt::packet& answer)
        {
            const std::uint16_t id = mqtt::type_of(answer) == mqtt::packet_type::suback
                                         ? std::get<mqtt::suback>(answer).packet_id
                                         : std::get<mqtt::unsuback>(answer).packet_id;
            const auto it = exchanges.find(id);
            if (it == exchanges.end())
                throw error(errc::mqtt_unexpected_packet,
                            std::string(mqtt::packet_name(mqtt::type_of(answer))) + " for packet id " +
                                std::to_string(id) + ", which is not in flight");
            auto pending = std::move(it->second);
            exchanges.erase(it);
            pending->complete(answer);
        }

        // ---- keepalive -----------------------------------------------------------------

        // PINGREQ once a keepalive interval passed without sending or without receiving; the
        // connection is dead when its PINGRESP has not come within ping_timeout (half the
        // keepalive by default: a silent broker is found within 1.5 keepalive intervals).
        static asio::awaitable<void> keepalive_loop(std::shared_ptr<core> self, std::uint64_t generation)
        {
            const auto interval = std::chrono::duration_cast<typename timer_clock::duration>(self->options.keepalive);
            const auto patience = std::chrono::duration_cast<typename timer_clock::duration>(
                self->options.ping_timeout.count() > 0 ? self->options.ping_timeout
                                                       : std::chrono::milliseconds(self->options.keepalive) / 2);
            const auto ping_due = [&] { return std::min(self->last_sent, self->last_received) + interval; };
            while (self->generation == generation && self->status == connection_state::connected) {
                self->keepalive_timer.expires_at(self->ping_outstanding ? self->ping_deadline : ping_due());
                std::error_code ignored;
                co_await self->keepalive_timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                if (self->generation != generation || self->status != connection_state::connected)
                    co_return;
                const auto now = timer_clock::now();
                if (self->ping_outstanding) {
                    if (now >= self->ping_deadline) {
                        self->connection_lost(
                            generation, error(errc::timeout, "no PINGRESP within " +
                                                                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(patience).count()) +
                                                                 " ms (keepalive " +
                                                                 std::to_string(self->options.keepalive.count()) + " s)"));
                        co_return;
                    }
                } else if (now >= ping_due()) {
                    self->ping_outstanding = true;
                    self->ping_deadline = now + patience;
                    const mqtt::packet ping = mqtt::pingreq{};
                    // The write may block behind a stalled connection: the deadline runs regardless.
                    asio::co_spawn(self->executor,
                                   write_packet(self, self->stream, generation, mqtt::encode(ping),
                                                std::make_shared<detail::pending_result<std::monostate, timer>>(self->executor)),
                                   asio::detached);
                }
            }
        }
    };

    std::shared_ptr<core> state_;
};

/// The client with the default policies: Asio TCP, wolfSSL, the system clock.
using client = basic_client<>;

} // namespace c8y::mtls
