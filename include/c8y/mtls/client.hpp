// c8y-mtls: basic_client, the coroutine MQTT client that connects a device with its certificate
// and keeps it connected.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
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
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "c8y/mtls/chain_validator.hpp"
#include "c8y/mtls/client_id.hpp"
#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/async_op.hpp"
#include "c8y/mtls/detail/backoff.hpp"
#include "c8y/mtls/detail/clock_timer.hpp"
#include "c8y/mtls/detail/completion.hpp"
#include "c8y/mtls/detail/tls_stream.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/log.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/mqtt_session.hpp"
#include "c8y/mtls/store.hpp"
#include "c8y/mtls/time_format.hpp"
#include "c8y/mtls/tls.hpp"
#include "c8y/mtls/token_exchange.hpp"
#include "c8y/mtls/transport.hpp"

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
    /// The platform requires a clean session: the broker forgets the session with every
    /// connection, so QoS 1/2 messages in flight are sent again as new PUBLISHes after a
    /// reconnect (QoS 2 is at least once then). With false (brokers that keep sessions), the
    /// QoS 2 flow resumes where it was (exactly once), and a durable store keeps the packet ids
    /// for a restarted process.
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
    /// The client's events (log.hpp): attempts, the TLS version and suite, CONNACK, state
    /// changes, resends, drops, subscriptions. Off by default.
    logger log{};
    /// connect() first judges the device chain offline as the platform will (chain_validator,
    /// without the uploaded CA, which the device does not know) and fails with chain_rejected
    /// naming the first problem instead of handshaking. Tls policies without a Crypto policy
    /// (`S::crypto`) skip it.
    bool validate_chain = true;
    /// The rules of that check: the guide's profile by default (at most 2 certificates, the
    /// public cloud's limit; dedicated installations may allow longer chains), judged by what
    /// the platform certainly refuses (chain_verdict::platform): what only the guide refuses,
    /// and the platform's validator accepts, is logged as a warning and does not stop connect().
    chain_validator_options chain_rules = [] {
        chain_validator_options rules;
        rules.verdict = chain_verdict::platform;
        return rules;
    }();
};

/// An application message, as received from a subscription.
using message = mqtt::publish;

/// An MQTT 3.1.1 client over mutual TLS that stays connected, built from four policies:
/// - Transport (bytes over a connection; default asio_tcp_transport),
/// - Tls (a sans-I/O TLS engine; default wolfssl_tls),
/// - Clock (wall time for token expiry, and the timer clock; default std::chrono::system_clock),
/// - Store (where accepted messages wait; default memory_store, sqlite_store to outlive the
///   process).
///
/// The session itself is mqtt::session, a state machine without I/O; the client is its one
/// reader, one writer and one timer per connection, and the reconnect loop. connect() makes the
/// first connection. After that, a lost connection is rebuilt by itself (a new TCP connection
/// and TLS session, the subscriptions restored, unacknowledged QoS 1/2 messages sent again), with
/// exponential backoff and jitter, until disconnect(), close(), or an error that a retry cannot
/// fix (see retry_can_help()).
///
/// All operations run on the client's executor. Each takes any Asio completion token,
/// asio::use_awaitable by default: the awaitable throws c8y::mtls::error whose code names the
/// cause (see error.hpp). Other tokens (callbacks, asio::use_future, asio::experimental::deferred
/// and as_tuple in Asio 1.22) complete with void(std::error_code[, T]); during the handler's
/// call completion_error() holds the whole error with its detail, and a future from
/// asio::use_future rethrows the c8y::mtls::error itself. With a token other than
/// asio::use_awaitable an operation may be started from any thread (an application whose
/// io_context runs on a thread of its own); the other member functions are called on the
/// executor, or while it runs nothing. An operation is cancelled through the token's
/// cancellation slot (asio::bind_cancellation_slot, an awaitable operator) and then fails with
/// operation_aborted; a cancelled operation never leaves a half-written packet
/// behind. The client is movable; destroying it closes the connection.
template <Transport T = asio_tcp_transport, class S = default_tls, Clock C = std::chrono::system_clock,
          Store Q = memory_store>
class basic_client {
    static_assert(Tls<S>, "S must model the Tls policy (tls.hpp); the default, wolfSSL's, is declared by "
                          "c8y/mtls/wolfssl/tls.hpp (c8y/mtls.hpp includes it)");
    struct core;

public:
    using executor_type = asio::any_io_executor;
    using transport_type = T;
    using tls_type = S;
    using clock_type = C;
    using store_type = Q;

    /// Builds the TLS context from the device credentials and the truststore; the private key
    /// in `device` is wiped once the context holds it. Throws c8y::mtls::error (a key that does
    /// not match the certificate, an unusable truststore certificate). `store` holds what
    /// publish() accepts; a durable one may hold messages of an earlier process, sent first.
    basic_client(executor_type ex, credentials device, const truststore& trust, const tls_options& tls = {},
                 Q store = Q{})
        : state_(std::make_shared<core>(ex, device, trust, tls, std::move(store)))
    {
        device.wipe_private_key();
        state_->device.emplace(std::move(device)); // the chain, for connect()'s check
    }

    basic_client(const basic_client&) = delete;
    basic_client& operator=(const basic_client&) = delete;
    /// The moved-from client may only be destroyed or assigned to. Operations under way keep
    /// running: they hold the client's state, not the object.
    basic_client(basic_client&&) noexcept = default;
    /// Stops this client as its destructor does, then takes over `other`.
    basic_client& operator=(basic_client&& other) noexcept
    {
        if (this != &other) {
            stop_if_running("client assigned to");
            state_ = std::move(other.state_);
            tokens_ = std::move(other.tokens_);
        }
        return *this;
    }
    ~basic_client() { stop_if_running("client destroyed"); }

    executor_type get_executor() const noexcept { return state_->executor; }

    /// Connects: TCP, TLS handshake (the server verified, the device's chain sent), then MQTT
    /// CONNECT. Signature void(std::error_code); completes when the broker accepted (CONNACK 0);
    /// from then on the client reconnects by itself as `options.reconnect` says. This first
    /// attempt is not retried. Fails with invalid_argument, host_not_found,
    /// connection_refused, connect_timeout, server_not_trusted, server_name_mismatch, a
    /// tls_alert_category() code when the broker rejects the device chain (the platform's
    /// certificate_unknown), or a connack_category() code when the broker refuses the CONNECT,
    /// chain_rejected when the device chain breaks the platform's rules
    /// (options.validate_chain). Cancelled (operation_aborted) through the token's cancellation
    /// slot; the client is stopped then. A client that was running is stopped first (its
    /// pending operations fail with not_connected).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto connect(connect_options options, CompletionToken&& token = {})
    {
        return detail::async_op<void>(state_->executor, std::forward<CompletionToken>(token),
                                      [self = state_, options = std::move(options)]() mutable {
                                          return start_connect(std::move(self), std::move(options));
                                      });
    }

