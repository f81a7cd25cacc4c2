// c8y-mtls: the definitions store.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/store.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL packed_bytes::packed_bytes(std::string_view bytes) : data_(new unsigned char[sizeof(std::uint32_t) + bytes.size()])
{
    const auto size = static_cast<std::uint32_t>(bytes.size());
    std::memcpy(data_.get(), &size, sizeof size);
    std::memcpy(data_.get() + sizeof size, bytes.data(), bytes.size());
}

C8Y_MTLS_DECL std::size_t packed_bytes::size() const noexcept
{
    std::uint32_t size = 0;
    if (data_)
        std::memcpy(&size, data_.get(), sizeof size);
    return size;
}

C8Y_MTLS_DECL std::string_view packed_bytes::view() const noexcept
{
    return data_ ? std::string_view(reinterpret_cast<const char*>(data_.get()) + sizeof(std::uint32_t), size())
                 : std::string_view();
}

C8Y_MTLS_DECL void store_counts::add(std::size_t packet_size, mqtt::qos q) noexcept
{
    const std::size_t b = counted_bytes(packet_size);
    ++messages;
    bytes += b;
    if (q == mqtt::qos::at_most_once) {
        ++qos0_messages;
        qos0_bytes += b;
    }
}

C8Y_MTLS_DECL void store_counts::remove(std::size_t packet_size, mqtt::qos q) noexcept
{
    const std::size_t b = counted_bytes(packet_size);
    --messages;
    bytes -= b;
    if (q == mqtt::qos::at_most_once) {
        --qos0_messages;
        qos0_bytes -= b;
    }
}

C8Y_MTLS_DECL bool must_drop_for(const send_queue_options& limits, const store_counts& held, std::size_t packet_size)
{
    const std::size_t bytes = counted_bytes(packet_size);
    const auto fits = [&](std::size_t messages, std::size_t held_bytes) {
        return messages + 1 <= limits.max_messages && held_bytes + bytes <= limits.max_bytes;
    };
    if (fits(held.messages, held.bytes))
        return false;
    if (limits.when_full != queue_full_policy::drop_oldest_qos0 ||
        !fits(held.messages - held.qos0_messages, held.bytes - held.qos0_bytes))
        throw error(errc::send_queue_full, std::to_string(held.messages) + " messages (" + std::to_string(held.bytes) +
                                               " bytes) wait; the limits are " + std::to_string(limits.max_messages) +
                                               " messages and " + std::to_string(limits.max_bytes) + " bytes");
    return true;
}

C8Y_MTLS_DECL bool fits(const send_queue_options& limits, const store_counts& held, std::size_t packet_size) noexcept
{
    return held.messages + 1 <= limits.max_messages && held.bytes + counted_bytes(packet_size) <= limits.max_bytes;
}

} // namespace c8y::mtls::detail

namespace c8y::mtls {

C8Y_MTLS_DECL std::uint64_t memory_store::push(std::string packet, std::vector<stored_message>& dropped)
{
    if (detail::must_drop_for(limits_, held_, packet.size()))
        while (!detail::fits(limits_, held_, packet.size()))
            dropped.push_back(drop_oldest_qos0());
    if (queue_.empty())
        front_id_ = next_id_;
    held_.add(packet.size(), mqtt::publish_qos(packet));
    queue_.emplace_back(packet);
    return next_id_++;
}

C8Y_MTLS_DECL auto memory_store::next_qos() const -> std::optional<mqtt::qos>
{
    skip_gaps();
    return queue_.empty() ? std::nullopt : std::optional(mqtt::publish_qos(queue_.front().view()));
}

C8Y_MTLS_DECL auto memory_store::take() -> std::optional<stored_message>
{
    skip_gaps();
    if (queue_.empty())
        return std::nullopt;
    stored_message m{front_id_, std::string(queue_.front().view())};
    held_.remove(m.packet.size(), mqtt::publish_qos(m.packet));
    queue_.pop_front();
    ++front_id_;
    return m;
}

C8Y_MTLS_DECL bool memory_store::withdraw(std::uint64_t id)
{
    if (id < front_id_ || id - front_id_ >= queue_.size() || queue_[id - front_id_].empty())
        return false;
    remove(queue_[id - front_id_]);
    return true;
}

C8Y_MTLS_DECL void memory_store::clear() noexcept
{
    front_id_ += queue_.size();
    queue_.clear();
    held_ = {};
}

C8Y_MTLS_DECL void memory_store::skip_gaps() const
{
    while (!queue_.empty() && queue_.front().empty()) {
        queue_.pop_front();
        ++front_id_;
    }
}

C8Y_MTLS_DECL void memory_store::remove(detail::packed_bytes& entry) noexcept
{
    held_.remove(entry.size(), mqtt::publish_qos(entry.view()));
    entry.reset();
}

C8Y_MTLS_DECL auto memory_store::drop_oldest_qos0() -> stored_message
{
    std::size_t i = 0;
    while (queue_[i].empty() || mqtt::publish_qos(queue_[i].view()) != mqtt::qos::at_most_once)
        ++i;
    stored_message m{front_id_ + i, std::string(queue_[i].view())};
    remove(queue_[i]);
    return m;
}

} // namespace c8y::mtls
