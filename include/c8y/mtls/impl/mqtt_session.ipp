// c8y-mtls: the definitions mqtt_session.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/mqtt_session.hpp"

namespace c8y::mtls::mqtt {

C8Y_MTLS_DECL std::size_t publish_packet_id_offset(std::string_view packet) noexcept
{
    std::size_t at = 1;
    while (at < packet.size() && (static_cast<unsigned char>(packet[at]) & 0x80))
        ++at;
    ++at; // the last byte of the remaining length
    const std::size_t topic = (std::size_t{static_cast<unsigned char>(packet[at])} << 8) |
                              static_cast<unsigned char>(packet[at + 1]);
    return at + 2 + topic;
}

C8Y_MTLS_DECL std::uint16_t publish_packet_id(std::string_view packet) noexcept
{
    const std::size_t at = publish_packet_id_offset(packet);
    return static_cast<std::uint16_t>((static_cast<unsigned char>(packet[at]) << 8) |
                                      static_cast<unsigned char>(packet[at + 1]));
}

C8Y_MTLS_DECL void session::connecting(time_point deadline) noexcept
{
    connected_ = false;
    connect_deadline_ = deadline;
}

C8Y_MTLS_DECL void session::connected(bool session_present, time_point now, std::string& out)
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

C8Y_MTLS_DECL auto session::disconnected() -> std::vector<std::uint16_t>
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

C8Y_MTLS_DECL std::uint16_t session::send(std::uint64_t message, std::string packet, std::string& out)
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

C8Y_MTLS_DECL void session::resume(std::uint64_t message, std::string packet)
{
    in_flight_.push_back({message, std::move(packet), false});
}

C8Y_MTLS_DECL std::uint16_t session::subscribe(std::vector<subscription> filters, std::string& out)
{
    const std::uint16_t id = allocate_packet_id();
    encode(mqtt::subscribe{id, std::move(filters)}, out);
    exchanges_.insert(id);
    return id;
}

C8Y_MTLS_DECL std::uint16_t session::unsubscribe(std::vector<std::string> filters, std::string& out)
{
    for (const std::string& f : filters)
        forget(f);
    const std::uint16_t id = allocate_packet_id();
    encode(mqtt::unsubscribe{id, std::move(filters)}, out);
    exchanges_.insert(id);
    return id;
}

C8Y_MTLS_DECL void session::remember(subscription s)
{
    for (subscription& known : subscriptions_)
        if (known.topic_filter == s.topic_filter) {
            known.qos = s.qos;
            return;
        }
    subscriptions_.push_back(std::move(s));
}

C8Y_MTLS_DECL void session::forget(std::string_view filter)
{
    std::erase_if(subscriptions_, [&](const subscription& s) { return s.topic_filter == filter; });
}

C8Y_MTLS_DECL bool session::subscribed_to(std::string_view filter) const noexcept
{
    return std::any_of(subscriptions_.begin(), subscriptions_.end(),
                       [&](const subscription& s) { return s.topic_filter == filter; });
}

C8Y_MTLS_DECL void session::receive(packet p, std::string& out, std::vector<event>& events)
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

C8Y_MTLS_DECL auto session::next_deadline() const noexcept -> std::optional<time_point>
{
    if (!connected_)
        return connect_deadline_;
    if (ping_deadline_)
        return ping_deadline_;
    if (options_.keepalive.count() == 0)
        return std::nullopt;
    return ping_due();
}

C8Y_MTLS_DECL auto session::tick(time_point now, std::string& out) -> verdict
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

C8Y_MTLS_DECL std::chrono::milliseconds session::ping_patience() const noexcept
{
    return options_.ping_timeout.count() > 0
               ? options_.ping_timeout
               : std::chrono::duration_cast<std::chrono::milliseconds>(options_.keepalive) / 2;
}

C8Y_MTLS_DECL void session::reset()
{
    *this = session(options_);
}

C8Y_MTLS_DECL void session::set_packet_id(std::string& packet, std::uint16_t id) noexcept
{
    const std::size_t at = publish_packet_id_offset(packet);
    packet[at] = static_cast<char>(id >> 8);
    packet[at + 1] = static_cast<char>(id & 0xFF);
}

C8Y_MTLS_DECL void session::write_in_flight(in_flight_message& m, bool again, std::string& out)
{
    if (m.released) {
        encode(pubrel{publish_packet_id(m.packet)}, out);
        return;
    }
    // DUP is bit 3 of the first byte (§3.3.1.1).
    m.packet[0] = static_cast<char>(again ? (m.packet[0] | 0x08) : (m.packet[0] & ~0x08));
    out += m.packet;
}

C8Y_MTLS_DECL std::uint16_t session::allocate_packet_id()
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

C8Y_MTLS_DECL void session::acknowledge(std::uint16_t id, packet_type ack, std::string& out, std::vector<event>& events)
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

C8Y_MTLS_DECL void session::answer(packet p, std::vector<event>& events)
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

C8Y_MTLS_DECL void session::restored(const suback& ack, std::vector<event>& events)
{
    restore_id_.reset();
    for (std::size_t i = 0; i < ack.return_codes.size() && i < restoring_.size(); ++i)
        if (ack.return_codes[i] == suback_failure) {
            forget(restoring_[i].topic_filter);
            events.emplace_back(subscription_lost{restoring_[i]});
        }
    restoring_.clear();
}

} // namespace c8y::mtls::mqtt