    /// Publishes: the message is encoded once, checked, and accepted into the store, or refused
    /// at once. Signature void(std::error_code); completes at QoS 0 once written to the
    /// connection, at QoS 1 once PUBACK came, at QoS 2 once PUBCOMP came, however many
    /// reconnects that takes; nothing is reported delivered that the broker did not take.
    /// While the client reconnects, or while max_in_flight messages await their
    /// acknowledgement, the message waits in the store, without a timer or a coroutine of its
    /// own, whatever the token (with asio::use_awaitable, the awaiting coroutine is the
    /// caller's). Fails with mqtt_payload_too_large over the
    /// platform's 16184-byte limit, mqtt_invalid_topic or mqtt_invalid_utf8 (the message never
    /// enters the store), send_queue_full, message_dropped (drop_oldest_qos0 made room with
    /// it), not_connected once the client stopped (or the error that stopped it), and
    /// operation_aborted when cancelled through the token's cancellation slot: a queued
    /// message is then withdrawn, one already sent stays with the broker's session. Started on
    /// the executor, the message is accepted or refused within the call; from another thread,
    /// once the executor runs (the cancellation slot is connected then).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto publish(std::string topic, std::string payload, mqtt::qos qos = mqtt::qos::at_most_once, bool retain = false,
                 CompletionToken&& token = {})
    {
        return publish_on(state_, std::move(topic), std::move(payload), qos, retain,
                          std::forward<CompletionToken>(token));
    }

    /// Subscribes to one filter. Signature void(std::error_code, mqtt::qos); completes with the
    /// QoS the broker granted. The subscription is restored after every reconnect without a
    /// session. Waits for the connection while reconnecting. Fails with subscription_refused
    /// when the broker answers 0x80, mqtt_invalid_topic for a bad filter, the error of a
    /// connection lost before SUBACK, not_connected once stopped, operation_aborted when
    /// cancelled through the token's cancellation slot.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto subscribe(std::string topic_filter, mqtt::qos qos = mqtt::qos::at_most_once, CompletionToken&& token = {})
    {
        return detail::async_op<mqtt::qos>(state_->executor, std::forward<CompletionToken>(token),
                                           [self = state_, topic_filter = std::move(topic_filter), qos]() mutable {
                                               return start_subscribe(std::move(self), std::move(topic_filter), qos);
                                           });
    }

    /// Unsubscribes from one filter (it is no longer restored after reconnects). Signature
    /// void(std::error_code); completes when UNSUBACK came. Fails and is cancelled like
    /// subscribe().
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto unsubscribe(std::string topic_filter, CompletionToken&& token = {})
    {
        return detail::async_op<void>(state_->executor, std::forward<CompletionToken>(token),
                                      [self = state_, topic_filter = std::move(topic_filter)]() mutable {
                                          return start_unsubscribe(std::move(self), std::move(topic_filter));
                                      });
    }

    /// The next message from the subscriptions, in arrival order. Signature
    /// void(std::error_code, message). Messages that arrive while nobody awaits are kept, across
    /// reconnects. Fails with the error that stopped the client once the inbox is empty, and
    /// operation_aborted when cancelled through the token's cancellation slot.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto receive(CompletionToken&& token = {})
    {
        return detail::async_op<message>(state_->executor, std::forward<CompletionToken>(token),
                                         [self = state_] { return start_receive(self); });
    }

    /// Gets the device's JWT the platform's way (a layer on top of the client,
    /// token_exchange.hpp): subscribes to `s/dat` (once; restored after reconnects), publishes an
    /// empty message on `s/uat`, and awaits `71,<JWT>` on `s/dat`. Signature
    /// void(std::error_code, device_token). Fails with token_timeout when no answer comes within
    /// `timeout` (measured on the Clock's timer clock), token_answer_malformed,
    /// token_unexpected_template (another template number on s/dat), jwt_malformed,
    /// token_expired when the token is already expired by the Clock, and like subscribe(); is
    /// cancelled like subscribe(). The JWT's signature is not checked: the device has no key to
    /// check it with.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto request_token(std::chrono::milliseconds timeout = std::chrono::seconds(30), CompletionToken&& token = {})
    {
        return detail::async_op<device_token>(state_->executor, std::forward<CompletionToken>(token),
                                              [tokens = tokens_, self = state_, timeout]() mutable {
                                                  return tokens.request(handle{std::move(self)}, timeout);
                                              });
    }

    /// Stops cleanly: waits up to `drain_timeout` for the store to empty and for every QoS 1/2
    /// message in flight to be acknowledged (reconnecting meanwhile if need be), then, when
    /// connected, sends DISCONNECT and close_notify, and closes. Signature
    /// void(std::error_code); completes then. Messages still unfinished fail with not_connected
    /// (a durable store keeps them for the next connect()). Never fails for a connection that
    /// is already gone. Cancelled through the token's cancellation slot while it waits for the
    /// drain: it fails with operation_aborted and the client keeps running.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto disconnect(std::chrono::milliseconds drain_timeout = std::chrono::seconds(10), CompletionToken&& token = {})
    {
        return detail::async_op<void>(state_->executor, std::forward<CompletionToken>(token),
                                      [self = state_, drain_timeout] { return start_disconnect(self, drain_timeout); });
    }

    /// Signature void(std::error_code); completes at once when connected, else once the client
    /// connected (again). Fails with the error that stopped the client (not_connected after
    /// disconnect()), operation_aborted when cancelled through the token's cancellation slot.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto wait_until_connected(CompletionToken&& token = {})
    {
        return detail::async_op<void>(state_->executor, std::forward<CompletionToken>(token), [self = state_] {
            return start_wait_until_connected(self, "wait_until_connected");
        });
    }

    /// Moves the client to new credentials of the same device: a renewed certificate, a new key.
    /// Signature void(std::error_code). The new TLS context is made first (a key that does not
    /// match its certificate fails here, and nothing changes). A stopped client keeps them for
    /// the next connect(). A running one waits until it is connected, lets the messages in flight
    /// be acknowledged (at most `options.timeout`; new ones wait in the store meanwhile), says
    /// DISCONNECT and connects again with the new credentials at once: the session goes on,
    /// nothing queued or in flight is lost, subscriptions are restored. Completes once the
    /// broker accepted the new credentials. When it refuses them, or the attempt fails
    /// otherwise, the client goes back to the credentials it had and reconnects with them as
    /// after a lost connection, and the operation fails with the attempt's error: the
    /// certificate keeper promotes new files only after this succeeded. Fails with
    /// invalid_argument for a certificate of another device (its CN), chain_rejected when the
    /// chain breaks the platform's rules (options.validate_chain), the context's errors, the
    /// attempt's, not_connected when the client stops meanwhile, operation_aborted when
    /// cancelled through the token's cancellation slot (the old credentials stay then).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto change_credentials(credentials device, CompletionToken&& token = {})
    {
        return detail::async_op<void>(state_->executor, std::forward<CompletionToken>(token),
                                      [self = state_, device = std::move(device)]() mutable {
                                          return start_change_credentials(std::move(self), std::move(device));
                                      });
    }

    /// Closes the connection at once, without DISCONNECT (the broker then publishes any last
    /// will), and stops reconnecting. Pending operations fail with not_connected.
    void close() noexcept { state_->stop(error(errc::not_connected, "closed")); }

    /// Messages on `tap.topic_filter` go to `tap.on_message` before the inbox, for as long as
    /// the client lives; `tap.on_stop` hears when the client stops. For layers on top of the
    /// client, as the platform's token exchange.
    void intercept(message_tap tap) { state_->taps.push_back(std::move(tap)); }

    connection_state state() const noexcept { return state_->status; }
    bool is_connected() const noexcept { return state_->status == connection_state::connected; }
    /// The error behind the last change of state: why the client reconnects, or why it stopped
    /// (none after a clean disconnect()).
    const std::optional<error>& failure() const noexcept { return state_->last_error; }
    /// The client id sent in the last CONNECT.
    const std::string& client_id() const noexcept { return state_->client_id; }
    /// The device certificate's CN: the device identifier the platform sees.
    const std::string& device_id() const noexcept { return state_->common_name; }
    /// The chain the handshake sends (leaf first, DER): the one given, or the one
    /// change_credentials() moved to.
    const std::vector<der_certificate>& device_chain() const noexcept { return state_->device->chain(); }
    /// The TLS version negotiated ("TLSv1.3"), while connected.
    std::string tls_protocol() const
    {
        return is_connected() ? state_->stream->session().protocol() : std::string();
    }
    /// The cipher suite negotiated, by its IANA name ("TLS_AES_128_GCM_SHA256"), while connected.
    std::string tls_cipher_suite() const
    {
        return is_connected() ? state_->stream->session().cipher_suite() : std::string();
    }
    /// The subscriptions granted, restored after reconnects.
    const std::vector<mqtt::subscription>& subscriptions() const noexcept { return state_->session.subscriptions(); }
    bool subscribed_to(std::string_view filter) const noexcept { return state_->session.subscribed_to(filter); }
    /// Messages waiting in the store (not yet sent), and the bytes they count
    /// (send_queue_options::max_bytes).
    std::size_t queued_messages() const noexcept { return state_->store.queued_messages(); }
    std::size_t queued_bytes() const noexcept { return state_->store.queued_bytes(); }
    /// QoS 1/2 messages sent and not yet acknowledged.
    std::size_t in_flight() const noexcept { return state_->session.in_flight(); }
    /// Connections made since connect(), the first included.
    std::uint64_t connections() const noexcept { return state_->connections; }
    /// When the next reconnect attempt is due, while reconnecting.
    std::optional<typename timer_clock_t<C>::time_point> next_attempt() const noexcept
    {
        return state_->status == connection_state::reconnecting ? std::optional(state_->next_attempt) : std::nullopt;
    }
    /// The store, for what it tells of itself (a durable store's file, its counts).
    const Q& store() const noexcept { return state_->store; }

