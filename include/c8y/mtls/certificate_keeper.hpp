// c8y-mtls: basic_certificate_keeper: renews the device certificate before it expires, on the
// Clock policy, and renewal_through_platform(): one renewal with the platform's certificate
// authority (EST simplereenroll), proven by a connection before the new files replace the old.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "c8y/mtls/certificate.hpp"
#include "c8y/mtls/chain_validator.hpp"
#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/credential_files.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/async_op.hpp"
#include "c8y/mtls/detail/backoff.hpp"
#include "c8y/mtls/detail/clock_timer.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/enrollment.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/http.hpp"
#include "c8y/mtls/log.hpp"
#include "c8y/mtls/secret.hpp"
#include "c8y/mtls/time_format.hpp"

namespace c8y::mtls {

/// The error of a device certificate that expired (device_certificate_expired), naming its
/// serial, its device and when: no renewal can be authenticated with it any more.
inline error expired_certificate_error(const certificate& c)
{
    return error(errc::device_certificate_expired, "certificate " + c.serial() + " of " + c.common_name() +
                                                       " expired at " + format_time(c.not_after()));
}

struct certificate_keeper_options {
    /// Renew once the certificate has less than this left (thin-edge.io's default; the
    /// platform's CA issues certificates for a year)...
    std::chrono::seconds renew_before = std::chrono::days(30);
    /// ...plus a random share of this, drawn once per certificate, so that a fleet enrolled on
    /// one day does not renew in one minute.
    std::chrono::seconds jitter = std::chrono::hours(24);
    /// After a failed renewal: the delay before the next, doubling up to the max.
    std::chrono::milliseconds retry_initial_delay{std::chrono::minutes(1)};
    std::chrono::milliseconds retry_max_delay{std::chrono::hours(1)};
    /// The keeper's events (log.hpp): when the renewal is due, each attempt, each certificate
    /// obtained (serial and validity), each failure with its retry delay. Off by default.
    logger log{};
};

/// One renewal: obtains a new certificate and puts it in use, completing with the new device
/// certificate; throws c8y::mtls::error. renewal_through_platform() makes the one of the
/// platform's certificate authority.
using certificate_renewal = std::function<asio::awaitable<certificate>()>;

/// Keeps the device certificate valid: watches its notAfter and runs `renewal` once the time
/// left is below renew_before plus the jitter's share; a failure is retried with backoff when a
/// retry can help (retry_can_help()); a refusal that cannot pass stops the keeper with its
/// error. A certificate that expired can no longer authenticate a renewal: the keeper then
/// stops with device_certificate_expired, whose message says the device must enroll again with
/// a new one-time password. The schedule runs on the Clock policy `C` (a manual clock drives it
/// in tests), and looks at the wall clock again at least hourly, so that a clock set by NTP
/// meanwhile is seen.
template <Clock C = std::chrono::system_clock>
class basic_certificate_keeper {
    struct core;

public:
    using clock_type = C;

    /// Throws invalid_argument for options no schedule can be made of (a negative renew_before
    /// or jitter, a delay that is not positive, retry_initial_delay > retry_max_delay), or
    /// without a renewal.
    basic_certificate_keeper(asio::any_io_executor executor, certificate current, certificate_renewal renewal,
                             certificate_keeper_options options = {})
        : core_(std::make_shared<core>(std::move(executor), std::move(current), std::move(renewal), std::move(options)))
    {
        const auto& o = core_->options;
        if (o.renew_before.count() < 0 || o.jitter.count() < 0 || o.retry_initial_delay.count() <= 0 ||
            o.retry_max_delay < o.retry_initial_delay || !core_->renewal)
            throw error(errc::invalid_argument, "certificate_keeper: renew_before and jitter not negative, positive "
                                                "delays with retry_initial_delay <= retry_max_delay, and a renewal "
                                                "are required");
    }
    basic_certificate_keeper(const basic_certificate_keeper&) = delete;
    basic_certificate_keeper& operator=(const basic_certificate_keeper&) = delete;
    ~basic_certificate_keeper() { stop(); }

