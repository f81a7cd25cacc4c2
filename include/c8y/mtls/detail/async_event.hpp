// c8y-mtls: wake-ups and one-shot results between coroutines on one executor.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <optional>
#include <vector>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

/// Throws operation_aborted when the awaiting coroutine was cancelled through its cancellation
/// slot (asio::bind_cancellation_slot on the co_spawn handler, or an awaitable operator). Not a
/// coroutine itself: once cancelled, Asio refuses to start another awaitable.
C8Y_MTLS_DECL void throw_if_cancelled(const asio::cancellation_state& state, const char* operation);

/// Wakes every coroutine waiting on it. Each waiter sleeps on its own timer (until its deadline,
/// or for ever), which notify_all() cancels. Waiters re-check their condition after waking.
template <class Timer = asio::steady_timer>
class basic_async_event {
public:
    using time_point = typename Timer::time_point;

    explicit basic_async_event(asio::any_io_executor ex) : executor_(std::move(ex)) {}

    /// Completes when notified, at `deadline`, or when the awaiting coroutine is cancelled.
    asio::awaitable<void> wait_until(time_point deadline)
    {
        Timer timer(executor_, deadline);
        waiters_.push_back(&timer);
        std::error_code ignored;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        std::erase(waiters_, &timer);
    }

    asio::awaitable<void> wait() { return wait_until(time_point::max()); }

    void notify_all()
    {
        for (Timer* waiter : waiters_)
            waiter->cancel();
    }

private:
    asio::any_io_executor executor_;
    std::vector<Timer*> waiters_;
};

using async_event = basic_async_event<>;

/// A value (or an exception) that one coroutine delivers and others await.
template <class T, class Timer = asio::steady_timer>
class pending_result {
public:
    explicit pending_result(asio::any_io_executor ex) : ready_(std::move(ex)) {}

    void complete(T value)
    {
        if (done())
            return;
        value_ = std::move(value);
        ready_.notify_all();
    }

    void fail(std::exception_ptr e)
    {
        if (done())
            return;
        error_ = std::move(e);
        ready_.notify_all();
    }

    bool done() const noexcept { return value_.has_value() || error_ != nullptr; }

    /// The value, or the delivered exception rethrown; nullopt when the deadline passed first.
    /// Throws operation_aborted when the awaiting coroutine is cancelled first.
    asio::awaitable<std::optional<T>> wait_until(typename Timer::time_point deadline, const char* operation)
    {
        while (!done() && Timer::clock_type::now() < deadline) {
            co_await ready_.wait_until(deadline);
            const asio::cancellation_state cancel = co_await asio::this_coro::cancellation_state;
            throw_if_cancelled(cancel, operation);
        }
        if (error_)
            std::rethrow_exception(error_);
        co_return value_;
    }

    /// The value, or the delivered exception rethrown, however long it takes.
    asio::awaitable<T> wait(const char* operation)
    {
        std::optional<T> value = co_await wait_until(Timer::time_point::max(), operation);
        co_return std::move(*value);
    }

private:
    basic_async_event<Timer> ready_;
    std::optional<T> value_;
    std::exception_ptr error_;
};

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/async_event.ipp"
#endif