private:
    using timer_clock = timer_clock_t<C>;
    using timer = detail::clock_timer<C>;
    using stream_type = detail::tls_stream<T, S>;
    using pending_packet = detail::pending_result<mqtt::packet, timer>;

    // The operations' entry points, defined below the class: not inline, so that under
    // separate compilation (extern template) only the library instantiates the coroutines they
    // start, and the client's state's members behind them. Inline, g++ and clang would
    // instantiate all of it in every translation unit that calls an operation.
    static asio::awaitable<void> start_connect(std::shared_ptr<core> self, connect_options options);
    static asio::awaitable<mqtt::qos> start_subscribe(std::shared_ptr<core> self, std::string filter, mqtt::qos qos);
    static asio::awaitable<void> start_unsubscribe(std::shared_ptr<core> self, std::string filter);
    static asio::awaitable<message> start_receive(std::shared_ptr<core> self);
    static asio::awaitable<void> start_disconnect(std::shared_ptr<core> self,
                                                  std::chrono::milliseconds drain_timeout);
    static asio::awaitable<void> start_wait_until_connected(std::shared_ptr<core> self, const char* operation);
    static asio::awaitable<void> start_change_credentials(std::shared_ptr<core> self, credentials device);
    static void publish_now(core& self, detail::waiting_handler handler, std::string topic, std::string payload,
                            mqtt::qos qos, bool retain);
    static void stop(core& self, const char* why) noexcept;

    void stop_if_running(const char* why) noexcept
    {
        if (state_)
            stop(*state_, why);
    }

    // publish() on `self`: with asio::use_awaitable and asio::use_future, completion
    // void(std::exception_ptr), so that the awaiting coroutine or the future throws the error
    // itself; else void(std::error_code).
    template <class CompletionToken>
    static auto publish_on(std::shared_ptr<core> self, std::string topic, std::string payload, mqtt::qos qos,
                           bool retain, CompletionToken&& token)
    {
        using token_type = std::decay_t<CompletionToken>;
        constexpr bool throws = std::is_same_v<token_type, asio::use_awaitable_t<>> || detail::is_use_future<token_type>;
        using signature = std::conditional_t<throws, void(std::exception_ptr), void(std::error_code)>;
        return asio::async_initiate<CompletionToken, signature>(
            [](auto handler, std::shared_ptr<core> self, std::string topic, std::string payload, mqtt::qos qos,
               bool retain) {
                // At once on the client's executor; posted there from another thread.
                const executor_type executor = self->executor;
                detail::waiting_handler waiting(std::in_place_type<signature>, std::move(handler));
                asio::dispatch(executor, [self = std::move(self), waiting = std::move(waiting), topic = std::move(topic),
                                          payload = std::move(payload), qos, retain]() mutable {
                    publish_now(*self, std::move(waiting), std::move(topic), std::move(payload), qos, retain);
                });
            },
            token, std::move(self), std::move(topic), std::move(payload), qos, retain);
    }

    // What the token exchange sees of the client: its state, not the object, which may move.
    struct handle {
        using clock_type = C;
        std::shared_ptr<core> self;

        executor_type get_executor() const { return self->executor; }
        asio::awaitable<void> wait_until_connected() const { return core::wait_until_connected(self, "request_token"); }
        void intercept(message_tap tap) const { self->taps.push_back(std::move(tap)); }
        bool subscribed_to(std::string_view filter) const { return self->session.subscribed_to(filter); }
        asio::awaitable<mqtt::qos> subscribe(std::string filter, mqtt::qos qos) const
        {
            return core::subscribe(self, std::move(filter), qos);
        }
        asio::awaitable<void> publish(std::string topic, std::string payload, mqtt::qos qos) const
        {
            return publish_on(self, std::move(topic), std::move(payload), qos, false, asio::use_awaitable);
        }
    };

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

    // Everything the background coroutines share with the client; they hold it by shared_ptr
    // so that destroying the client while they wind down is safe.
    struct core : std::enable_shared_from_this<core> {
        core(executor_type ex, const credentials& device, const truststore& trust, const tls_options& tls, Q q)
            : executor(ex), context(std::make_shared<typename S::context>(device, trust, tls)), trust(trust), tls(tls),
              common_name(device.device_common_name()), store(std::move(q)), work(ex), progress(ex),
              inbox_changed(ex), timer_(ex), rng(std::random_device{}())
        {
        }

        executor_type executor;
        // Shared with the streams made from it: change_credentials() replaces it while the old
        // connection winds down.
        std::shared_ptr<typename S::context> context;
        truststore trust;    // for the contexts of new credentials
        tls_options tls;
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
        bool holding = false;       // the writer takes nothing new from the store (change_credentials)
        typename timer_clock::time_point next_attempt{};

        mqtt::session session;
        Q store;
        std::string outbox; // what the writer sends before new messages: acknowledgements, resends, pings, requests
        // The publishers still waiting, by message id: waiters.front() is the one of
        // first_waiter; an empty slot is a message nobody waits for (any more).
        std::deque<detail::waiting_handler> waiters;
        std::uint64_t first_waiter = 0;
        std::map<std::uint16_t, std::shared_ptr<pending_packet>> exchanges; // SUBSCRIBE, UNSUBSCRIBE
        std::uint64_t batches_started = 0, batches_written = 0; // the writer's, for flushed()
        bool store_flush_due = false; // the store changed in this turn of the executor
        detail::basic_async_event<timer> work;      // the writer has something to send
        detail::basic_async_event<timer> progress;  // state, acknowledgements, writes: waiters re-check
        detail::basic_async_event<timer> inbox_changed;

        std::deque<message> inbox;
        std::vector<message_tap> taps;
        std::vector<mqtt::session::event> events; // reused by the reader

        // One timer: the session's deadlines (CONNACK, keepalive, PINGRESP) while a connection
        // is tried or up, the backoff between attempts.
        timer timer_;
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
            session = mqtt::session({options.keepalive, options.ping_timeout, options.max_in_flight});
            store.limit(options.send_queue);
            // What a durable store says an earlier session sent goes again first, with its ids.
            for (stored_message& m : store.resumable())
                session.resume(m.id, std::move(m.packet));
            inbox.clear();
            disconnecting = false;
            set_state(connection_state::connecting, std::nullopt);
        }

        void set_state(connection_state s, std::optional<error> cause)
        {
            const log_level level = s == connection_state::stopped && cause ? log_level::error
                                    : cause                                 ? log_level::warning
                                                                            : log_level::info;
            options.log(level, [&] {
                std::string text = "state: " + std::string(to_string(s));
                if (cause)
                    text += " (" + std::string(cause->what()) + ")";
                return text;
            });
            status = s;
            last_error = std::move(cause);
            progress.notify_all();
            work.notify_all();
            inbox_changed.notify_all();
            if (options.on_state_change)
                options.on_state_change(status, last_error);
        }

        // Ends the run: the connection closes, reconnecting stops, and every pending operation
        // fails with `cause` (not_connected after a clean disconnect). A durable store keeps
        // its messages for the next connect().
        void stop(std::optional<error> cause) noexcept
        {
            if (status == connection_state::stopped && !stream && waiters.empty())
                return;
            close_connection();
            timer_.cancel();
            const error reason = cause ? *cause
                                       : error(errc::not_connected, Q::durable ? "disconnected (kept in the store)"
                                                                               : "disconnected");
            const auto failure = std::make_exception_ptr(reason);
            for (auto& waiter : waiters)
                waiter.complete(failure, executor);
            waiters.clear();
            if constexpr (Q::durable)
                store.rewind();
            else
                store.clear();
            try {
                flush_store_now();
            } catch (const error&) { // its publishers were told already, with `cause`
            }
            session = mqtt::session(session.settings());
            outbox.clear();
            fail_exchanges(failure);
            for (auto& tap : taps)
                if (tap.on_stop)
                    tap.on_stop(reason);
            try {
                set_state(connection_state::stopped, std::move(cause));
            } catch (...) { // an on_state_change callback that throws must not stop the stop
            }
        }

        void close_connection() noexcept
        {
            timer_.cancel();
            if (stream) {
                stream->close();
                stream.reset();
            }
            progress.notify_all();
        }

        void fail_exchanges(const std::exception_ptr& failure)
        {
            for (auto& [id, pending] : exchanges)
                pending->fail(failure);
            exchanges.clear();
        }

        void throw_if_stopped() const
        {
            if (status != connection_state::stopped)
                return;
            if (last_error)
                throw *last_error;
            throw error(errc::not_connected);
        }

        std::exception_ptr stopped_failure() const
        {
            try {
                throw_if_stopped();
            } catch (...) {
                return std::current_exception();
            }
            return nullptr;
        }

        bool drained() const noexcept { return store.queued_messages() == 0 && session.idle(); }

        static asio::awaitable<void> wait_until_connected(std::shared_ptr<core> self, const char* operation)
        {
            while (self->status == connection_state::reconnecting || self->status == connection_state::connecting) {
                co_await self->progress.wait();
                const asio::cancellation_state cancel = co_await asio::this_coro::cancellation_state;
                detail::throw_if_cancelled(cancel, operation);
            }
            self->throw_if_stopped();
        }

        // ---- the operations (basic_client's), on the state they share ------------------

        static asio::awaitable<void> connect(std::shared_ptr<core> self, connect_options options)
        {
            validate(options);
            self->stop(error(errc::not_connected, "connect() called again"));
            self->start_run(std::move(options));
            try {
                if constexpr (requires { typename S::crypto; })
                    if (self->options.validate_chain) {
                        const chain_report report = validate_credentials<typename S::crypto, C>(
                            *self->device, self->client_id, self->options.chain_rules);
                        for (const chain_finding& f : report.findings())
                            if (f.severity == finding_severity::warning)
                                self->options.log(log_level::warning, [&] {
                                    return "device chain: " + std::string(f.rule) + ": " + f.message;
                                });
                        report.throw_if_rejected();
                    }
                const bool session_present = co_await attempt(self);
                self->connected(session_present);
            } catch (const error& e) {
                self->stop(e);
                throw;
            } catch (...) {
                self->stop(error(errc::operation_aborted, "connect cancelled"));
                throw;
            }
        }

        static asio::awaitable<mqtt::qos> subscribe(std::shared_ptr<core> self, std::string topic_filter, mqtt::qos qos)
        {
            co_await wait_until_connected(self, "subscribe");
            const mqtt::packet answer = co_await self->exchange(
                [&](std::string& out) { return self->session.subscribe({{topic_filter, qos}}, out); },
                mqtt::packet_type::suback, "subscribe");
            const auto& codes = std::get<mqtt::suback>(answer).return_codes;
            if (codes.size() != 1)
                throw error(errc::mqtt_unexpected_packet, "SUBACK with " + std::to_string(codes.size()) +
                                                              " return codes for one subscription");
            self->options.log(codes[0] == mqtt::suback_failure ? log_level::warning : log_level::info, [&] {
                return "SUBACK for " + topic_filter + ": " +
                       (codes[0] == mqtt::suback_failure ? std::string("refused") : "QoS " + std::to_string(codes[0]));
            });
            if (codes[0] == mqtt::suback_failure)
                throw error(errc::subscription_refused, topic_filter);
            self->session.remember({topic_filter, qos});
            co_return static_cast<mqtt::qos>(codes[0]);
        }

        static asio::awaitable<void> unsubscribe(std::shared_ptr<core> self, std::string topic_filter)
        {
            co_await wait_until_connected(self, "unsubscribe");
            co_await self->exchange([&](std::string& out) { return self->session.unsubscribe({topic_filter}, out); },
                                    mqtt::packet_type::unsuback, "unsubscribe");
        }

        static asio::awaitable<message> receive(std::shared_ptr<core> self)
        {
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

        static asio::awaitable<void> disconnect(std::shared_ptr<core> self, std::chrono::milliseconds drain_timeout)
        {
            const std::uint64_t run = self->run;
            const auto deadline = timer_clock::now() + drain_timeout;
            while (self->run == run && self->status != connection_state::stopped && !self->drained() &&
                   timer_clock::now() < deadline)
                co_await self->progress.wait_until(deadline);
            if (self->run == run && self->status == connection_state::connected) {
                self->disconnecting = true; // the broker closing the connection now is no loss
                try {
                    auto stream = self->stream;
                    mqtt::session::encode(mqtt::disconnect{}, self->outbox);
                    self->work.notify_all();
                    co_await self->flushed(stream);
                    if (stream)
                        co_await stream->shutdown();
                } catch (const error&) {
                    // Already gone: nothing left to say goodbye to.
                }
            }
            if (self->run == run)
                self->stop(std::nullopt);
        }

        static asio::awaitable<void> change_credentials(std::shared_ptr<core> self, credentials device)
        {
            const std::string id = device.device_common_name();
            if (id != self->common_name)
                throw error(errc::invalid_argument, "the new certificate is for CN=" + id + ", the client is device " +
                                                        self->common_name);
            if constexpr (requires { typename S::crypto; })
                if (self->options.validate_chain) {
                    const bool running = self->status != connection_state::stopped;
                    validate_credentials<typename S::crypto, C>(
                        device, running ? std::optional<std::string_view>(self->client_id) : std::nullopt,
                        self->options.chain_rules)
                        .throw_if_rejected();
                }
            auto next = std::make_shared<typename S::context>(device, self->trust, self->tls);
            device.wipe_private_key();
            if (self->status == connection_state::stopped) {
                self->context = std::move(next);
                self->device.emplace(std::move(device));
                co_return;
            }
            const std::uint64_t run = self->run;
            auto throw_if_ended = [&] {
                if (self->run != run || self->status == connection_state::stopped)
                    throw error(errc::not_connected, "the client stopped while changing credentials");
            };
            co_await say_goodbye_for_new_credentials(self, run);
            throw_if_ended();
            self->options.log(log_level::info, [] { return std::string("connecting again with new credentials"); });
            self->set_state(connection_state::reconnecting, std::nullopt);
            std::shared_ptr<typename S::context> previous = std::exchange(self->context, next);
            try {
                const bool session_present = co_await attempt(self);
                throw_if_ended();
                self->connected(session_present);
                self->device.emplace(std::move(device));
            } catch (...) {
                // Back to the credentials the client had, reconnecting as after a lost connection.
                if (self->context == next)
                    self->context = std::move(previous);
                std::optional<error> failure;
                try {
                    throw;
                } catch (const error& e) {
                    failure = error(e.code(), "with the new credentials: " + e.detail());
                } catch (...) {
                }
                if (self->run == run && self->status == connection_state::reconnecting) {
                    self->close_connection();
                    self->set_state(connection_state::reconnecting, failure);
                    asio::co_spawn(self->executor, reconnect_loop(self, run), asio::detached);
                }
                if (failure)
                    throw *failure;
                throw;
            }
        }

        // change_credentials()'s first step: once connected, lets the messages in flight be
        // acknowledged (new ones wait in the store), then says DISCONNECT and closes. A
        // connection lost meanwhile is waited out, and the step begins again.
        static asio::awaitable<void> say_goodbye_for_new_credentials(std::shared_ptr<core> self, std::uint64_t run)
        {
            struct release {
                core& self;
                ~release()
                {
                    self.holding = false;
                    self.disconnecting = false;
                    self.work.notify_all();
                }
            };
            for (;;) {
                co_await wait_until_connected(self, "change_credentials");
                if (self->run != run)
                    co_return;
                const release released{*self};
                const std::uint64_t generation = self->generation;
                auto still_up = [&] {
                    return self->run == run && self->generation == generation &&
                           self->status == connection_state::connected;
                };
                self->holding = true;
                const auto deadline = timer_clock::now() + self->options.timeout;
                while (still_up() && self->session.in_flight() > 0 && timer_clock::now() < deadline)
                    co_await self->progress.wait_until(deadline);
                if (!still_up())
                    continue;
                self->disconnecting = true; // the broker closing the connection now is no loss
                const auto stream = self->stream;
                mqtt::session::encode(mqtt::disconnect{}, self->outbox);
                self->work.notify_all();
                co_await self->flushed(stream);
                try {
                    if (stream && self->stream == stream)
                        co_await stream->shutdown();
                } catch (const error&) {
                    // Already gone.
                }
                if (self->run == run && self->generation == generation && self->stream)
                    self->end_connection(error(errc::not_connected, "closed for new credentials"));
                co_return;
            }
        }

        mqtt::session::time_point session_now() const { return timer_clock::now().time_since_epoch(); }

        // ---- publishing ----------------------------------------------------------------

        void start_publish(detail::waiting_handler handler, std::string topic, std::string payload, mqtt::qos qos,
                           bool retain)
        {
            if (auto stopped = stopped_failure()) {
                handler.complete(stopped, executor);
                return;
            }
            std::uint64_t id = 0;
            std::vector<stored_message> dropped;
            try {
                // Encoded once, here: what the broker would refuse never enters the store. The
                // session writes the real packet id when it sends it.
                std::string packet = mqtt::encode(mqtt::publish{std::move(topic), std::move(payload), qos, retain,
                                                                false, qos == mqtt::qos::at_most_once ? std::uint16_t{0}
                                                                                                       : std::uint16_t{1}});
                id = store.push(std::move(packet), dropped);
            } catch (const error&) {
                handler.complete(std::current_exception(), executor);
                return;
            }
            store_changed();
            for (const stored_message& m : dropped)
                message_dropped(m);
            if (waiters.empty())
                first_waiter = id;
            while (first_waiter + waiters.size() < id)
                waiters.emplace_back(); // messages of earlier runs, or withdrawn ones
            waiters.push_back(std::move(handler));
            waiters.back().on_cancel(cancel_publish{this->weak_from_this(), id});
            work.notify_all();
        }

        void message_dropped(const stored_message& m)
        {
            static constexpr const char* why = "QoS 0 message dropped from the full send queue for a newer one";
            options.log(log_level::warning, [] { return std::string(why); });
            complete_waiter(m.id, std::make_exception_ptr(error(errc::message_dropped, why)));
            if (options.send_queue.on_drop) {
                mqtt::decoder d(m.packet.size());
                d.feed(m.packet);
                options.send_queue.on_drop(std::get<mqtt::publish>(*d.next()));
            }
        }

        void complete_waiter(std::uint64_t id, std::exception_ptr failure)
        {
            if (id < first_waiter || id - first_waiter >= waiters.size())
                return;
            waiters[id - first_waiter].complete(std::move(failure), executor);
            while (!waiters.empty() && !waiters.front()) {
                waiters.pop_front();
                ++first_waiter;
            }
        }

        // A cancelled publish: withdrawn when it still waits in the store; once sent it stays
        // with the broker, and only its waiter goes. Done after the signal's call, which must
        // not clear the slot it runs from.
        struct cancel_publish {
            std::weak_ptr<core> owner;
            std::uint64_t id;
            void operator()(asio::cancellation_type type) const
            {
                const auto self = owner.lock();
                if (!self || type == asio::cancellation_type::none)
                    return;
                asio::post(self->executor, [owner = owner, id = id] {
                    if (const auto self = owner.lock()) {
                        self->with_store([&] { self->store.withdraw(id); });
                        self->complete_waiter(id, std::make_exception_ptr(error(errc::operation_aborted, "publish cancelled")));
                    }
                });
            }
        };

        // ---- sending -------------------------------------------------------------------

        // The writer of one connection: what the outbox holds (acknowledgements, resends, pings,
        // requests), then messages from the store while the in-flight window has room, as many
        // per TLS write as are ready.
        static asio::awaitable<void> write_loop(std::shared_ptr<core> self, std::shared_ptr<stream_type> stream,
                                                std::uint64_t generation)
        {
            std::string batch;
            std::vector<std::uint64_t> written_qos0;
            while (self->generation == generation && self->status == connection_state::connected) {
                batch.clear();
                written_qos0.clear();
                batch.swap(self->outbox);
                const bool took = self->with_store([&] {
                    for (std::optional<mqtt::qos> next;
                         !self->holding && batch.size() < batch_limit && (next = self->store.next_qos()) &&
                         self->session.can_send(*next);) {
                        stored_message m = *self->store.take();
                        const std::uint16_t packet_id = self->session.send(m.id, std::move(m.packet), batch);
                        if (*next == mqtt::qos::at_most_once)
                            written_qos0.push_back(m.id);
                        else if (!self->options.clean_session)
                            self->store.sent(m.id, packet_id); // a restarted process resumes with it
                    }
                });
                if (!took)
                    co_return;
                if (batch.empty()) {
                    co_await self->work.wait();
                    continue;
                }
                const std::uint64_t number = ++self->batches_started;
                try {
                    co_await self->write(*stream, generation, batch);
                } catch (const error&) {
                    self->qos0_written(written_qos0, std::current_exception());
                    co_return;
                }
                self->batches_written = number;
                self->qos0_written(written_qos0, nullptr);
                self->progress.notify_all();
            }
        }

        static constexpr std::size_t batch_limit = 64 * 1024;

        // QoS 0 messages leave the store once written, or once their write failed (at most once).
        void qos0_written(const std::vector<std::uint64_t>& ids, const std::exception_ptr& failure)
        {
            with_store([&] {
                for (const std::uint64_t id : ids)
                    store.release(id);
            });
            for (const std::uint64_t id : ids)
                complete_waiter(id, failure);
        }

        // Changes the store; a store that fails stops the client with its error (what it holds
        // can no longer be trusted). Returns whether it went well.
        template <class Change>
        bool with_store(Change change)
        {
            try {
                change();
            } catch (const error& e) {
                stop(e);
                return false;
            }
            store_changed();
            return true;
        }

        // The changes one turn of the executor makes to a durable store are flushed together
        // once it ends (Store::flush): publish() calls made together, the acknowledgements of
        // one read, a batch taken by the writer.
        void store_changed()
        {
            if (!Q::durable || store_flush_due)
                return;
            store_flush_due = true;
            asio::post(executor, [owner = this->weak_from_this()] {
                if (const auto self = owner.lock()) {
                    try {
                        self->flush_store_now();
                    } catch (const error& e) {
                        self->stop(e);
                    }
                }
            });
        }

        void flush_store_now()
        {
            store_flush_due = false;
            store.flush();
        }

        // Every write of a connection goes through here: a failure ends that connection.
        asio::awaitable<void> write(stream_type& to, std::uint64_t gen, std::string_view bytes)
        {
            try {
                session.sent_bytes(session_now());
                co_await to.write(bytes);
            } catch (const error& e) {
                connection_lost(gen, e);
                throw;
            }
        }

        // Completes once what the outbox holds now was written, or the connection is gone: the
        // writer takes the outbox with its next batch.
        asio::awaitable<void> flushed(const std::shared_ptr<stream_type>& on)
        {
            const std::uint64_t batch = batches_started + 1;
            while (stream == on && on && batches_written < batch)
                co_await progress.wait();
        }

        // SUBSCRIBE and UNSUBSCRIBE: `start` appends the request to the outbox (whole: a
        // cancelled exchange never cuts a TLS record) and returns its packet id; completes with
        // the answer, which must be of type `expected`.
        template <class Start>
        asio::awaitable<mqtt::packet> exchange(Start start, mqtt::packet_type expected, const char* operation)
        {
            throw_if_stopped();
            if (status != connection_state::connected)
                throw error(errc::not_connected,
                            std::string(to_string(status)) + (last_error ? std::string(": ") + last_error->what() : ""));
            auto answer = std::make_shared<pending_packet>(executor);
            const std::uint16_t id = start(outbox);
            exchanges[id] = answer;
            work.notify_all();
            try {
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
            auto stream = std::make_shared<stream_type>(self->executor, *self->context, self->context);
            self->stream = stream;
            const std::uint64_t generation = ++self->generation;
            self->decoder = mqtt::decoder{};
            self->connect_timed_out = false;
            self->session.connecting(self->session_now() + self->options.timeout);
            asio::co_spawn(self->executor, deadline_loop(self, stream, generation), asio::detached);
            const std::string where = self->options.host + ":" + std::to_string(self->options.port);
            self->options.log(log_level::info, [&] { return "connecting to " + where + " as '" + self->client_id + "'"; });
            try {
                co_await stream->connect(self->options.host, self->options.port);
                self->options.log(log_level::info, [&] { return "TLS with " + where + ": " + stream->negotiated(); });
                mqtt::connect hello;
                hello.client_id = self->client_id;
                hello.keepalive = static_cast<std::uint16_t>(self->options.keepalive.count());
                hello.clean_session = self->options.clean_session;
                const std::string hello_bytes = mqtt::encode(hello);
                co_await stream->write(hello_bytes);
                const mqtt::packet first = co_await self->read_packet(*stream);
                const auto* ack = std::get_if<mqtt::connack>(&first);
                if (!ack)
                    throw error(errc::mqtt_unexpected_packet,
                                std::string(mqtt::packet_name(mqtt::type_of(first))) + " where CONNACK was due");
                self->options.log(ack->return_code == 0 ? log_level::info : log_level::error, [&] {
                    return "CONNACK " + std::to_string(ack->return_code) +
                           (ack->session_present ? ", session present" : ", no session present");
                });
                if (ack->return_code != 0)
                    throw error(make_connack_error(ack->return_code), "client id '" + self->client_id + "'");
                if (self->generation != generation)
                    throw error(errc::not_connected, "stopped while connecting");
                co_return ack->session_present;
            } catch (...) {
                if (self->generation == generation)
                    self->close_connection();
                if (!self->connect_timed_out)
                    throw;
            }
            throw error(errc::connect_timeout,
                        where + " after " + std::to_string(self->options.timeout.count()) + " ms");
        }

        // The one timer of a connection: the session's deadlines (the CONNACK's while connecting,
        // then keepalive and the PINGRESP's).
        static asio::awaitable<void> deadline_loop(std::shared_ptr<core> self, std::shared_ptr<stream_type> stream,
                                                   std::uint64_t generation)
        {
            while (self->generation == generation && self->stream == stream) {
                const auto due = self->session.next_deadline();
                self->timer_.expires_at(due ? typename timer_clock::time_point(
                                                  std::chrono::duration_cast<typename timer_clock::duration>(*due))
                                            : timer_clock::time_point::max());
                std::error_code ignored;
                co_await self->timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                if (self->generation != generation || self->stream != stream)
                    co_return;
                switch (self->session.tick(self->session_now(), self->outbox)) {
                case mqtt::session::verdict::connect_overdue:
                    self->connect_timed_out = true;
                    stream->close();
                    co_return;
                case mqtt::session::verdict::ping_overdue:
                    self->connection_lost(
                        generation,
                        error(errc::timeout, "no PINGRESP within " + std::to_string(self->session.ping_patience().count()) +
                                                 " ms (keepalive " + std::to_string(self->options.keepalive.count()) +
                                                 " s)"));
                    co_return;
                case mqtt::session::verdict::none:
                    if (!self->outbox.empty())
                        self->work.notify_all();
                }
            }
        }

        // The connection is up: the session says what goes first; the reader and writer start.
        void connected(bool session_present)
        {
            auto self = this->shared_from_this();
            ++connections;
            session.connected(session_present, session_now(), outbox);
            options.log(log_level::info, [&] {
                return std::to_string(session.in_flight()) + " unacknowledged message(s) sent again, " +
                       std::to_string(store.queued_messages()) + " queued";
            });
            set_state(connection_state::connected, std::nullopt);
            timer_.cancel(); // the deadline loop re-arms for keepalive
            asio::co_spawn(executor, read_loop(self, stream, generation), asio::detached);
            asio::co_spawn(executor, write_loop(self, stream, generation), asio::detached);
        }

        // A connection ended: reconnect when the options allow and a retry can help (or the
        // broker broke the protocol: another connection may go better), else stop.
        void connection_lost(std::uint64_t gen, const error& cause, bool broker_fault = false)
        {
            if (gen != generation || status != connection_state::connected)
                return;
            end_connection(cause);
            if (disconnecting)
                return; // disconnect() stops the client
            if (!options.reconnect.enabled || !(broker_fault || retry_can_help(cause.code()))) {
                stop(cause);
                return;
            }
            set_state(connection_state::reconnecting, cause);
            asio::co_spawn(executor, reconnect_loop(this->shared_from_this(), run), asio::detached);
        }

        // Closes the connection; the requests that waited on it fail with `cause`, the messages
        // in flight go again on the next one.
        void end_connection(const error& cause)
        {
            close_connection();
            for (const std::uint16_t id : session.disconnected())
                if (auto it = exchanges.find(id); it != exchanges.end()) {
                    it->second->fail(std::make_exception_ptr(cause));
                    exchanges.erase(it);
                }
            outbox.clear(); // acknowledgements and requests of the old connection mean nothing now
        }

        std::chrono::milliseconds backoff(unsigned failures)
        {
            const auto& r = options.reconnect;
            return detail::backoff_delay(r.initial_delay, r.max_delay, failures, r.jitter, rng);
        }

        static asio::awaitable<void> reconnect_loop(std::shared_ptr<core> self, std::uint64_t run)
        {
            for (unsigned failures = 0;; ++failures) {
                const auto delay = self->backoff(failures);
                self->next_attempt = timer_clock::now() + delay;
                self->options.log(log_level::info,
                                  [&] { return "next attempt in " + std::to_string(delay.count()) + " ms"; });
                self->progress.notify_all();
                // The deadline loop of the lost connection may still be waking on the timer.
                while (timer_clock::now() < self->next_attempt && self->run == run &&
                       self->status == connection_state::reconnecting) {
                    self->timer_.expires_at(self->next_attempt);
                    std::error_code ignored;
                    co_await self->timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                }
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
                session.received_bytes(session_now());
                decoder.feed(std::string_view(buffer.data(), n));
            }
        }

        static asio::awaitable<void> read_loop(std::shared_ptr<core> self, std::shared_ptr<stream_type> stream,
                                               std::uint64_t generation)
        {
            for (;;) {
                mqtt::packet packet;
                try {
                    packet = co_await self->read_packet(*stream);
                } catch (const error& e) {
                    // Bytes that are not MQTT are the broker's fault; the connection's end is not.
                    self->connection_lost(generation, e, self->decoder.failed());
                    co_return;
                }
                if (self->generation != generation)
                    co_return;
                try {
                    self->handle(std::move(packet));
                } catch (const error& e) {
                    const bool refusal = e.code().category() == connack_category();
                    self->connection_lost(generation, e, !refusal);
                    co_return;
                }
            }
        }

        void handle(mqtt::packet packet)
        {
            events.clear();
            session.receive(std::move(packet), outbox, events);
            if (!outbox.empty())
                work.notify_all();
            for (mqtt::session::event& e : events)
                std::visit([this](auto& happened) { this->on(happened); }, e);
        }

        void on(mqtt::session::completed& c)
        {
            if (!with_store([&] { store.release(c.message); }))
                return;
            complete_waiter(c.message, nullptr);
            work.notify_all(); // the window has room again
            progress.notify_all();
        }

        void on(message& m)
        {
            for (const message_tap& tap : taps)
                if (mqtt::topic_matches(tap.topic_filter, m.topic) && tap.on_message(m))
                    return;
            inbox.push_back(std::move(m));
            inbox_changed.notify_all();
        }

        void on(mqtt::session::answered& a)
        {
            const auto it = exchanges.find(a.packet_id);
            if (it == exchanges.end())
                return; // its waiter was cancelled
            auto pending = std::move(it->second);
            exchanges.erase(it);
            pending->complete(std::move(a.answer));
        }

        void on(mqtt::session::subscription_lost& lost)
        {
            // Refused now, refused at every reconnect: forgotten, and the application told.
            set_state(connection_state::connected,
                      error(errc::subscription_refused,
                            lost.filter.topic_filter + " (restoring subscriptions after a reconnect)"));
        }
    };

    std::shared_ptr<core> state_;
    detail::token_exchange<handle> tokens_;
};

