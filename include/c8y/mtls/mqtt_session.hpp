// c8y-mtls: the MQTT 3.1.1 session of a client as a state machine without I/O: packet ids, the
// in-flight window, the QoS 1 and 2 flows both ways, the subscriptions to restore, keepalive and
// the deadlines, and what to send again after a reconnect (§3.1.2.4, §4.3, §4.4). Packets and
// time go in; bytes to write, events and the next deadline come out. No Asio, no coroutines.
#pragma once

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
inline std::size_t publish_packet_id_offset(std::string_view packet) noexcept
{
    std::size_t at = 1;
    while (at < packet.size() && (static_cast<unsigned char>(packet[at]) & 0x80))
        ++at;
    ++at; // the last byte of the remaining length
    const std::size_t topic = (std::size_t{static_cast<unsigned char>(packet[at])} << 8) |
                              static_cast<unsigned char>(packet[at + 1]);
    return at + 2 + topic;
}

/// The packet id of an encoded QoS 1/2 PUBLISH packet.
inline std::uint16_t publish_packet_id(std::string_view packet) noexcept
{
    const std::size_t at = publish_packet_id_offset(packet);
    return static_cast<std::uint16_t>((static_cast<unsigned char>(packet[at]) << 8) |
                                      static_cast<unsigned char>(packet[at + 1]));
}

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
    void connecting(time_point deadline) noexcept
    {
        connected_ = false;
        connect_deadline_ = deadline;
    }

    /// CONNACK 0 came. Appends what goes first (§4.4): with no session present on the broker,
    /// every QoS 1/2 message not completed as PUBLISH with DUP set (a QoS 2 message whose PUBREC
    /// came included: the broker dropped it with its session) and one SUBSCRIBE restoring the
    /// subscriptions; with a session present, PUBREL for the QoS 2 messages whose PUBREC came and
    /// PUBLISH with DUP for the others, in the order first sent.
    void connected(bool session_present, time_point now, std::string& out)
    {
        connected_ = true;
        connect_deadline_.reset();
        last_sent_ = last_received_ = now;
        ping_deadline_.reset();
        if (!session_present)
            qos2_received_.clear(); // the broker's new session knows none of them
        for (in_flight_message& m : in_flight_) {
            if (!session_present)
                m.released = false;
            write_in_flight(m, true, out);
        }
        if (!session_present && !subscriptions_.empty()) {
            restore_id_ = allocate_packet_id();
            encode(mqtt::subscribe{*restore_id_, subscriptions_}, out);
            restoring_ = subscriptions_;
        }
    }

    /// The connection ended. The exchanges in progress end with it (their packet ids are
    /// returned, for their waiters to fail); messages in flight stay for the next connection.
    std::vector<std::uint16_t> disconnected()
    {
        connected_ = false;
        connect_deadline_.reset();
        ping_deadline_.reset();
        restore_id_.reset();
        restoring_.clear();
        std::vector<std::uint16_t> ended(exchanges_.begin(), exchanges_.end());
        exchanges_.clear();
        return ended;
    }

    bool is_connected() const noexcept { return connected_; }

    // ---- sending -------------------------------------------------------------------------

    /// Whether a message of QoS `q` may be sent now: QoS 0 always, QoS 1/2 while the in-flight
    /// window has room.
    bool can_send(qos q) const noexcept { return q == qos::at_most_once || in_flight_.size() < options_.max_in_flight; }

    /// Sends an accepted message: `packet` is its encoded PUBLISH (with any packet id). QoS 0
    /// goes out as it is; QoS 1/2 gets a free packet id and stays in flight until acknowledged,
    /// to be sent again after reconnects. Appends the bytes to `out`; returns the packet id
    /// (0 for QoS 0). The caller checks can_send() first.
    std::uint16_t send(std::uint64_t message, std::string packet, std::string& out)
    {
        if (publish_qos(packet) == qos::at_most_once) {
            out += packet;
            return 0;
        }
        const std::uint16_t id = allocate_packet_id();
        set_packet_id(packet, id);
        in_flight_.push_back({message, std::move(packet), false});
        write_in_flight(in_flight_.back(), false, out);
        return id;
    }

    /// Takes back, before the first connection, a QoS 1/2 message that an earlier session sent
    /// with the packet id in `packet` (a durable store kept it): it is in flight with that id
    /// and goes out again first.
    void resume(std::uint64_t message, std::string packet)
    {
        in_flight_.push_back({message, std::move(packet), false});
    }

    /// Starts a SUBSCRIBE; its SUBACK comes back as `answered`. Returns its packet id.
    std::uint16_t subscribe(std::vector<subscription> filters, std::string& out)
    {
        const std::uint16_t id = allocate_packet_id();
        encode(mqtt::subscribe{id, std::move(filters)}, out);
        exchanges_.insert(id);
        return id;
    }

    /// Starts an UNSUBSCRIBE and forgets the filters; its UNSUBACK comes back as `answered`.
    std::uint16_t unsubscribe(std::vector<std::string> filters, std::string& out)
    {
        for (const std::string& f : filters)
            forget(f);
        const std::uint16_t id = allocate_packet_id();
        encode(mqtt::unsubscribe{id, std::move(filters)}, out);
        exchanges_.insert(id);
        return id;
    }

    /// A subscription granted: restored after every reconnect without a session.
    void remember(subscription s)
    {
        for (subscription& known : subscriptions_)
            if (known.topic_filter == s.topic_filter) {
                known.qos = s.qos;
                return;
            }
        subscriptions_.push_back(std::move(s));
    }

    void forget(std::string_view filter)
    {
        std::erase_if(subscriptions_, [&](const subscription& s) { return s.topic_filter == filter; });
    }

    bool subscribed_to(std::string_view filter) const noexcept
    {
        return std::any_of(subscriptions_.begin(), subscriptions_.end(),
                           [&](const subscription& s) { return s.topic_filter == filter; });
    }

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
    void receive(packet p, std::string& out, std::vector<event>& events)
    {
        switch (type_of(p)) {
        case packet_type::publish: {
            auto& m = std::get<publish>(p);
            const std::uint16_t id = m.packet_id;
            const qos q = m.qos;
            // A QoS 2 message sent again before its PUBREL is delivered once.
            if (q != qos::exactly_once || qos2_received_.insert(id).second)
                events.emplace_back(std::move(m));
            if (q == qos::at_least_once)
                encode(puback{id}, out);
            else if (q == qos::exactly_once)
                encode(pubrec{id}, out);
            break;
        }
        case packet_type::pubrel: {
            const std::uint16_t id = std::get<pubrel>(p).packet_id;
            qos2_received_.erase(id);
            encode(pubcomp{id}, out);
            break;
        }
        case packet_type::puback: acknowledge(std::get<puback>(p).packet_id, packet_type::puback, out, events); break;
        case packet_type::pubrec: acknowledge(std::get<pubrec>(p).packet_id, packet_type::pubrec, out, events); break;
        case packet_type::pubcomp: acknowledge(std::get<pubcomp>(p).packet_id, packet_type::pubcomp, out, events); break;
        case packet_type::suback:
        case packet_type::unsuback: answer(std::move(p), events); break;
        case packet_type::pingresp: ping_deadline_.reset(); break;
        case packet_type::connack: {
            // The platform may report an error this way before it closes the connection.
            const auto code = std::get<connack>(p).return_code;
            throw error(code ? make_connack_error(code) : make_error_code(errc::mqtt_unexpected_packet),
                        "CONNACK in the middle of the session");
        }
        default:
            throw error(errc::mqtt_unexpected_packet, std::string(packet_name(type_of(p))) + " sent by the broker");
        }
    }

    // ---- time ----------------------------------------------------------------------------

    /// When tick() has something to do next: the connect deadline while connecting; the ping
    /// due, or the PINGRESP's deadline, while connected; nullopt when nothing is due.
    std::optional<time_point> next_deadline() const noexcept
    {
        if (!connected_)
            return connect_deadline_;
        if (ping_deadline_)
            return ping_deadline_;
        if (options_.keepalive.count() == 0)
            return std::nullopt;
        return ping_due();
    }

    /// Time passed: appends a PINGREQ once a keepalive interval passed without sending or
    /// without receiving, and says when a deadline was missed.
    verdict tick(time_point now, std::string& out)
    {
        if (!connected_)
            return connect_deadline_ && now >= *connect_deadline_ ? verdict::connect_overdue : verdict::none;
        if (ping_deadline_)
            return now >= *ping_deadline_ ? verdict::ping_overdue : verdict::none;
        if (options_.keepalive.count() > 0 && now >= ping_due()) {
            encode(pingreq{}, out);
            ping_deadline_ = now + ping_patience();
        }
        return verdict::none;
    }

    /// How long a PINGRESP may take.
    std::chrono::milliseconds ping_patience() const noexcept
    {
        return options_.ping_timeout.count() > 0
                   ? options_.ping_timeout
                   : std::chrono::duration_cast<std::chrono::milliseconds>(options_.keepalive) / 2;
    }

    // ---- state ---------------------------------------------------------------------------

    std::size_t in_flight() const noexcept { return in_flight_.size(); }
    bool idle() const noexcept { return in_flight_.empty(); }

    /// Forgets everything: a new session, as for connect() again.
    void reset()
    {
        *this = session(options_);
    }

