// c8y-mtls: basic_token_keeper: holds a valid device token at all times, refreshing it on the
// platform's schedule through a client.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <random>

#include "c8y/mtls/client.hpp"
#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/async_op.hpp"
#include "c8y/mtls/detail/backoff.hpp"
#include "c8y/mtls/detail/clock_timer.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/log.hpp"
#include "c8y/mtls/time_format.hpp"

namespace c8y::mtls {

struct token_keeper_options {
    /// How long one request may wait for its `71,` answer.
    std::chrono::milliseconds answer_timeout{std::chrono::seconds(30)};
    /// The platform issues a new token only once half the lifetime of the current one passed;
    /// the keeper asks then, plus a random share of up to `jitter` of the lifetime, so that a
    /// fleet does not ask at the same moment. 0..0.5.
    double jitter = 0.1;
    /// After an unanswered or failed request: the delay before the next, doubling up to the max.
    std::chrono::milliseconds retry_initial_delay{std::chrono::seconds(5)};
    std::chrono::milliseconds retry_max_delay{std::chrono::minutes(5)};
    /// A token that expires within this margin is not handed out; a new one is asked for first.
    std::chrono::seconds minimum_validity{30};
    /// The keeper's events (log.hpp): requests, tokens obtained with their expiry (never the
    /// token), retries. Off by default.
    logger log{};
};

/// Keeps a valid token for the device of `Client` (a basic_client): obtains the first one once
/// connected, asks again once half its lifetime passed (with jitter), retries with backoff when
/// no answer comes, and after a reconnect asks at once when the token expired meanwhile. The
/// schedule runs on the client's Clock policy, so a manual clock drives it in tests.
///
/// The keeper must be started on the client's executor, and outlived by the client, which must
/// not be moved while the keeper lives (the keeper names the object). The JWT's
/// signature is not checked: the device has no key to check it with.
template <class Client>
class basic_token_keeper {
    struct core;

public:
    using clock_type = typename Client::clock_type;

    basic_token_keeper(Client& client, token_keeper_options options = {})
        : core_(std::make_shared<core>(client, options))
    {
        const auto& o = core_->options;
        if (!(o.jitter >= 0.0 && o.jitter <= 0.5) || o.retry_initial_delay.count() <= 0 ||
            o.retry_max_delay < o.retry_initial_delay || o.answer_timeout.count() <= 0 ||
            o.minimum_validity.count() < 0)
            throw error(errc::invalid_argument, "token_keeper_options: jitter in [0, 0.5], positive delays and "
                                                "timeout, retry_initial_delay <= retry_max_delay are required");
    }
    basic_token_keeper(const basic_token_keeper&) = delete;
    basic_token_keeper& operator=(const basic_token_keeper&) = delete;
    ~basic_token_keeper() { stop(); }

    /// Starts keeping the token, in the background on the client's executor, until stop() or
    /// until the client stops (then every waiter gets the client's error).
    void start()
    {
        if (core_->running)
            return;
        core_->running = true;
        core_->failure = nullptr;
        asio::co_spawn(core_->client.get_executor(), core::run(core_, ++core_->run_id), asio::detached);
    }

    /// Stops the schedule; waiters get operation_aborted.
    void stop() noexcept { core_->end(std::make_exception_ptr(error(errc::operation_aborted, "token keeper stopped"))); }

    /// The token obtained last, if any, even one about to expire.
    const std::optional<device_token>& last_obtained() const noexcept { return core_->token; }

    /// The token to use now: the last one obtained when it is valid for minimum_validity more,
    /// else the next one. Signature void(std::error_code, device_token). Fails with the error
    /// that stopped the client or the keeper, not_connected when the keeper is not running, and
    /// operation_aborted when cancelled through the token's cancellation slot. (With refresh(),
    /// this makes the keeper the token_source of the HTTPS client.)
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto current(CompletionToken&& token = {})
    {
        return detail::async_op<device_token>(core_->client.get_executor(), std::forward<CompletionToken>(token),
                                              [self = core_] { return core::current(self); });
    }

    /// Signature void(std::error_code, device_token); completes with the next token obtained
    /// after this call. Fails and is cancelled like current().
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto next(CompletionToken&& token = {})
    {
        return detail::async_op<device_token>(core_->client.get_executor(), std::forward<CompletionToken>(token),
                                              [self = core_] { return core::next(self); });
    }

    /// Asks for a new token now rather than on schedule (a REST call was refused with 401).
    /// Signature void(std::error_code, device_token); completes with it. The platform may hand
    /// out the same token again before its half-life. Fails and is cancelled like current().
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto refresh(CompletionToken&& token = {})
    {
        return detail::async_op<device_token>(core_->client.get_executor(), std::forward<CompletionToken>(token),
                                              [self = core_] { return core::refresh(self); });
    }

    /// When the next scheduled request is due, on the Clock's timer clock.
    std::optional<typename timer_clock_t<clock_type>::time_point> next_refresh() const noexcept
    {
        return core_->next_refresh;
    }

    /// Token requests made so far (answered or not).
    std::uint64_t requests() const noexcept { return core_->requests; }

private:
    using timer_clock = timer_clock_t<clock_type>;
    using timer = detail::clock_timer<clock_type>;

    struct core {
        core(Client& c, token_keeper_options o)
            : client(c), options(o), changed(c.get_executor()), rng(std::random_device{}())
        {
        }

