// c8y-mtls: the definitions transport.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/transport.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL error network_error(const std::error_code& ec, const std::string& where)
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

} // namespace c8y::mtls::detail

namespace c8y::mtls {

C8Y_MTLS_DECL auto asio_tcp_transport::connect(std::string_view host, std::uint16_t port) -> asio::awaitable<void>
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

C8Y_MTLS_DECL auto asio_tcp_transport::read_some(asio::mutable_buffer buffer) -> asio::awaitable<std::size_t>
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

C8Y_MTLS_DECL auto asio_tcp_transport::write(asio::const_buffer buffer) -> asio::awaitable<void>
{
    std::error_code ec;
    co_await asio::async_write(socket_, buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
        throw detail::network_error(ec, "writing to " + peer_);
}

C8Y_MTLS_DECL void asio_tcp_transport::close() noexcept
{
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

} // namespace c8y::mtls
