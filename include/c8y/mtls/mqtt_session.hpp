// c8y-mtls: the MQTT 3.1.1 session of a client as a state machine without I/O: packet ids, the
// in-flight window, the QoS 1 and 2 flows both ways, the subscriptions to restore, keepalive and
// the deadlines, and what to send again after a reconnect (§3.1.2.4, §4.3, §4.4). Packets and
// time go in; bytes to write, events and the next deadline come out. No Asio, no coroutines.
#pragma once

#include "c8y/mtls/config.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "c8y/mtls/error.hpp"
#include "c8y/mtls/mqtt.hpp"

namespace c8y::mtls::mqtt {

/// The QoS of an encoded PUBLISH packet (from its first byte).
inline qos publish_qos(std::string_view packet) noexcept { return static_cast<qos>((packet[0] >> 1) & 3); }

/// Where the packet id of an encoded QoS 1/2 PUBLISH packet sits: after the fixed header and
/// the topic.
C8Y_MTLS_DECL std::size_t publish_packet_id_offset(std::string_view packet) noexcept;

/// The packet id of an encoded QoS 1/2 PUBLISH packet.
C8Y_MTLS_DECL std::uint16_t publish_packet_id(std::string_view packet) noexcept;

/// What shapes a session.
struct session_options {
    /// PINGREQ after this long without sending or without receiving; 0 disables keepalive.
    std::chrono::seconds keepalive{60};
    /// How long a PINGRESP may take; 0: half the keepalive.
    std::chrono::milliseconds ping_timeout{0};
    /// QoS 1/2 messages sent and not yet acknowledged, at most.
    std::size_t max_in_flight = 20;
};

/// The session's side of one client: everything that outlives a connection.
class session {
public:
    /// Times on the client's timer clock, as the time since that clock's epoch.
    using time_point = std::chrono::nanoseconds;
    using options = session_options;

    /// A QoS 1/2 message the broker took (PUBACK, or PUBCOMP), by the id its sender gave it.
    struct completed {
        std::uint64_t message = 0;
    };
    /// The SUBACK or UNSUBACK of an exchange started with subscribe() or unsubscribe().
    struct answered {
        std::uint16_t packet_id = 0;
        packet answer;
    };
    /// A subscription the broker refused to restore after a reconnect: it is forgotten.
    struct subscription_lost {
        subscription filter;
    };
    /// What receive() reports; a delivered message is its PUBLISH, delivered once.
    using event = std::variant<completed, publish, answered, subscription_lost>;

    /// What tick() found.
    enum class verdict {
        none,
        connect_overdue, ///< no CONNACK by the connect deadline
        ping_overdue,    ///< no PINGRESP within the ping timeout: the connection is dead
    };

    explicit session(options o = {}) : options_(o) {}

    const options& settings() const noexcept { return options_; }

    // ---- connections ---------------------------------------------------------------------

    /// A connection attempt starts: until connected(), tick() reports connect_overdue once
    /// `deadline` passed.
    C8Y_MTLS_DECL void connecting(time_point deadline) noexcept;

    /// CONNACK 0 came. Appends what goes first (§4.4): with no session present on the broker,
    /// every QoS 1/2 message not completed as PUBLISH with DUP set (a QoS 2 message whose PUBREC
    /// came included: the broker dropped it with its session) and one SUBSCRIBE restoring the
    /// subscriptions; with a session present, PUBREL for the QoS 2 messages whose PUBREC came and
    /// PUBLISH with DUP for the others, in the order first sent.
    C8Y_MTLS_DECL void connected(bool session_present, time_point now, std::string& out);

    /// The connection ended. The exchanges in progress end with it (their packet ids are
    /// returned, for their waiters to fail); messages in flight stay for the next connection.
    C8Y_MTLS_DECL std::vector<std::uint16_t> disconnected();

    bool is_connected() const noexcept { return connected_; }

    // ---- sending -------------------------------------------------------------------------

    /// Whether a message of QoS `q` may be sent now: QoS 0 always, QoS 1/2 while the in-flight
    /// window has room.
    bool can_send(qos q) const noexcept { return q == qos::at_most_once || in_flight_.size() < options_.max_in_flight; }

    /// Sends an accepted message: `packet` is its encoded PUBLISH (with any packet id). QoS 0
    /// goes out as it is; QoS 1/2 gets a free packet id and stays in flight until acknowledged,
    /// to be sent again after reconnects. Appends the bytes to `out`; returns the packet id
    /// (0 for QoS 0). The caller checks can_send() first.
    C8Y_MTLS_DECL std::uint16_t send(std::uint64_t message, std::string packet, std::string& out);

    /// Takes back, before the first connection, a QoS 1/2 message that an earlier session sent
    /// with the packet id in `packet` (a durable store kept it): it is in flight with that id
    /// and goes out again first.
    C8Y_MTLS_DECL void resume(std::uint64_t message, std::string packet);

