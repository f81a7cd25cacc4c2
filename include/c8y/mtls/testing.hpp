// c8y-mtls: policies for deterministic tests of code that uses the client: a manual clock, an
// in-memory transport and a pass-through Tls. Opt-in (not included by <c8y/mtls.hpp>); never
// for production: plaintext_tls encrypts nothing and authenticates nobody.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/clock_timer.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/tls.hpp"
#include "c8y/mtls/transport.hpp"

namespace c8y::mtls::testing {

/// A Clock whose time moves only when a test says so. Wall time (now()) and the timer clock
/// (timer_clock::now()) advance together; timers of a client using this clock fire within a
/// millisecond of real time after advance() passed their expiry. The state is global: tests
/// that use it must not run in parallel with each other.
class manual_clock {
public:
    using duration = std::chrono::system_clock::duration;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<std::chrono::system_clock, duration>;
    static constexpr bool is_steady = false;

    static time_point now() noexcept { return time_point(duration(wall_.load())); }

    /// The clock the client's timers run on.
    struct timer_clock {
        using duration = manual_clock::duration;
        using rep = duration::rep;
        using period = duration::period;
        using time_point = std::chrono::time_point<timer_clock, duration>;
        static constexpr bool is_steady = true;
        static time_point now() noexcept { return time_point(duration(elapsed_.load())); }
    };

    /// Sets the wall time; the timer clock does not jump with it.
    static void set(std::chrono::sys_seconds wall) noexcept
    {
        wall_.store(std::chrono::duration_cast<duration>(wall.time_since_epoch()).count());
    }

    /// Moves both clocks forward.
    static void advance(duration d) noexcept
    {
        wall_.fetch_add(d.count());
        elapsed_.fetch_add(d.count());
    }

private:
    // 2026-01-01T00:00:00Z until set() says otherwise.
    static inline std::atomic<rep> wall_{std::chrono::duration_cast<duration>(std::chrono::seconds(1767225600)).count()};
    static inline std::atomic<rep> elapsed_{0};
};

/// Moves the manual clock forward, then lets everything that became due run: the timers that
/// expired fire at once (a timer scheduled for "now" makes Asio look at its queue), and the
/// work they start gets `turns` turns of the executor before this completes.
inline asio::awaitable<void> advance(manual_clock::duration d, int turns = 32)
{
    manual_clock::advance(d);
    const auto ex = co_await asio::this_coro::executor;
    mtls::detail::clock_timer<manual_clock> kick(ex, manual_clock::timer_clock::now());
    std::error_code ignored;
    co_await kick.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    for (int i = 0; i < turns; ++i)
        co_await asio::post(ex, asio::use_awaitable);
}

/// Lets the executor run `turns` handlers' worth of pending work without moving the clock.
inline asio::awaitable<void> settle(int turns = 32)
{
    return advance(manual_clock::duration::zero(), turns);
}

namespace detail {

// One direction of an in-memory connection.
struct memory_pipe {
    explicit memory_pipe(const asio::any_io_executor& ex) : readable(ex) {}
    std::string bytes;
    bool closed = false;
    mtls::detail::async_event readable;
};

// Both directions; each end reads one and writes the other.
struct memory_link {
    explicit memory_link(const asio::any_io_executor& ex) : to_server(ex), to_client(ex) {}
    memory_pipe to_server;
    memory_pipe to_client;
    void close()
    {
        for (memory_pipe* pipe : {&to_server, &to_client}) {
            pipe->closed = true;
            pipe->readable.notify_all();
        }
    }
};

} // namespace detail

/// One end of an in-memory connection: what the other end writes, this end reads, in order.
/// Writes never block. Closing either end ends both directions.
class memory_socket {
public:
    memory_socket(std::shared_ptr<detail::memory_link> link, bool server_end)
        : link_(std::move(link)), in_(server_end ? &link_->to_server : &link_->to_client),
          out_(server_end ? &link_->to_client : &link_->to_server)
    {
    }

    /// At least one byte, or connection_closed once the other end closed and all was read.
    asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer)
    {
        auto link = link_; // the pipe outlives a close() during the wait
        while (in_->bytes.empty() && !in_->closed)
            co_await in_->readable.wait();
        if (in_->bytes.empty())
            throw error(errc::connection_closed, "in-memory connection closed");
        const std::size_t n = std::min(buffer.size(), in_->bytes.size());
        std::memcpy(buffer.data(), in_->bytes.data(), n);
        in_->bytes.erase(0, n);
        co_return n;
    }

    /// Appends `buffer` for the other end to read; completes at once. Throws connection_closed
    /// when either end closed.
    asio::awaitable<void> write(asio::const_buffer buffer)
    {
        if (out_->closed)
            throw error(errc::connection_closed, "in-memory connection closed");
        out_->bytes.append(static_cast<const char*>(buffer.data()), buffer.size());
        out_->readable.notify_all();
        co_return;
    }

    void close() noexcept { link_->close(); }