private:
    struct in_flight_message {
        std::uint64_t message;
        std::string packet; // the PUBLISH as first sent (its packet id set)
        bool released;      // QoS 2: PUBREC came, PUBREL is what goes (again)
    };

    static void set_packet_id(std::string& packet, std::uint16_t id) noexcept
    {
        const std::size_t at = publish_packet_id_offset(packet);
        packet[at] = static_cast<char>(id >> 8);
        packet[at + 1] = static_cast<char>(id & 0xFF);
    }

    static void write_in_flight(in_flight_message& m, bool again, std::string& out)
    {
        if (m.released) {
            encode(pubrel{publish_packet_id(m.packet)}, out);
            return;
        }
        // DUP is bit 3 of the first byte (§3.3.1.1).
        m.packet[0] = static_cast<char>(again ? (m.packet[0] | 0x08) : (m.packet[0] & ~0x08));
        out += m.packet;
    }

    time_point ping_due() const noexcept { return std::min(last_sent_, last_received_) + options_.keepalive; }

    // Our packet ids (messages in flight and exchanges); the broker's ids are another space.
    std::uint16_t allocate_packet_id()
    {
        for (int tries = 0; tries < 65535; ++tries) {
            last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
            const std::uint16_t id = last_packet_id_;
            if (!exchanges_.contains(id) && restore_id_ != id &&
                std::none_of(in_flight_.begin(), in_flight_.end(),
                             [id](const in_flight_message& m) { return publish_packet_id(m.packet) == id; }))
                return id;
        }
        throw error(errc::invalid_argument, "all 65535 packet ids are in use");
    }

    // PUBACK and PUBCOMP complete a message in flight (once: it leaves), PUBREC moves a QoS 2
    // message to its release.
    void acknowledge(std::uint16_t id, packet_type ack, std::string& out, std::vector<event>& events)
    {
        const auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                                     [id](const in_flight_message& m) { return publish_packet_id(m.packet) == id; });
        const qos expected = ack == packet_type::puback ? qos::at_least_once : qos::exactly_once;
        if (it == in_flight_.end() || publish_qos(it->packet) != expected || (ack == packet_type::pubcomp && !it->released))
            throw error(errc::mqtt_unexpected_packet, std::string(packet_name(ack)) + " for packet id " +
                                                          std::to_string(id) + ", which is not in flight at QoS " +
                                                          std::to_string(static_cast<int>(expected)));
        if (ack == packet_type::pubrec) {
            it->released = true;
            encode(pubrel{id}, out);
            return;
        }
        events.emplace_back(completed{it->message});
        in_flight_.erase(it);
    }

    void answer(packet p, std::vector<event>& events)
    {
        const std::uint16_t id = type_of(p) == packet_type::suback ? std::get<suback>(p).packet_id
                                                                   : std::get<unsuback>(p).packet_id;
        if (restore_id_ == id && type_of(p) == packet_type::suback) {
            restored(std::get<suback>(p), events);
            return;
        }
        if (!exchanges_.erase(id))
            throw error(errc::mqtt_unexpected_packet, std::string(packet_name(type_of(p))) + " for packet id " +
                                                          std::to_string(id) + ", which is not in flight");
        events.emplace_back(answered{id, std::move(p)});
    }

    // The SUBACK of the subscriptions restored after a reconnect: what the broker refuses now it
    // refuses at every reconnect, so it is forgotten and reported.
    void restored(const suback& ack, std::vector<event>& events)
    {
        restore_id_.reset();
        for (std::size_t i = 0; i < ack.return_codes.size() && i < restoring_.size(); ++i)
            if (ack.return_codes[i] == suback_failure) {
                forget(restoring_[i].topic_filter);
                events.emplace_back(subscription_lost{restoring_[i]});
            }
        restoring_.clear();
    }

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