    /// Starts a SUBSCRIBE; its SUBACK comes back as `answered`. Returns its packet id.
    C8Y_MTLS_DECL std::uint16_t subscribe(std::vector<subscription> filters, std::string& out);

    /// Starts an UNSUBSCRIBE and forgets the filters; its UNSUBACK comes back as `answered`.
    C8Y_MTLS_DECL std::uint16_t unsubscribe(std::vector<std::string> filters, std::string& out);

    /// A subscription granted: restored after every reconnect without a session.
    C8Y_MTLS_DECL void remember(subscription s);

    C8Y_MTLS_DECL void forget(std::string_view filter);

    C8Y_MTLS_DECL bool subscribed_to(std::string_view filter) const noexcept;

    const std::vector<subscription>& subscriptions() const noexcept { return subscriptions_; }

    /// Appends a packet of the client's own (PINGREQ, DISCONNECT, a QoS 0 PUBLISH made on the
    /// spot) to `out`.
    static void encode(const packet& p, std::string& out) { mqtt::encode(p, out); }

    // ---- receiving -----------------------------------------------------------------------

    /// Bytes arrived: keepalive counts from now.
    void received_bytes(time_point now) noexcept { last_received_ = now; }
    /// Bytes were written.
    void sent_bytes(time_point now) noexcept { last_sent_ = now; }

    /// A packet from the broker, on a connection that is up. Appends the acknowledgements to
    /// write to `out` and what happened to `events`. Throws error for what breaks the protocol:
    /// an acknowledgement of nothing in flight, a CONNACK in the middle of the session (its
    /// return code when it refuses), a packet that brokers never send.
    C8Y_MTLS_DECL void receive(packet p, std::string& out, std::vector<event>& events);

    // ---- time ----------------------------------------------------------------------------

    /// When tick() has something to do next: the connect deadline while connecting; the ping
    /// due, or the PINGRESP's deadline, while connected; nullopt when nothing is due.
    C8Y_MTLS_DECL std::optional<time_point> next_deadline() const noexcept;

    /// Time passed: appends a PINGREQ once a keepalive interval passed without sending or
    /// without receiving, and says when a deadline was missed.
    C8Y_MTLS_DECL verdict tick(time_point now, std::string& out);

    /// How long a PINGRESP may take.
    C8Y_MTLS_DECL std::chrono::milliseconds ping_patience() const noexcept;

    // ---- state ---------------------------------------------------------------------------

    std::size_t in_flight() const noexcept { return in_flight_.size(); }
    bool idle() const noexcept { return in_flight_.empty(); }

    /// Forgets everything: a new session, as for connect() again.
    C8Y_MTLS_DECL void reset();

private:
    struct in_flight_message {
        std::uint64_t message;
        std::string packet; // the PUBLISH as first sent (its packet id set)
        bool released;      // QoS 2: PUBREC came, PUBREL is what goes (again)
    };

    C8Y_MTLS_DECL static void set_packet_id(std::string& packet, std::uint16_t id) noexcept;

    C8Y_MTLS_DECL static void write_in_flight(in_flight_message& m, bool again, std::string& out);

    time_point ping_due() const noexcept { return std::min(last_sent_, last_received_) + options_.keepalive; }

    // Our packet ids (messages in flight and exchanges); the broker's ids are another space.
    C8Y_MTLS_DECL std::uint16_t allocate_packet_id();

    // PUBACK and PUBCOMP complete a message in flight (once: it leaves), PUBREC moves a QoS 2
    // message to its release.
    C8Y_MTLS_DECL void acknowledge(std::uint16_t id, packet_type ack, std::string& out, std::vector<event>& events);

    C8Y_MTLS_DECL void answer(packet p, std::vector<event>& events);

    // The SUBACK of the subscriptions restored after a reconnect: what the broker refuses now it
    // refuses at every reconnect, so it is forgotten and reported.
    C8Y_MTLS_DECL void restored(const suback& ack, std::vector<event>& events);

    options options_;
    bool connected_ = false;
    std::optional<time_point> connect_deadline_;
    time_point last_sent_{}, last_received_{};
    std::optional<time_point> ping_deadline_;
    std::uint16_t last_packet_id_ = 0;
    std::vector<in_flight_message> in_flight_; // in the order first sent
    std::set<std::uint16_t> exchanges_;        // SUBSCRIBE and UNSUBSCRIBE awaiting their answer
    std::optional<std::uint16_t> restore_id_;  // the SUBSCRIBE restoring subscriptions
    std::vector<subscription> restoring_;
    std::vector<subscription> subscriptions_;
    std::set<std::uint16_t> qos2_received_; // PUBREC sent, PUBREL not yet received
};

} // namespace c8y::mtls::mqtt

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/mqtt_session.ipp"
#endif
