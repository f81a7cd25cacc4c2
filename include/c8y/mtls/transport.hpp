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
C8Y_MTLS_DECL error network_error(const std::error_code& ec, const std::string& where);

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
    C8Y_MTLS_DECL asio::awaitable<void> connect(std::string_view host, std::uint16_t port);

    /// Reads what arrived, at most `buffer.size()` bytes; completes with the count (at least 1).
    /// Throws c8y::mtls::error: connection_closed when the peer closed or reset the connection,
    /// operation_aborted when cancelled or closed, else the system error.
    C8Y_MTLS_DECL asio::awaitable<std::size_t> read_some(asio::mutable_buffer buffer);

    /// Writes all of `buffer`; completes when the kernel took the last byte. Throws like
    /// read_some().
    C8Y_MTLS_DECL asio::awaitable<void> write(asio::const_buffer buffer);

    /// Shuts the socket down and closes it; pending operations fail with operation_aborted.
    C8Y_MTLS_DECL void close() noexcept;

    asio::ip::tcp::socket& socket() noexcept { return socket_; }

private:
    asio::ip::tcp::socket socket_;
    std::string peer_;
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/transport.ipp"
#endif