    /// Starts keeping the certificate, in the background on the executor, until stop() or an
    /// error that stops it.
    void start()
    {
        if (core_->running)
            return;
        core_->running = true;
        core_->failure = nullptr;
        asio::co_spawn(core_->executor, core::run(core_, ++core_->run_id), asio::detached);
    }

    /// Stops the schedule; waiters get operation_aborted. A renewal under way runs to its end
    /// (its files promoted or discarded with the client's move), unreported.
    void stop() noexcept
    {
        core_->end(std::make_exception_ptr(error(errc::operation_aborted, "certificate keeper stopped")));
    }

    bool running() const noexcept { return core_->running; }
    /// The device certificate in use: the one given, then each one renewed.
    const certificate& current() const noexcept { return core_->current; }
    /// When the current certificate is due for renewal (its notAfter less renew_before and the
    /// jitter's share), on the wall clock.
    std::chrono::sys_seconds renewal_due() const noexcept { return core_->due; }
    /// When the next attempt is made, on the Clock's timer clock, while the keeper waits.
    std::optional<typename timer_clock_t<C>::time_point> next_attempt() const noexcept { return core_->next_attempt; }
    /// Renewals completed, and attempts made (failed ones included).
    std::uint64_t renewals() const noexcept { return core_->renewals; }
    std::uint64_t attempts() const noexcept { return core_->attempts; }
    /// The error of the last failed attempt, until one succeeds.
    const std::optional<error>& last_failure() const noexcept { return core_->last_failure; }

    /// Signature void(std::error_code); completes once the next renewal after this call
    /// completed (current() holds the new certificate then). Fails with the error that stopped the keeper
    /// (device_certificate_expired, a refusal a retry cannot pass), not_connected when the keeper
    /// is not running, operation_aborted once stopped or when cancelled through the token's
    /// cancellation slot.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto renewed(CompletionToken&& token = {})
    {
        return detail::async_op<void>(core_->executor, std::forward<CompletionToken>(token),
                                      [self = core_] { return core::renewed(self); });
    }

private:
    using timer_clock = timer_clock_t<C>;

    struct core {
        core(asio::any_io_executor ex, certificate c, certificate_renewal r, certificate_keeper_options o)
            : executor(std::move(ex)), current(std::move(c)), renewal(std::move(r)), options(std::move(o)),
              changed(executor), rng(std::random_device{}())
        {
            due = due_of(current);
        }

        asio::any_io_executor executor;
        certificate current;
        certificate_renewal renewal;
        certificate_keeper_options options;
        bool running = false;
        std::uint64_t run_id = 0;
        std::uint64_t renewals = 0;
        std::uint64_t attempts = 0;
        std::exception_ptr failure; // what stopped the keeper
        std::optional<error> last_failure;
        std::chrono::sys_seconds due{};
        std::optional<typename timer_clock::time_point> next_attempt;
        detail::basic_async_event<detail::clock_timer<C>> changed;
        std::minstd_rand rng;

        // The wall clock is looked at again at least this often while waiting.
        static constexpr std::chrono::hours longest_sleep{1};

        static std::chrono::sys_seconds wall_now()
        {
            return std::chrono::time_point_cast<std::chrono::seconds>(clock_type::now());
        }

        std::chrono::sys_seconds due_of(const certificate& c)
        {
            std::uniform_int_distribution<std::int64_t> share(0, options.jitter.count());
            return c.not_after() - options.renew_before - std::chrono::seconds(share(rng));
        }

        void end(std::exception_ptr why) noexcept
        {
            if (!running)
                return;
            running = false;
            ++run_id;
            failure = std::move(why);
            next_attempt.reset();
            changed.notify_all();
        }

        // Sleeps until the wall clock reads `when`, or an hour passed, or stop() wakes it.
        asio::awaitable<void> sleep_until(std::chrono::sys_seconds when, std::uint64_t run)
        {
            const auto wait = std::clamp<std::chrono::seconds>(when - wall_now(), std::chrono::seconds(0),
                                                               longest_sleep);
            const auto deadline = timer_clock::now() + std::chrono::duration_cast<typename timer_clock::duration>(wait);
            next_attempt = deadline;
            while (run_id == run && timer_clock::now() < deadline)
                co_await changed.wait_until(deadline);
            next_attempt.reset();
        }

