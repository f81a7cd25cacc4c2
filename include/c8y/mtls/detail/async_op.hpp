// c8y-mtls: the SDK's asynchronous operations for any Asio completion token. Each operation is
// written once as a coroutine (asio::awaitable<T>) that throws c8y::mtls::error; this header
// turns it into an operation of signature void(std::error_code, T) (void(std::error_code)
// without a value) for whatever token the caller passes:
// - asio::use_awaitable_t<> (the default): the coroutine itself, which throws the error with
//   its detail, as a coroutine user expects;
// - asio::use_future_t<>: the coroutine spawned on the SDK's executor; the future rethrows the
//   c8y::mtls::error itself rather than a std::system_error that lost its detail;
// - anything else (callbacks, asio::deferred, asio::as_tuple, asio::redirect_error, ...): the
//   coroutine spawned with a handler that forwards the caller's executor, allocator and
//   cancellation slot, and completes with the error's code while completion_error() names the
//   whole error.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <exception>
#include <new>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

/// The completion signature of an operation completing with a T.
template <class T>
struct completion_signature {
    using type = void(std::error_code, T);
};
template <>
struct completion_signature<void> {
    using type = void(std::error_code);
};
template <class T>
using completion_signature_t = typename completion_signature<T>::type;

/// The c8y::mtls::error an operation ended with: the SDK's own as it is; a std::system_error
/// (Asio's, or the cancellation Asio itself reports) with its code; std::bad_alloc as
/// not_enough_memory; any other exception (one of the application's own, from a token source
/// or a callback) as state_not_recoverable with its what().
inline error error_of(const std::exception_ptr& failure)
{
    try {
        std::rethrow_exception(failure);
    } catch (const error& e) {
        return e;
    } catch (const std::system_error& e) {
        if (e.code() == std::errc::operation_canceled)
            return error(errc::operation_aborted, "cancelled");
        return error(e.code());
    } catch (const std::bad_alloc&) {
        return error(std::make_error_code(std::errc::not_enough_memory));
    } catch (const std::exception& e) {
        return error(std::make_error_code(std::errc::state_not_recoverable), e.what());
    } catch (...) {
        return error(std::make_error_code(std::errc::state_not_recoverable), "an exception that is not a std::exception");
    }
}

/// Sets completion_error() for the lifetime of the scope (a completion handler's call), and
/// restores what it was: a handler may run inside another's.
class completion_error_scope {
public:
    explicit completion_error_scope(const error* e) noexcept : previous_(std::exchange(completion_error_now, e)) {}
    completion_error_scope(const completion_error_scope&) = delete;
    completion_error_scope& operator=(const completion_error_scope&) = delete;
    ~completion_error_scope() { completion_error_now = previous_; }

private:
    const error* previous_;
};

/// Calls `handler(code, values...)` for an operation that ended with `failure` (null: success),
/// with completion_error() naming the whole error during the call.
template <class Handler, class... Values>
void complete_with_code(Handler&& handler, const std::exception_ptr& failure, Values&&... values)
{
    std::optional<error> e;
    if (failure)
        e.emplace(error_of(failure));
    const completion_error_scope scope(e ? &*e : nullptr);
    std::forward<Handler>(handler)(e ? e->code() : std::error_code(), std::forward<Values>(values)...);
}

/// The handler given to co_spawn for the caller's handler: it turns co_spawn's
/// void(std::exception_ptr, T) into void(std::error_code, T), and carries the caller's
/// executor (co_spawn completes on it), allocator and cancellation slot (co_spawn connects it
/// to the coroutine's cancellation state, so asio::bind_cancellation_slot cancels the
/// operation).
template <class Handler>
class code_handler {
public:
    using executor_type = asio::any_io_executor;
    using allocator_type = asio::associated_allocator_t<Handler>;
    using cancellation_slot_type = asio::associated_cancellation_slot_t<Handler>;

    code_handler(Handler handler, const asio::any_io_executor& fallback)
        : executor_(asio::get_associated_executor(handler, fallback)), handler_(std::move(handler))
    {
    }

    executor_type get_executor() const noexcept { return executor_; }
    allocator_type get_allocator() const noexcept { return asio::get_associated_allocator(handler_); }
    cancellation_slot_type get_cancellation_slot() const noexcept
    {
        return asio::get_associated_cancellation_slot(handler_);
    }

    template <class... Values>
    void operator()(std::exception_ptr failure, Values&&... values)
    {
        complete_with_code(std::move(handler_), failure, std::forward<Values>(values)...);
    }

private:
    asio::any_io_executor executor_;
    Handler handler_;
};

template <class Token>
inline constexpr bool is_use_future = false;
template <class Allocator>
inline constexpr bool is_use_future<asio::use_future_t<Allocator>> = true;

/// Starts the coroutine of an operation for a handler of void(std::error_code[, T]).
struct spawn_with_code {
    asio::any_io_executor executor;

    template <class Handler, class Start>
    void operator()(Handler&& handler, Start start) const
    {
        asio::co_spawn(executor, start(), code_handler<std::decay_t<Handler>>(std::forward<Handler>(handler), executor));
    }
};

/// The operation whose coroutine `start()` makes (an asio::awaitable<T> on `executor`), for
/// `token`. `start` must hold what the coroutine needs by value: with asio::deferred it runs
/// later, and the coroutine may outlive the object whose operation it is (a moved client).
/// `start` itself is no coroutine, so that it may capture (g++ 12 can destroy the captures of
/// a coroutine lambda twice).
template <class T, class CompletionToken, class Start>
auto async_op(const asio::any_io_executor& executor, CompletionToken&& token, Start start)
{
    using token_type = std::decay_t<CompletionToken>;
    if constexpr (std::is_same_v<token_type, asio::use_awaitable_t<>>)
        return start();
    else if constexpr (is_use_future<token_type>)
        return asio::co_spawn(executor, start(), std::forward<CompletionToken>(token));
    else
        return asio::async_initiate<CompletionToken, completion_signature_t<T>>(spawn_with_code{executor}, token,
                                                                               std::move(start));
}

} // namespace c8y::mtls::detail
