// c8y-mtls tests: running one coroutine to completion on an io_context.
#pragma once

#include <c8y/mtls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <optional>
#include <stdexcept>

namespace c8y::mtls::test {

/// Runs `operation` on `io` until it completes; rethrows its exception. Stops `io` then, so
/// that background work of a client (keepalive) does not keep the test waiting.
inline void run(asio::io_context& io, asio::awaitable<void> operation)
{
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(io, std::move(operation), [&](std::exception_ptr e) {
        failure = e;
        done = true;
        io.stop();
    });
    io.restart();
    io.run();
    if (!done)
        throw std::logic_error("the operation did not complete");
    if (failure)
        std::rethrow_exception(failure);
}

namespace detail {
template <class T>
asio::awaitable<void> store_result(asio::awaitable<T> operation, std::optional<T>& result)
{
    result.emplace(co_await std::move(operation));
}
} // namespace detail

/// As above, returning the operation's result.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> operation)
{
    std::optional<T> result;
    run(io, detail::store_result(std::move(operation), result));
    return std::move(*result);
}

/// The c8y::mtls::error that `operation` ends with; fails the test when it ends otherwise.
template <class Awaitable>
error failure_of(asio::io_context& io, Awaitable operation)
{
    try {
        run(io, std::move(operation));
    } catch (const error& e) {
        return e;
    }
    throw std::logic_error("the operation was expected to fail with a c8y::mtls::error");
}

} // namespace c8y::mtls::test