        static asio::awaitable<void> renewed(std::shared_ptr<core> self)
        {
            const std::uint64_t seen = self->renewals;
            while (self->renewals == seen) {
                if (self->failure)
                    std::rethrow_exception(self->failure);
                if (!self->running)
                    throw error(errc::not_connected, "certificate keeper not started");
                co_await self->changed.wait();
                const asio::cancellation_state cancel = co_await asio::this_coro::cancellation_state;
                detail::throw_if_cancelled(cancel, "certificate keeper");
            }
        }

        static asio::awaitable<void> run(std::shared_ptr<core> self, std::uint64_t run)
        {
            const logger& log = self->options.log;
            log(log_level::info, [&] {
                return "certificate " + self->current.serial() + " valid until " +
                       format_time(self->current.not_after()) + "; renewal due " + format_time(self->due);
            });
            unsigned failures = 0;
            std::chrono::sys_seconds retry_at{};
            while (self->run_id == run) {
                const auto now = wall_now();
                if (now >= self->current.not_after()) {
                    const error expired = expired_certificate_error(self->current);
                    log(log_level::error, [&] { return std::string(expired.what()); });
                    self->end(std::make_exception_ptr(expired));
                    co_return;
                }
                const auto next = failures == 0 ? self->due : retry_at;
                if (now < next) {
                    co_await self->sleep_until(std::min(next, self->current.not_after()), run);
                    continue;
                }
                ++self->attempts;
                log(log_level::info, [&] {
                    return "renewing certificate " + self->current.serial() + " (attempt " +
                           std::to_string(failures + 1) + ")";
                });
                try {
                    certificate fresh = co_await self->renewal();
                    if (self->run_id != run)
                        co_return;
                    self->current = std::move(fresh);
                    self->due = self->due_of(self->current);
                    self->last_failure.reset();
                    ++self->renewals;
                    failures = 0;
                    log(log_level::info, [&] {
                        return "certificate renewed: " + self->current.serial() + " valid until " +
                               format_time(self->current.not_after()) + "; next renewal due " + format_time(self->due);
                    });
                    self->changed.notify_all();
                } catch (const error& e) {
                    if (self->run_id != run)
                        co_return;
                    self->last_failure = e;
                    if (!retry_can_help(e.code())) {
                        log(log_level::error, [&] { return "renewal failed: " + std::string(e.what()); });
                        self->end(std::current_exception());
                        co_return;
                    }
                    const auto delay = detail::backoff_delay(self->options.retry_initial_delay,
                                                             self->options.retry_max_delay, failures++, 0.0, self->rng);
                    retry_at = wall_now() + std::chrono::ceil<std::chrono::seconds>(delay);
                    log(log_level::warning, [&] {
                        return "renewal failed: " + std::string(e.what()) + "; again in " +
                               std::to_string(delay.count()) + " ms";
                    });
                    self->changed.notify_all();
                }
            }
        }
    };

