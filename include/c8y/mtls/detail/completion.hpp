// c8y-mtls: one waiting operation's completion handler, type-erased and small, for operations
// that may wait long in great numbers (a publish in the send queue): no timer, no coroutine of
// the SDK's, and handlers of up to 16 bytes (a coroutine's, a lambda holding a pointer or two)
// without an allocation of their own.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>

#include <cstddef>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "c8y/mtls/detail/async_op.hpp"

namespace c8y::mtls::detail {

/// A handler waiting to be completed once, or empty. Either of void(std::exception_ptr) (an
/// awaiting coroutine's, which then throws the error itself) or of void(std::error_code) (any
/// other: completion_error() names the whole error during its call).
class waiting_handler {
public:
    waiting_handler() noexcept = default;

    template <class Signature, class Handler>
    waiting_handler(std::in_place_type_t<Signature>, Handler&& handler)
        : ops_(&ops_for<std::decay_t<Handler>, std::is_same_v<Signature, void(std::error_code)>>::table)
    {
        static_assert(std::is_same_v<Signature, void(std::error_code)> ||
                      std::is_same_v<Signature, void(std::exception_ptr)>);
        using H = std::decay_t<Handler>;
        if constexpr (fits_inline<H>)
            ::new (static_cast<void*>(storage_)) H(std::forward<Handler>(handler));
        else
            ::new (static_cast<void*>(storage_)) H*(new H(std::forward<Handler>(handler)));
    }

    C8Y_MTLS_DECL waiting_handler(waiting_handler&& other) noexcept;

    C8Y_MTLS_DECL waiting_handler& operator=(waiting_handler&& other) noexcept;

    waiting_handler(const waiting_handler&) = delete;
    waiting_handler& operator=(const waiting_handler&) = delete;
    ~waiting_handler() { reset(); }

    explicit operator bool() const noexcept { return ops_ != nullptr; }

    /// Calls `on_cancel(type)` when the handler's cancellation slot is signalled (a coroutine
    /// cancelled through asio::bind_cancellation_slot, an awaitable operator).
    template <class F>
    void on_cancel(F on_cancel)
    {
        asio::cancellation_slot slot = ops_->slot(storage_);
        if (slot.is_connected())
            slot.template emplace<F>(std::move(on_cancel));
    }

    /// Completes with `failure` (null: success): the handler runs on its associated executor
    /// (`fallback` when it has none), never inside this call. Empty afterwards.
    C8Y_MTLS_DECL void complete(std::exception_ptr failure, const asio::any_io_executor& fallback);

    C8Y_MTLS_DECL void reset() noexcept;

private:
    static constexpr std::size_t inline_size = 16;

    template <class H>
    static constexpr bool fits_inline = sizeof(H) <= inline_size && alignof(H) <= alignof(void*) &&
                                        std::is_nothrow_move_constructible_v<H>;

    struct ops {
        void (*move)(void* from, void* to) noexcept;
        void (*destroy)(void* storage) noexcept;
        void (*complete)(void* storage, std::exception_ptr failure, const asio::any_io_executor& fallback);
        asio::cancellation_slot (*slot)(void* storage) noexcept;
    };

    template <class H, bool WithCode>
    struct ops_for {
        static H& get(void* storage) noexcept
        {
            if constexpr (fits_inline<H>)
                return *std::launder(static_cast<H*>(storage));
            else
                return **std::launder(static_cast<H**>(storage));
        }
        static void move(void* from, void* to) noexcept
        {
            if constexpr (fits_inline<H>) {
                ::new (to) H(std::move(get(from)));
                get(from).~H();
            } else {
                ::new (to) H*(*std::launder(static_cast<H**>(from)));
            }
        }
        static void destroy(void* storage) noexcept
        {
            if constexpr (fits_inline<H>)
                get(storage).~H();
            else
                delete &get(storage);
        }
        static void complete(void* storage, std::exception_ptr failure, const asio::any_io_executor& fallback)
        {
            H handler(std::move(get(storage)));
            destroy(storage);
            asio::get_associated_cancellation_slot(handler).clear();
            const auto executor = asio::get_associated_executor(handler, fallback);
            asio::post(executor, [handler = std::move(handler), failure = std::move(failure)]() mutable {
                if constexpr (WithCode)
                    complete_with_code(std::move(handler), failure);
                else
                    std::move(handler)(std::move(failure));
            });
        }
        static asio::cancellation_slot slot(void* storage) noexcept
        {
            return asio::get_associated_cancellation_slot(get(storage));
        }
        static constexpr ops table{&move, &destroy, &complete, &slot};
    };

    const ops* ops_ = nullptr;
    alignas(void*) unsigned char storage_[inline_size];
};

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/completion.ipp"
#endif
