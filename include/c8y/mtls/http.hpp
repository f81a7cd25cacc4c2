// c8y-mtls: basic_https_client, HTTPS/1.1 requests to the platform's REST API over the same
// Transport and Tls policies as the MQTT client, authenticated with the device token.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/detail/async_op.hpp"
#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/http_parser.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/tls_stream.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/log.hpp"
#include "c8y/mtls/tls.hpp"
#include "c8y/mtls/transport.hpp"

namespace c8y::mtls {

/// Where the HTTPS client gets the device token for `Authorization: Bearer`:
/// - `current()` completes with the token to use now;
/// - `refresh()` completes with a new token, fetched because the platform refused the current
///   one (401) or because the client's Clock says it expired.
/// The token keeper of the MQTT client is one; a test can be another.
template <class S>
concept token_source = requires(S& source) {
    { source.current() } -> std::same_as<asio::awaitable<device_token>>;
    { source.refresh() } -> std::same_as<asio::awaitable<device_token>>;
};

/// A user name and password for HTTP Basic authentication (the administrator calls of
/// provisioning; devices use their token). The password is kept in memory that is wiped when
/// the object is destroyed or wipe() is called; the client takes the object by value, so the
/// password is gone once the request completed.
class basic_credentials {
public:
    /// Throws error(errc::invalid_argument) for a user name with ':' (RFC 7617 cannot carry it),
    /// an empty user name, or control characters in either.
    basic_credentials(std::string_view user, std::string_view password)
        : user_(user), password_(reinterpret_cast<const unsigned char*>(password.data()), password.size())
    {
        if (user.empty())
            throw error(errc::invalid_argument, "the Basic authentication user name is empty");
        if (user.find(':') != std::string_view::npos)
            throw error(errc::invalid_argument, "the user name " + detail::quoted(user) +
                                                    " contains ':', which Basic authentication cannot carry");
        const auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; };
        if (std::any_of(user.begin(), user.end(), control))
            throw error(errc::invalid_argument, "the user name " + detail::quoted(user) + " has a control character");
        if (std::any_of(password.begin(), password.end(), control)) {
            wipe();
            throw error(errc::invalid_argument, "the password of " + detail::quoted(user) + " has a control character");
        }
    }

    const std::string& user() const noexcept { return user_; }
    /// Whether the password was wiped (after wipe(), or in a moved-from object).
    bool wiped() const noexcept { return wiped_; }

    /// `Basic <base64(user:password)>`. The caller wipes the result (detail::wipe). Throws
    /// error(errc::invalid_argument) once the password was wiped.
    std::string authorization() const
    {
        if (wiped())
            throw error(errc::invalid_argument, "the password of " + detail::quoted(user_) + " was already wiped");
        std::string joined;
        joined.reserve(user_.size() + 1 + password_.size());
        joined.append(user_).append(":").append(reinterpret_cast<const char*>(password_.data()), password_.size());
        const detail::wipe_on_exit wipe_joined(joined);
        std::string encoded = detail::base64_encode(joined);
        const detail::wipe_on_exit wipe_encoded(encoded);
        std::string value;
        value.reserve(6 + encoded.size());
        value.append("Basic ").append(encoded);
        return value;
    }

    /// Another object with the same user and password, for a caller that makes several
    /// requests (each request wipes the object it was given). Throws invalid_argument once wiped.
    basic_credentials copy() const
    {
        if (wiped())
            throw error(errc::invalid_argument, "the password of " + detail::quoted(user_) + " was already wiped");
        return basic_credentials(user_, {reinterpret_cast<const char*>(password_.data()), password_.size()});
    }

    /// Overwrites the password; authorization() throws afterwards.
    void wipe() noexcept
    {
        password_.clear();
        wiped_ = true;
    }