    std::shared_ptr<core> core_;
};

/// The keeper on the system clock.
using certificate_keeper = basic_certificate_keeper<>;

/// How renewal_through_platform() renews.
struct platform_renewal_options {
    /// The request: the key type, the tenant CA that must have issued the new chain, the Basic
    /// user's tenant, how long one renewal retries a platform that is unavailable (each renewal
    /// sends once by default: the keeper retries with its own backoff). The device id is the
    /// client's when empty.
    provisioning::enrollment_options enrollment = [] {
        provisioning::enrollment_options o;
        o.max_wait = std::chrono::seconds(0);
        return o;
    }();
    /// Where the credentials live: the new ones are staged next to them, the client connects
    /// with the staged files, which are then promoted. `files.certificate` gets the device
    /// certificate, or the whole chain when `files.chain` is empty. None: the new credentials
    /// live in the client only.
    std::optional<credential_files> files;
    /// The password of the key file: the current key is read with it, the new one written
    /// encrypted with it. Empty: unencrypted.
    secret_string key_password;
    /// Renew the certificate of the current key (read from `files.key`) instead of a new key.
    bool same_key = false;
};

namespace detail {

template <class Client, class Https, token_source Tokens>
asio::awaitable<certificate> renew_through_platform(Client& client, Https& http, Tokens& tokens, std::string base_url,
                                                    std::shared_ptr<const platform_renewal_options> shared)
{
    const platform_renewal_options& options = *shared;
    const std::string_view password = options.key_password.view();
    std::optional<provisioning::private_key> key;
    if (options.same_key) {
        const secret_string pem = read_secret_file(options.files->key);
        key = provisioning::private_key::from_pem(pem.view(), password, options.files->key.string());
    }
    provisioning::enrolled_device fresh =
        co_await provisioning::reenroll(http, base_url, options.enrollment, tokens, std::move(key));
    // A certificate alone, signed by the CA the current chain ends with: that CA goes on the new
    // chain too, as the handshake sends it.
    if (fresh.chain.size() == 1 && client.device_chain().size() > 1) {
        const der_certificate& ca = client.device_chain().back();
        const std::vector<der_certificate> candidate{fresh.chain.front(), ca};
        chain_validator_options rules;
        rules.profile = chain_profile::current;
        rules.verdict = chain_verdict::platform;
        if (basic_chain_validator<>({ca}, rules).validate(candidate).ok())
            fresh.chain.push_back(ca);
    }
    std::string key_pem = fresh.key.to_pem(password);
    const wipe_on_exit wipe_key(key_pem);
    const std::string chain_pem = provisioning::chain_pem(fresh.chain);
    const credential_files* files = options.files ? &*options.files : nullptr;
    std::optional<credentials> next;
    if (files) {
        // The connection is made with the files themselves: what is promoted is what worked.
        stage_credentials(*files, key_pem,
                          files->chain.empty() ? chain_pem : provisioning::certificate_pem(fresh.chain.front()),
                          chain_pem);
        try {
            next.emplace(credentials::from_pem_files(
                credential_files::staged(files->chain.empty() ? files->certificate : files->chain),
                credential_files::staged(files->key), password));
        } catch (...) {
            discard_staged_credentials(*files);
            throw;
        }
    } else {
        next.emplace(credentials::from_pem(chain_pem, key_pem, password, "the renewed credentials"));
    }
    try {
        co_await client.change_credentials(std::move(*next));
    } catch (...) {
        if (files)
            discard_staged_credentials(*files);
        throw;
    }
    if (files)
        promote_staged_credentials(*files);
    co_return certificate::from_der(fresh.chain.front(), "the renewed certificate");
}

} // namespace detail

/// One renewal with the platform's certificate authority, for basic_certificate_keeper or to
/// run once (c8y-mtls-pki renew): provisioning::reenroll() through `http` at `base_url` with
/// the device's token from `tokens` (a token keeper of `client`, an http_token_source), the new
/// chain checked; then, with `options.files`, the new files staged next to the current ones;
/// `client` (a basic_client, connected) moved to the new credentials (read back from the staged
/// files); the staged files promoted once it connected with them, discarded when it did not
/// (the current files are never touched then, and the client is back on its current
/// credentials). `client`, `http` and
/// `tokens` must outlive the renewal. Throws invalid_argument for options that cannot work
/// (same_key without files, a bad device id).
template <class Client, class Https, token_source Tokens>
certificate_renewal renewal_through_platform(Client& client, Https& http, Tokens& tokens, std::string base_url,
                                             platform_renewal_options options = {})
{
    if (options.enrollment.device_id.empty())
        options.enrollment.device_id = client.device_id();
    provisioning::check_enrollment_options(options.enrollment);
    if (options.same_key && !options.files)
        throw error(errc::invalid_argument, "renewal with the same key needs the files the key is read from");
    return [&client, &http, &tokens, base_url = std::move(base_url),
            options = std::make_shared<const platform_renewal_options>(std::move(options))] {
        return detail::renew_through_platform(client, http, tokens, base_url, options);
    };
}

} // namespace c8y::mtls
