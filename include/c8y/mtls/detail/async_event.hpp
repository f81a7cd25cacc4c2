// c8y-mtls: one-shot results and wake-ups between coroutines on one executor.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <vector>

namespace c8y::mtls::detail {

/// Wakes every coroutine waiting on it; a timer that never expires, cancelled to notify.
class async_event {
public:
    explicit async_event(const asio::any_io_executor& ex) : timer_(ex, asio::steady_timer::time_point::max()) {}

    asio::awaitable<void> wait()
    {
        std::error_code ignored;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }

    void notify_all() { timer_.cancel(); }

private:
    asio::steady_timer timer_;
};

/// A value (or an exception) that one coroutine delivers and others await, each with its own
/// deadline.
template <class T>
class pending_result {
public:
    explicit pending_result(asio::any_io_executor ex) : executor_(std::move(ex)) {}

    void complete(T value)
    {
        if (done())
            return;
        value_ = std::move(value);
        wake_all();
    }

    void fail(std::exception_ptr e)
    {
        if (done())
            return;
        error_ = std::move(e);
        wake_all();
    }

    bool done() const noexcept { return value_.has_value() || error_ != nullptr; }

    /// The value, or the delivered exception rethrown; nullopt when the deadline passed first.
    asio::awaitable<std::optional<T>> wait_until(asio::steady_timer::time_point deadline)
    {
        if (!done()) {
            asio::steady_timer timer(executor_, deadline);
            waiters_.push_back(&timer);
            std::error_code ignored;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            std::erase(waiters_, &timer);
        }
        if (error_)
            std::rethrow_exception(error_);
        co_return value_;
    }

private:
    void wake_all()
    {
        for (asio::steady_timer* waiter : waiters_)
            waiter->cancel();
    }

    asio::any_io_executor executor_;
    std::vector<asio::steady_timer*> waiters_; // timers of the coroutines suspended in wait_until
    std::optional<T> value_;
    std::exception_ptr error_;
};

} // namespace c8y::mtls::detail