    basic_credentials(basic_credentials&& other) noexcept
        : user_(std::move(other.user_)), password_(std::move(other.password_)),
          wiped_(std::exchange(other.wiped_, true))
    {
    }
    basic_credentials& operator=(basic_credentials&& other) noexcept
    {
        user_ = std::move(other.user_);
        password_ = std::move(other.password_);
        wiped_ = std::exchange(other.wiped_, true);
        return *this;
    }
    basic_credentials(const basic_credentials&) = delete;
    basic_credentials& operator=(const basic_credentials&) = delete;
    ~basic_credentials() = default;

private:
    std::string user_;
    secure_bytes password_;
    bool wiped_ = false; // an empty password is still a password until wiped
};

namespace detail {

inline constexpr const char* default_user_agent = "c8y-mtls/" C8Y_MTLS_VERSION_STRING;

// RFC 9110, section 9.2.2: what may be sent again when the connection died under it.
inline bool is_idempotent(std::string_view method) noexcept
{
    for (const std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
        if (method == m)
            return true;
    return false;
}

} // namespace detail

/// How the HTTPS client bounds its work.
struct https_options {
    /// Bound on TCP connect and TLS handshake.
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
    /// Bound on one exchange, from its start (connecting included, when needed) to the last
    /// byte of the response. A token refresh between two exchanges is not counted.
    std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
    /// Bounds on the response's header section and body.
    http::limits limits{};
    /// Sent as User-Agent unless the request has its own; empty: none.
    std::string user_agent = detail::default_user_agent;
    /// The client's events (log.hpp): connections with their TLS version and suite, each
    /// request's method, URL without its query, and status. Never a header or a body.
    logger log{};
};

/// An HTTPS/1.1 client for the platform's REST API, built from the MQTT client's policies:
/// - Transport (bytes over a connection; default asio_tcp_transport),
/// - Tls (a sans-I/O TLS engine; default wolfssl_tls), whose context is built from the device
///   credentials, the truststore and tls_options exactly as for MQTT: the server is verified
///   and its name checked, and the device's chain is sent when the server asks for it,
/// - Clock (wall time: a token the Clock says expired is refreshed before it is sent).
///
/// One connection, kept alive between requests and reused while its host and port stay the
/// same; a new one is made when the server closed it (noticed while idle), when the response
/// said `Connection: close`, or for another host. Requests from several coroutines take turns.
/// Redirects are not followed: a 3xx is returned with its Location (see url::resolve).
/// Operations run on the client's executor and take any Asio completion token (default
/// asio::use_awaitable: the awaitable throws c8y::mtls::error; other tokens get the
/// std::error_code and completion_error()). Destroying the client closes its connection.
template <Transport T = asio_tcp_transport, class S = default_tls, Clock C = std::chrono::system_clock>
class basic_https_client {
    static_assert(Tls<S>, "S must model the Tls policy (tls.hpp); the default, wolfSSL's, is declared by "
                          "c8y/mtls/wolfssl/tls.hpp (c8y/mtls.hpp includes it)");
    struct state;

public:
    using executor_type = asio::any_io_executor;
    using transport_type = T;
    using tls_type = S;
    using clock_type = C;

    /// Builds the TLS context; the private key in `device` is wiped once the context holds it.
    /// Throws c8y::mtls::error as the MQTT client's constructor does.
    basic_https_client(executor_type ex, credentials device, const truststore& trust, const tls_options& tls = {},
                       https_options options = {})
        : state_(std::make_shared<state>(ex, device, trust, tls, std::move(options)))
    {
        device.wipe_private_key();
    }

    /// A client that sends no certificate: for the administrator's calls with Basic
    /// authentication (provisioning), from a machine that is not a device. The server is
    /// verified all the same.
    basic_https_client(executor_type ex, const truststore& trust, const tls_options& tls = {},
                       https_options options = {})
        : basic_https_client(ex, credentials::none(), trust, tls, std::move(options))
    {
    }

