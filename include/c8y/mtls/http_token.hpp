// c8y-mtls: the device token over HTTP (POST /devicecontrol/deviceAccessToken with mutual TLS):
// a token_source for the HTTPS client and for re-enrollment, for devices that do not keep an
// MQTT connection.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/detail/async_op.hpp"
#include "c8y/mtls/detail/platform_answer.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/http.hpp"

namespace c8y::mtls {

/// The path of the platform's device token over HTTP.
inline constexpr std::string_view device_access_token_path = "/devicecontrol/deviceAccessToken";

/// The token of the platform's answer to POST /devicecontrol/deviceAccessToken
/// (`{"accessToken":"<JWT>"}`). Throws platform_answer_malformed, or jwt_malformed naming the
/// fault, naming `what`.
C8Y_MTLS_DECL device_token read_access_token_answer(std::string_view body, std::string_view what);

// g++ 12 reports -Wmismatched-new-delete on coroutine frames whose allocation it inlined: a false
// positive (see platform_admin.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

/// Gets the device's token over HTTP: `POST <base_url>/devicecontrol/deviceAccessToken` on an
/// HTTPS client that holds the device's credentials (mutual TLS; the platform's port 8443),
/// answered `{"accessToken": "<JWT>"}`. A token_source (http.hpp): current() hands out the token
/// it holds while the Clock gives it more than `minimum_validity`, else asks for a new one;
/// refresh() always asks. The HTTPS client must outlive it. Fails with c8y::mtls::error: what
/// the HTTPS client fails with, platform_refused (4xx: a device not registered for
/// certificates, an untrusted certificate), platform_unavailable (5xx),
/// platform_answer_malformed or jwt_malformed for an answer without a token.
template <class Https = https_client, Clock C = std::chrono::system_clock>
class basic_http_token_source {
public:
    basic_http_token_source(Https& http, std::string_view base_url,
                            std::chrono::seconds minimum_validity = std::chrono::seconds(30))
        : http_(http), url_(http::url::parse(base_url).resolve(device_access_token_path).str()),
          minimum_validity_(minimum_validity)
    {
    }

    /// The token held, or a new one when it expires within the margin.
    asio::awaitable<device_token> current()
    {
        if (token_.empty() || token_.expires_at() - std::chrono::time_point_cast<std::chrono::seconds>(C::now()) <=
                                  minimum_validity_)
            co_return co_await refresh();
        co_return token_;
    }

    /// A new token from the platform.
    asio::awaitable<device_token> refresh()
    {
        http::request req;
        req.method = "POST";
        req.url = url_;
        req.fields.add("Accept", "application/json");
        const http::response answer = co_await http_.request(std::move(req));
        const std::string what = "device token from " + url_;
        if (!answer.ok())
            throw detail::refusal(answer, what);
        token_ = read_access_token_answer(answer.body, what);
        co_return token_;
    }

    /// Asks for a new token (refresh()) with any completion token: void(std::error_code, device_token).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto request_token(CompletionToken&& token = {})
    {
        return detail::async_op<device_token>(http_.get_executor(), std::forward<CompletionToken>(token),
                                              [this] { return refresh(); });
    }

private:
    Https& http_;
    std::string url_;
    std::chrono::seconds minimum_validity_;
    device_token token_{};
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// The token over HTTP on the default HTTPS client and the system clock.
using http_token_source = basic_http_token_source<>;

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/http_token.ipp"
#endif
