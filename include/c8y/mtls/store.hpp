// c8y-mtls: the Store policy: where messages that publish() accepted wait until the broker took
// them, and the default, a bounded queue in memory. <c8y/mtls/sqlite_store.hpp> keeps them
// across crashes and reboots.
#pragma once

#include "c8y/mtls/config.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/error.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/mqtt_session.hpp"

namespace c8y::mtls {

/// What publish() does when the store is full.
enum class queue_full_policy {
    reject_new,       ///< the new message fails with send_queue_full
    drop_oldest_qos0, ///< queued QoS 0 messages make room, oldest first (each fails with message_dropped); if none is left, as reject_new
};

/// What each message counts against send_queue_options::max_bytes besides its encoded packet:
/// the most the SDK's own bookkeeping of a waiting message may cost, so that max_bytes bounds
/// what is really held.
inline constexpr std::size_t queued_message_overhead = 64;

/// Messages wait in the store while the client is reconnecting, and while the window of QoS 1/2
/// messages in flight is full.
struct send_queue_options {
    std::size_t max_messages = 1000;
    /// Bytes the waiting messages may hold: each counts its encoded PUBLISH packet (topic,
    /// payload and 4 to 7 bytes of MQTT header) plus queued_message_overhead.
    std::size_t max_bytes = 1024 * 1024;
    queue_full_policy when_full = queue_full_policy::reject_new;
    /// Called with each message the store drops to make room (drop_oldest_qos0).
    std::function<void(const mqtt::publish&)> on_drop{};
};

/// One accepted message, as a store holds it.
struct stored_message {
    std::uint64_t id = 0; ///< its place in the order of acceptance; ids only grow
    std::string packet;   ///< its PUBLISH packet, encoded once
};

/// A Store keeps what publish() accepted, in order, until the broker took it. The client:
/// - push(packet, dropped): accepts an encoded PUBLISH, returns its id; throws send_queue_full
///   when the limits (limit()) leave no room; drop_oldest_qos0 moves dropped messages to
///   `dropped` to make room;
/// - next_qos(): the QoS of the first message not taken yet; take(): that message, now in the
///   client's hands (counted out of the queue, still kept by a durable store);
/// - sent(id, packet_id): a QoS 1/2 message went out with that packet id (kept by a durable
///   store for a broker that keeps sessions); resumable(): what an earlier process sent that
///   way, taken at once;
/// - release(id): the broker took it (PUBACK, PUBCOMP) or it was written (QoS 0): it leaves;
/// - withdraw(id): a message not taken yet leaves (a cancelled publish); false when taken;
/// - rewind(): what was taken and not released is queued again (a new connect());
/// - clear(): everything leaves; queued_messages(), queued_bytes();
/// - flush(): every change so far is made durable; throws when they cannot be kept. The client
///   calls it on a durable store once per turn of its executor in which it changed the store,
///   and when it stops, so that the changes of a turn are written together (publish() calls
///   made together, the acknowledgements of one read).
/// `S::durable` says whether messages outlive the process: the client keeps them on stop.
template <class S>
concept Store = requires(S& s, const S& cs, std::string packet, std::uint64_t id, std::uint16_t packet_id,
                         std::vector<stored_message>& dropped, const send_queue_options& limits) {
    { S::durable } -> std::convertible_to<bool>;
    s.limit(limits);
    { s.push(std::move(packet), dropped) } -> std::same_as<std::uint64_t>;
    { cs.next_qos() } -> std::same_as<std::optional<mqtt::qos>>;
    { s.take() } -> std::same_as<std::optional<stored_message>>;
    s.sent(id, packet_id);
    { s.resumable() } -> std::same_as<std::vector<stored_message>>;
    s.release(id);
    { s.withdraw(id) } -> std::same_as<bool>;
    s.rewind();
    s.clear();
    s.flush();
    { cs.queued_messages() } -> std::same_as<std::size_t>;
    { cs.queued_bytes() } -> std::same_as<std::size_t>;
};

namespace detail {

/// Bytes in one allocation with their length in front: 8 bytes where std::string takes 32.
class packed_bytes {
public:
    packed_bytes() = default;
    C8Y_MTLS_DECL explicit packed_bytes(std::string_view bytes);

    bool empty() const noexcept { return !data_; }
    C8Y_MTLS_DECL std::size_t size() const noexcept;
    C8Y_MTLS_DECL std::string_view view() const noexcept;
    void reset() noexcept { data_.reset(); }

private:
    std::unique_ptr<unsigned char[]> data_;
};

/// What a message counts against the limits.
inline std::size_t counted_bytes(std::size_t packet_size) noexcept { return packet_size + queued_message_overhead; }

/// What a store holds, counted as the limits count it.
struct store_counts {
    std::size_t messages = 0;
    std::size_t bytes = 0;
    std::size_t qos0_messages = 0; ///< of them, QoS 0: what drop_oldest_qos0 may drop
    std::size_t qos0_bytes = 0;

    C8Y_MTLS_DECL void add(std::size_t packet_size, mqtt::qos q) noexcept;

    C8Y_MTLS_DECL void remove(std::size_t packet_size, mqtt::qos q) noexcept;
};

/// The full-store rule every store applies to a new message of `packet_size` bytes: false when
/// it fits; true when QoS 0 messages must be dropped first (drop_oldest_qos0, and dropping them
/// all would make room); else throws send_queue_full. Nothing is dropped unless that makes room.
C8Y_MTLS_DECL bool must_drop_for(const send_queue_options& limits, const store_counts& held, std::size_t packet_size);

/// Whether a message of `packet_size` bytes fits now.
C8Y_MTLS_DECL bool fits(const send_queue_options& limits, const store_counts& held, std::size_t packet_size) noexcept;

} // namespace detail

/// The default Store: a bounded queue in memory. Messages are lost with the process; a
/// message taken for sending is in the client's hands from then on.
class memory_store {
public:
    static constexpr bool durable = false;

    void limit(const send_queue_options& limits) { limits_ = limits; }

    C8Y_MTLS_DECL std::uint64_t push(std::string packet, std::vector<stored_message>& dropped);

    C8Y_MTLS_DECL std::optional<mqtt::qos> next_qos() const;

    C8Y_MTLS_DECL std::optional<stored_message> take();

    void sent(std::uint64_t, std::uint16_t) noexcept {}
    void flush() noexcept {} // nothing outlives the process
    std::vector<stored_message> resumable() { return {}; }
    void release(std::uint64_t) noexcept {} // taken messages left the store already
    void rewind() noexcept {}                // and went with the session they were taken by

    C8Y_MTLS_DECL bool withdraw(std::uint64_t id);

    C8Y_MTLS_DECL void clear() noexcept;

    std::size_t queued_messages() const noexcept { return held_.messages; }
    std::size_t queued_bytes() const noexcept { return held_.bytes; }

private:
    // Withdrawn and dropped messages leave gaps (so that ids stay positions) until they reach
    // the front.
    C8Y_MTLS_DECL void skip_gaps() const;

    C8Y_MTLS_DECL void remove(detail::packed_bytes& entry) noexcept;

    // Called only while QoS 0 messages are held (must_drop_for() checked that dropping them all
    // makes room).
    C8Y_MTLS_DECL stored_message drop_oldest_qos0();

    send_queue_options limits_{};
    mutable std::deque<detail::packed_bytes> queue_; // gaps are empty entries
    mutable std::uint64_t front_id_ = 1;             // the id of queue_.front()
    std::uint64_t next_id_ = 1;
    detail::store_counts held_;
};

static_assert(Store<memory_store>);

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/store.ipp"
#endif