template <Transport T, class S, Clock C, Store Q>
asio::awaitable<void> basic_client<T, S, C, Q>::start_connect(std::shared_ptr<core> self, connect_options options)
{
    return core::connect(std::move(self), std::move(options));
}

template <Transport T, class S, Clock C, Store Q>
asio::awaitable<mqtt::qos> basic_client<T, S, C, Q>::start_subscribe(std::shared_ptr<core> self, std::string filter,
                                                                     mqtt::qos qos)
{
    return core::subscribe(std::move(self), std::move(filter), qos);
}

template <Transport T, class S, Clock C, Store Q>
asio::awaitable<void> basic_client<T, S, C, Q>::start_unsubscribe(std::shared_ptr<core> self, std::string filter)
{
    return core::unsubscribe(std::move(self), std::move(filter));
}

template <Transport T, class S, Clock C, Store Q>
asio::awaitable<message> basic_client<T, S, C, Q>::start_receive(std::shared_ptr<core> self)
{
    return core::receive(std::move(self));
}

template <Transport T, class S, Clock C, Store Q>
asio::awaitable<void> basic_client<T, S, C, Q>::start_disconnect(std::shared_ptr<core> self,
                                                                 std::chrono::milliseconds drain_timeout)
{
    return core::disconnect(std::move(self), drain_timeout);
}

template <Transport T, class S, Clock C, Store Q>
asio::awaitable<void> basic_client<T, S, C, Q>::start_wait_until_connected(std::shared_ptr<core> self,
                                                                           const char* operation)
{
    return core::wait_until_connected(std::move(self), operation);
}

template <Transport T, class S, Clock C, Store Q>
asio::awaitable<void> basic_client<T, S, C, Q>::start_change_credentials(std::shared_ptr<core> self,
                                                                         credentials device)
{
    return core::change_credentials(std::move(self), std::move(device));
}

template <Transport T, class S, Clock C, Store Q>
void basic_client<T, S, C, Q>::publish_now(core& self, detail::waiting_handler handler, std::string topic,
                                           std::string payload, mqtt::qos qos, bool retain)
{
    self.start_publish(std::move(handler), std::move(topic), std::move(payload), qos, retain);
}

template <Transport T, class S, Clock C, Store Q>
void basic_client<T, S, C, Q>::stop(core& self, const char* why) noexcept
{
    self.stop(error(errc::not_connected, why));
}

/// The client with the default policies: Asio TCP, wolfSSL, the system clock, a memory store.
using client = basic_client<>;

} // namespace c8y::mtls
