// c8y-mtls: the Transport policy concept (bytes over a connection) and its Asio TCP default.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/connect.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#if defined(__linux__)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

/// A Transport carries bytes to one peer. It is constructed from an executor, and:
/// - `connect(host, port)` completes once connected, or throws c8y::mtls::error
///   (host_not_found, connection_refused, ...);
/// - `read_some(buffer)` completes with at least one byte, or throws (connection_closed at end
///   of stream);
/// - `write(buffer)` completes once every byte is written, or throws;
/// - `close()` ends the connection and makes pending operations complete with an error.
/// One read and one write may be outstanding at the same time.
template <class T>
concept Transport = std::constructible_from<T, asio::any_io_executor> &&
                    requires(T& t, std::string_view host, std::uint16_t port, asio::mutable_buffer in,
                             asio::const_buffer out) {
                        { t.get_executor() } -> std::convertible_to<asio::any_io_executor>;
                        { t.connect(host, port) } -> std::same_as<asio::awaitable<void>>;
                        { t.read_some(in) } -> std::same_as<asio::awaitable<std::size_t>>;
                        { t.write(out) } -> std::same_as<asio::awaitable<void>>;
                        { t.close() } noexcept;
                    };

namespace detail {

/// Turns a socket error into the SDK's code, keeping the system's words as the detail.
inline error network_error(const std::error_code& ec, const std::string& where)
{
    if (ec == asio::error::connection_refused)
        return error(errc::connection_refused, where);
    if (ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again ||
        ec == asio::error::no_data)
        return error(errc::host_not_found, where);
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
        return error(errc::connection_closed, where + " (" + ec.message() + ")");
    if (ec == asio::error::operation_aborted)
        return error(errc::operation_aborted, where);
    if (ec == asio::error::timed_out)
        return error(errc::connect_timeout, where);
    return error(ec, where);
}

} // namespace detail

/// The default Transport: TCP through Asio, IPv4 or IPv6 as the resolver answers.
class asio_tcp_transport {
public:
    using executor_type = asio::any_io_executor;

    explicit asio_tcp_transport(executor_type ex) : socket_(std::move(ex)) {}

    /// The executor the socket's operations complete on.
    executor_type get_executor() { return socket_.get_executor(); }

    /// Resolves `host` and connects to the first address that accepts, with TCP_NODELAY.
    /// Completes once connected. Throws c8y::mtls::error: host_not_found when the name does not
    /// resolve, connection_refused, connect_timeout when the system's connect timed out,
    /// operation_aborted when cancelled or closed, else the system error.
    asio::awaitable<void> connect(std::string_view host, std::uint16_t port)
    {
        const std::string where = std::string(host) + ":" + std::to_string(port);
        std::error_code ec;
        asio::ip::tcp::resolver resolver(socket_.get_executor());
        auto endpoints = co_await resolver.async_resolve(std::string(host), std::to_string(port),
                                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            throw detail::network_error(ec, where);
        co_await asio::async_connect(socket_, endpoints, asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            throw detail::network_error(ec, where);
        socket_.set_option(asio::ip::tcp::no_delay(true), ec);
        peer_ = where;
    }

    /// Reads what arrived, at most `buffer.size()` bytes; completes with the count (at least 1).
    /// Throws c8y::mtls::error: connection_closed when the peer closed or reset the connection,
    /// operation_aborted when cancelled or closed, else the system error.
    asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer)
    {
#if defined(TCP_QUICKACK)
        // Acknowledge what arrives at once: a broker that leaves Nagle on (mosquitto does) holds
        // its next small record until our delayed ACK, about 40 ms per round trip otherwise.
        const int quick = 1;
        ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &quick, sizeof quick);
#endif
        std::error_code ec;
        const std::size_t n = co_await socket_.async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            throw detail::network_error(ec, "reading from " + peer_);
        co_return n;
    }

    /// Writes all of `buffer`; completes when the kernel took the last byte. Throws like
    /// read_some().
    asio::awaitable<void> write(asio::const_buffer buffer)
    {
        std::error_code ec;
        co_await asio::async_write(socket_, buffer, asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            throw detail::network_error(ec, "writing to " + peer_);
    }

    /// Shuts the socket down and closes it; pending operations fail with operation_aborted.
    void close() noexcept
    {
        std::error_code ignored;
        socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

    asio::ip::tcp::socket& socket() noexcept { return socket_; }

private:
    asio::ip::tcp::socket socket_;
    std::string peer_;
};

} // namespace c8y::mtls