    basic_https_client(const basic_https_client&) = delete;
    basic_https_client& operator=(const basic_https_client&) = delete;
    /// The moved-from client may only be destroyed or assigned to. Requests under way keep
    /// running: they hold the client's state, not the object.
    basic_https_client(basic_https_client&&) noexcept = default;
    /// Closes this client's connection, then takes over `other`.
    basic_https_client& operator=(basic_https_client&& other) noexcept
    {
        if (this != &other) {
            close_if_open();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~basic_https_client() { close_if_open(); }

    executor_type get_executor() const noexcept { return state_->executor; }

    /// Sends `req` without authentication. Signature void(std::error_code, http::response);
    /// completes with the response, whatever its status. Fails with http_invalid_url,
    /// http_invalid_request (before anything is sent); host_not_found, connection_refused,
    /// connect_timeout, the TLS failures of connect; http_request_timeout; connection_closed
    /// when the server closed the connection without answering (an idempotent request on a
    /// reused connection is sent once more first); the parser's errors for a malformed or
    /// oversized response (errc::http_*). Cancelled by close(), which fails it with
    /// operation_aborted, and through the token's cancellation slot while it waits for its turn.
    template <class CompletionToken = asio::use_awaitable_t<>>
        requires(!token_source<std::remove_cvref_t<CompletionToken>> &&
                 !std::same_as<std::remove_cvref_t<CompletionToken>, basic_credentials>)
    auto request(http::request req, CompletionToken&& token = {})
    {
        return detail::async_op<http::response>(state_->executor, std::forward<CompletionToken>(token),
                                                [self = state_, req = std::move(req)]() mutable {
                                                    return plain_request(std::move(self), std::move(req));
                                                });
    }

    /// Sends `req` with `Authorization: Bearer <token>` from `tokens` (which must outlive the
    /// operation). Signature void(std::error_code, http::response). At most one refresh() per
    /// request: before sending when the Clock says the current token expired, else after a
    /// 401, followed by one retry; a second 401 is the response. Fails with what request(req)
    /// fails with and what the token source fails with; cancelled like request(req).
    template <token_source Tokens, class CompletionToken = asio::use_awaitable_t<>>
    auto request(http::request req, Tokens& tokens, CompletionToken&& token = {})
    {
        return detail::async_op<http::response>(state_->executor, std::forward<CompletionToken>(token),
                                                [self = state_, req = std::move(req), &tokens]() mutable {
                                                    return bearer_request(std::move(self), std::move(req), tokens);
                                                });
    }

    /// Sends `req` with HTTP Basic authentication. Signature void(std::error_code,
    /// http::response). `login` is destroyed, its password wiped, when the request completes.
    /// Fails with what request(req) fails with, and invalid_argument for a `login` whose
    /// password was already wiped; cancelled like request(req).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto request(http::request req, basic_credentials login, CompletionToken&& token = {})
    {
        return detail::async_op<http::response>(
            state_->executor, std::forward<CompletionToken>(token),
            [self = state_, req = std::move(req), login = std::move(login)]() mutable {
                return basic_request(std::move(self), std::move(req), std::move(login));
            });
    }

    /// `POST /user/logout` on the platform at `base_url` (`https://tenant.example.com`) with
    /// the current token, which the platform then refuses. No refresh: a 401 means the token
    /// is dead already, which is what logging out wants. Signature void(std::error_code,
    /// http::response); completes with the response. Fails with what request(req) fails with,
    /// and invalid_argument when the source has no token; cancelled like request(req).
    template <token_source Tokens, class CompletionToken = asio::use_awaitable_t<>>
    auto logout(std::string base_url, Tokens& tokens, CompletionToken&& token = {})
    {
        return detail::async_op<http::response>(state_->executor, std::forward<CompletionToken>(token),
                                                [self = state_, base_url = std::move(base_url), &tokens]() mutable {
                                                    return logout_request(std::move(self), std::move(base_url), tokens);
                                                });
    }

    /// Closes the connection at once; a pending request fails with operation_aborted.
    void close() noexcept { state_->close(); }

    /// Whether a connection is open and may carry the next request.
    bool is_connected() const noexcept { return state_->usable; }
    /// How many connections the client has opened: stays put while keep-alive works.
    std::uint64_t connections_opened() const noexcept { return state_->connections_opened; }

private:
    void close_if_open() noexcept
    {
        if (state_)
            state_->close();
    }

    static asio::awaitable<http::response> plain_request(std::shared_ptr<state> self, http::request req)
    {
        const http::url where = http::url::parse(req.url);
        const std::string no_authorization;
        co_return co_await state::exchange(self, req, where, no_authorization);
    }

    template <class Tokens>
    static asio::awaitable<http::response> bearer_request(std::shared_ptr<state> self, http::request req, Tokens& tokens)
    {
        const http::url where = http::url::parse(req.url);
        device_token token = co_await tokens.current();
        bool refreshed = false;
        if (token.empty() || token.expired_at(now())) {
            device_token fresh = co_await tokens.refresh();
            token = std::move(fresh);
            refreshed = true;
        }
        std::string authorization = bearer(token);
        detail::wipe_on_exit wipe_first(authorization);
        http::response answer = co_await state::exchange(self, req, where, authorization);
        if (answer.status != 401 || refreshed)
            co_return answer;
        const device_token renewed_token = co_await tokens.refresh();
        std::string renewed = bearer(renewed_token);
        detail::wipe_on_exit wipe_second(renewed);
        co_return co_await state::exchange(self, req, where, renewed);
    }

    static asio::awaitable<http::response> basic_request(std::shared_ptr<state> self, http::request req,
                                                         basic_credentials login)
    {
        const http::url where = http::url::parse(req.url);
        std::string authorization = login.authorization();
        login.wipe();
        detail::wipe_on_exit wipe_authorization(authorization);
        co_return co_await state::exchange(self, req, where, authorization);
    }

    template <class Tokens>
    static asio::awaitable<http::response> logout_request(std::shared_ptr<state> self, std::string base_url,
                                                          Tokens& tokens)
    {
        const http::url where = http::url::parse(base_url).resolve("/user/logout");
        http::request req;
        req.method = "POST";
        req.url = where.str();
        const device_token token = co_await tokens.current();
        if (token.empty())
            throw error(errc::invalid_argument, "no token to log out");
        std::string authorization = bearer(token);
        detail::wipe_on_exit wipe_authorization(authorization);
        co_return co_await state::exchange(self, req, where, authorization);
    }

    static std::chrono::sys_seconds now() { return std::chrono::time_point_cast<std::chrono::seconds>(C::now()); }

    static std::string bearer(const device_token& token)
    {
        if (token.empty())
            throw error(errc::invalid_argument, "the token source gave an empty token");
        std::string value;
        value.reserve(7 + token.jwt().size());
        value.append("Bearer ").append(token.jwt());
        return value;
    }

    // One request and its response on the current connection.
    struct exchange_state {
        exchange_state(const asio::any_io_executor& ex, const http::limits& limits, bool head)
            : parser(limits, head), result(ex)
        {
        }
        detail::http_impl::response_parser parser;
        detail::pending_result<http::response> result;
    };

    // Shared with the background coroutines (reader, watchdog), which hold it by shared_ptr so
    // that destroying the client while they wind down is safe.
    struct state {
        state(executor_type ex, const credentials& device, const truststore& trust, const tls_options& tls,
              https_options opts)
            : executor(ex), context(device, trust, tls), options(std::move(opts)), turn(ex), watchdog_timer(ex)
        {
        }

        executor_type executor;
        typename S::context context;
        https_options options;

        // The connection; a reader coroutine per connection, told apart by `generation`.
        std::shared_ptr<detail::tls_stream<T, S>> stream;
        std::uint64_t generation = 0;
        std::string host;
        std::uint16_t port = 0;
        bool usable = false;
        std::uint64_t connections_opened = 0;
        std::shared_ptr<exchange_state> active;

        // Requests take turns on the one connection.
        bool busy = false;
        detail::async_event turn;

        // Closes the connection when a deadline passes; `watch` tells arming apart.
        asio::steady_timer watchdog_timer;
        std::uint64_t watch = 0;
        bool timed_out = false;

        void close() noexcept
        {
            disarm();
            drop_connection();
        }

        void drop_connection() noexcept
        {
            usable = false;
            if (stream)
                stream->close();
        }

        static void arm(const std::shared_ptr<state>& self, asio::steady_timer::time_point deadline)
        {
            self->timed_out = false;
            self->watchdog_timer.expires_at(deadline);
            asio::co_spawn(self->executor, watchdog(self, ++self->watch), asio::detached);
        }

        void disarm() noexcept
        {
            ++watch;
            watchdog_timer.cancel();
        }

        static asio::awaitable<void> watchdog(std::shared_ptr<state> self, std::uint64_t armed)
        {
            std::error_code ec;
            co_await self->watchdog_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec || self->watch != armed)
                co_return;
            self->timed_out = true;
            self->drop_connection(); // the pending connect, write or read fails now
        }

        // Releases the turn whatever way the exchange ends.
        struct turn_guard {
            explicit turn_guard(state& s) noexcept : s_(s) {}
            turn_guard(const turn_guard&) = delete;
            turn_guard& operator=(const turn_guard&) = delete;
            ~turn_guard()
            {
                s_.busy = false;
                s_.turn.notify_all();
            }
            state& s_;
        };

        // Callers pass named objects: g++ 12 can destroy a temporary in a co_await twice.
        static asio::awaitable<http::response> exchange(std::shared_ptr<state> self, const http::request& req,
                                                        const http::url& where, const std::string& authorization)
        {
            std::string bytes =
                detail::http_impl::serialize_request(req, where, authorization, self->options.user_agent);
            const detail::wipe_on_exit wipe_bytes(bytes); // it may carry credentials
            while (self->busy)
                co_await self->turn.wait();
            self->busy = true;
            const turn_guard release(*self);

            const auto start = asio::steady_timer::clock_type::now();
            const bool head = req.method == "HEAD";
            const auto logged_url = [&] {
                return req.method + " https://" + where.authority() + where.target.substr(0, where.target.find('?'));
            };
            for (int attempt = 1;; ++attempt) {
                bool reused = false;
                try {
                    reused = co_await connect_if_needed(self, where, start);
                    http::response answer = co_await send_and_receive(self, bytes, head, where, req.method, start);
                    self->options.log(log_level::debug,
                                      [&] { return logged_url() + ": " + std::to_string(answer.status); });
                    co_return answer;
                } catch (const error& e) {
                    // A kept-alive connection the server closed just as the request went out.
                    if (!(attempt == 1 && reused && e.code() == errc::connection_closed && detail::is_idempotent(req.method))) {
                        self->options.log(log_level::warning,
                                          [&] { return logged_url() + " failed: " + std::string(e.what()); });
                        throw;
                    }
                    self->options.log(log_level::debug, [&] {
                        return logged_url() + ": the kept-alive connection was closed by the server; sent again";
                    });
                }
            }
        }

        // Completes with whether the current connection is reused.
        static asio::awaitable<bool> connect_if_needed(std::shared_ptr<state> self, const http::url& where,
                                                       asio::steady_timer::time_point start)
        {
            if (self->usable && self->host == where.host && self->port == where.port)
                co_return true;
            self->drop_connection();
            self->stream = std::make_shared<detail::tls_stream<T, S>>(self->executor, self->context);
            ++self->generation;
            const auto connect_deadline = start + self->options.connect_timeout;
            const auto request_deadline = start + self->options.request_timeout;
            arm(self, std::min(connect_deadline, request_deadline));
            std::optional<error> failure;
            try {
                co_await self->stream->connect(where.host, where.port);
            } catch (const error& e) {
                failure = e;
            }
            self->disarm();
            if (self->timed_out) {
                self->drop_connection();
                if (connect_deadline <= request_deadline)
                    throw error(errc::connect_timeout, where.authority() + " after " +
                                                           std::to_string(self->options.connect_timeout.count()) + " ms");
                throw error(errc::http_request_timeout, "connecting to " + where.authority() + " took longer than " +
                                                            std::to_string(self->options.request_timeout.count()) + " ms");
            }
            if (failure) {
                self->drop_connection();
                throw *failure;
            }
            self->options.log(log_level::info,
                              [&] { return "TLS with " + where.authority() + ": " + self->stream->negotiated(); });
            self->host = where.host;
            self->port = where.port;
            self->usable = true;
            ++self->connections_opened;
            asio::co_spawn(self->executor, reader(self, self->stream, self->generation), asio::detached);
            co_return false;
        }

        static asio::awaitable<http::response> send_and_receive(std::shared_ptr<state> self, const std::string& bytes,
                                                                bool head, const http::url& where,
                                                                const std::string& method,
                                                                asio::steady_timer::time_point start)
        {
            auto ex = std::make_shared<exchange_state>(self->executor, self->options.limits, head);
            self->active = ex;
            arm(self, start + self->options.request_timeout);
            std::optional<error> failure;
            std::optional<http::response> answer;
            try {
                co_await self->stream->write(bytes);
                std::optional<http::response> got = co_await ex->result.wait_until(asio::steady_timer::time_point::max(), "request");
                answer = std::move(got);
            } catch (const error& e) {
                failure = e;
            }
            self->disarm();
            if (self->active == ex)
                self->active.reset();
            if (self->timed_out) {
                self->drop_connection();
                throw error(errc::http_request_timeout, method + " " + where.str() + ": no complete response within " +
                                                            std::to_string(self->options.request_timeout.count()) +
                                                            " ms");
            }
            if (failure) {
                self->drop_connection();
                throw *failure;
            }
            co_return std::move(*answer);
        }

        // Reads the connection for as long as it lives: bytes go to the active exchange's
        // parser; bytes or an end while no exchange is active retire the connection, so the
        // next request does not go out on a connection the server has closed.
        static asio::awaitable<void> reader(std::shared_ptr<state> self, std::shared_ptr<detail::tls_stream<T, S>> stream,
                                            std::uint64_t generation)
        {
            std::array<char, 16 * 1024> buffer;
            try {
                for (;;) {
                    const std::size_t n = co_await stream->read_some(buffer);
                    if (self->generation != generation)
                        co_return;
                    const auto ex = self->active;
                    if (!ex) {
                        self->drop_connection(); // bytes nobody asked for: framing is lost
                        co_return;
                    }
                    const std::size_t used = ex->parser.feed(std::string_view(buffer.data(), n));
                    if (!ex->parser.done())
                        continue;
                    self->active.reset();
                    http::response answer = ex->parser.take();
                    const bool keep = answer.keep_alive && used == n;
                    ex->result.complete(std::move(answer));
                    if (!keep) {
                        self->drop_connection();
                        co_return;
                    }
                }
            } catch (const error& e) {
                stream->close();
                if (self->generation != generation)
                    co_return;
                self->usable = false;
                const auto ex = self->active;
                if (!ex)
                    co_return;
                self->active.reset();
                finish(*ex, e);
            }
        }

        // The connection ended (or failed) during an exchange.
        static void finish(exchange_state& ex, const error& why)
        {
            if (why.code() != errc::connection_closed || ex.parser.failed()) {
                ex.result.fail(std::make_exception_ptr(why));
                return;
            }
            if (ex.parser.consumed() == 0) {
                ex.result.fail(std::make_exception_ptr(
                    error(errc::connection_closed, "the server closed the connection without answering")));
                return;
            }
            try {
                ex.parser.feed_end();
                ex.result.complete(ex.parser.take());
            } catch (const error& e) {
                ex.result.fail(std::make_exception_ptr(e));
            }
        }
    };

    std::shared_ptr<state> state_;
};

/// The HTTPS client with the default policies: Asio TCP, wolfSSL, the system clock.
using https_client = basic_https_client<>;

} // namespace c8y::mtls