    /// Bytes written by the other end and not read yet.
    std::size_t available() const noexcept { return in_->bytes.size(); }

private:
    std::shared_ptr<detail::memory_link> link_;
    detail::memory_pipe* in_;
    detail::memory_pipe* out_;
};

/// A server address in memory. While it exists, memory_transport connections to its host and
/// port arrive here; without one they are refused.
class memory_listener {
public:
    memory_listener(asio::any_io_executor ex, std::string host, std::uint16_t port)
        : executor_(std::move(ex)), address_(std::move(host) + ":" + std::to_string(port)), arrived_(executor_)
    {
        registry()[address_] = this;
    }
    memory_listener(const memory_listener&) = delete;
    memory_listener& operator=(const memory_listener&) = delete;
    ~memory_listener() { registry().erase(address_); }

    /// The server end of the next connection.
    asio::awaitable<memory_socket> accept()
    {
        while (pending_.empty())
            co_await arrived_.wait();
        memory_socket next = std::move(pending_.front());
        pending_.pop_front();
        co_return next;
    }

    /// Connections made to this address so far.
    std::size_t connections() const noexcept { return connections_; }

    /// Whether connections are taken (true) or refused (false), as a broker that is down.
    void set_accepting(bool accepting) noexcept { accepting_ = accepting; }

    // Called by memory_transport::connect.
    static memory_socket connect(const asio::any_io_executor& ex, const std::string& address)
    {
        const auto it = registry().find(address);
        if (it == registry().end() || !it->second->accepting_)
            throw error(errc::connection_refused, address + " (no memory_listener accepting there)");
        auto link = std::make_shared<detail::memory_link>(ex);
        memory_listener& listener = *it->second;
        ++listener.connections_;
        listener.pending_.emplace_back(link, true);
        listener.arrived_.notify_all();
        return memory_socket(link, false);
    }

private:
    static std::map<std::string, memory_listener*>& registry()
    {
        static std::map<std::string, memory_listener*> listeners;
        return listeners;
    }

    asio::any_io_executor executor_;
    std::string address_;
    std::deque<memory_socket> pending_;
    mtls::detail::async_event arrived_;
    std::size_t connections_ = 0;
    bool accepting_ = true;
};

/// A Transport over memory: connect(host, port) reaches the memory_listener of that address.
class memory_transport {
public:
    using executor_type = asio::any_io_executor;

    explicit memory_transport(executor_type ex) : executor_(std::move(ex)) {}

    executor_type get_executor() const { return executor_; }

    /// Connects to the memory_listener of "host:port"; completes at once. Throws
    /// connection_refused when none is accepting there.
    asio::awaitable<void> connect(std::string_view host, std::uint16_t port)
    {
        socket_.emplace(memory_listener::connect(executor_, std::string(host) + ":" + std::to_string(port)));
        co_return;
    }

    /// As memory_socket::read_some(); throws not_connected before connect().
    asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer)
    {
        if (!socket_)
            throw error(errc::not_connected, "memory_transport: read before connect");
        return socket_->read_some(buffer);
    }

    /// As memory_socket::write(); throws not_connected before connect().
    asio::awaitable<void> write(asio::const_buffer buffer)
    {
        if (!socket_)
            throw error(errc::not_connected, "memory_transport: write before connect");
        return socket_->write(buffer);
    }

    void close() noexcept
    {
        if (socket_)
            socket_->close();
    }

private:
    executor_type executor_;
    std::optional<memory_socket> socket_;
};

/// A Tls policy that passes bytes through unchanged, so that a test broker over
/// memory_transport speaks plain MQTT. The credentials only give the client its device id.
struct plaintext_tls {
    class context {
    public:
        context(const credentials&, const truststore&, const tls_options&) {}
    };

    class session {
    public:
        session(context&, std::string_view) {}

        tls_status handshake() { return tls_status::done; }

        tls_status write(std::span<const char> in)
        {
            output_.append(in.data(), in.size());
            return tls_status::done;
        }

        tls_status read(std::span<char> out, std::size_t& n)
        {
            if (input_.empty()) {
                n = 0;
                return ended_ ? tls_status::failed : tls_status::want_read;
            }
            n = std::min(out.size(), input_.size());
            std::memcpy(out.data(), input_.data(), n);
            input_.erase(0, n);
            return tls_status::done;
        }

        void feed(std::span<const char> in) { input_.append(in.data(), in.size()); }
        void feed_end() { ended_ = true; }
        std::span<const char> pending_output() const { return {output_.data(), output_.size()}; }
        void consume_output(std::size_t n) { output_.erase(0, n); }
        void close() {}
        error failure() const { return error(errc::connection_closed, "end of the plaintext stream"); }
        std::string protocol() const { return "plaintext"; }
        std::string cipher_suite() const { return "none"; }

    private:
        std::string input_;
        std::string output_;
        bool ended_ = false;
    };
};

} // namespace c8y::mtls::testing