        Client& client;
        token_keeper_options options;
        bool running = false;
        std::uint64_t run_id = 0;
        std::optional<device_token> token;
        std::uint64_t obtained = 0; // tokens obtained so far: next() waits for this to move
        std::uint64_t requests = 0;
        bool refresh_requested = false;
        std::exception_ptr failure;
        std::optional<typename timer_clock::time_point> next_refresh;
        typename timer_clock::time_point refresh_time_of_current{}; // when to ask again for `token`
        detail::basic_async_event<timer> changed;
        std::minstd_rand rng;

        static std::chrono::sys_seconds wall_now()
        {
            return std::chrono::time_point_cast<std::chrono::seconds>(clock_type::now());
        }

        bool usable() const
        {
            return token && token->expires_at() > wall_now() + options.minimum_validity;
        }

        void end(std::exception_ptr why) noexcept
        {
            if (!running)
                return;
            running = false;
            ++run_id;
            failure = std::move(why);
            next_refresh.reset();
            changed.notify_all();
        }

        // When to ask again for `t`: half its lifetime after it was issued, plus jitter,
        // converted from wall time to the timer clock.
        typename timer_clock::time_point refresh_time(const device_token& t)
        {
            const auto lifetime = t.expires_at() - t.issued_at();
            std::uniform_real_distribution<double> share(0.0, options.jitter);
            const auto due = t.issued_at() + lifetime / 2 +
                             std::chrono::seconds(static_cast<std::int64_t>(share(rng) * static_cast<double>(lifetime.count())));
            const auto from_now = std::max(std::chrono::seconds(0), due - wall_now());
            return timer_clock::now() + std::chrono::duration_cast<typename timer_clock::duration>(from_now);
        }

        std::chrono::milliseconds retry_delay(unsigned failures)
        {
            return detail::backoff_delay(options.retry_initial_delay, options.retry_max_delay, failures, 0.0, rng);
        }

        // Sleeps until `deadline`, or less when refresh() or stop() wakes it.
        asio::awaitable<void> sleep_until(typename timer_clock::time_point deadline, std::uint64_t run)
        {
            next_refresh = deadline;
            while (run_id == run && !refresh_requested && timer_clock::now() < deadline)
                co_await changed.wait_until(deadline);
            next_refresh.reset();
        }

        static asio::awaitable<device_token> current(std::shared_ptr<core> self)
        {
            if (self->usable())
                co_return *self->token;
            co_return co_await next(self);
        }

        static asio::awaitable<device_token> next(std::shared_ptr<core> self)
        {
            const std::uint64_t seen = self->obtained;
            while (self->obtained == seen) {
                if (self->failure)
                    std::rethrow_exception(self->failure);
                if (!self->running)
                    throw error(errc::not_connected, "token keeper not started");
                co_await self->changed.wait();
                const asio::cancellation_state cancel = co_await asio::this_coro::cancellation_state;
                detail::throw_if_cancelled(cancel, "token keeper");
            }
            co_return *self->token;
        }

        static asio::awaitable<device_token> refresh(std::shared_ptr<core> self)
        {
            self->refresh_requested = true;
            self->changed.notify_all();
            co_return co_await next(self);
        }

        static asio::awaitable<void> run(std::shared_ptr<core> self, std::uint64_t run)
        {
            unsigned failures = 0;
            while (self->run_id == run) {
                try {
                    co_await self->client.wait_until_connected();
                } catch (const error&) {
                    self->end(std::current_exception()); // the client stopped: so does the keeper
                    co_return;
                }
                if (self->run_id != run)
                    co_return;
                const bool due = !self->usable() || self->refresh_requested ||
                                 (self->token && timer_clock::now() >= self->refresh_time_of_current);
                if (!due) {
                    co_await self->sleep_until(self->refresh_time_of_current, run);
                    continue;
                }
                const bool forced = self->refresh_requested;
                self->refresh_requested = false;
                ++self->requests;
                const logger& log = self->options.log;
                log(log_level::debug, [&] { return "token request " + std::to_string(self->requests); });
                try {
                    device_token fresh = co_await self->client.request_token(self->options.answer_timeout);
                    if (self->run_id != run)
                        co_return;
                    const bool same = self->token && fresh.jwt() == self->token->jwt();
                    if (!same || forced) {
                        self->refresh_time_of_current = self->refresh_time(fresh);
                        log(log_level::info, [&] {
                            return "token obtained, valid until " + format_time(fresh.expires_at()) + "; next request in " +
                                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                      self->refresh_time_of_current - timer_clock::now())
                                                      .count()) +
                                   " s";
                        });
                        self->token = std::move(fresh);
                        ++self->obtained;
                        failures = 0;
                        self->changed.notify_all();
                        continue;
                    }
                    // The same token before its half-life (the device clock runs ahead): later.
                    log(log_level::info, [] {
                        return std::string("the platform answered the current token again (its half-life has not "
                                           "passed: the device clock may run ahead)");
                    });
                } catch (const error& e) {
                    if (self->run_id != run)
                        co_return;
                    // No answer, or the connection went: try again after the backoff.
                    log(log_level::warning, [&] { return "token request failed: " + std::string(e.what()); });
                }
                const auto delay = self->retry_delay(failures++);
                log(log_level::info, [&] { return "next token request in " + std::to_string(delay.count()) + " ms"; });
                const auto retry_at = timer_clock::now() + delay;
                co_await self->sleep_until(retry_at, run);
                self->refresh_requested = self->refresh_requested || forced;
            }
        }
    };

    std::shared_ptr<core> core_;
};

/// The keeper of the default client.
using token_keeper = basic_token_keeper<client>;

} // namespace c8y::mtls
