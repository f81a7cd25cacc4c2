// c8y-mtls: enrollment with the platform's certificate authority (EST, RFC 7030
// simpleenroll): a key made on the device, a request for its certificate sent with the
// one-time password of its bulk registration, the platform's answer read and checked before
// anything is kept.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/chain_validator.hpp"
#include "c8y/mtls/detail/async_op.hpp"
#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/pkcs7.hpp"
#include "c8y/mtls/detail/platform_answer.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/http.hpp"
#include "c8y/mtls/log.hpp"
#include "c8y/mtls/provisioning.hpp"
#include "c8y/mtls/secret.hpp"

namespace c8y::mtls::provisioning {

/// How a device enrolls.
struct enrollment_options {
    /// Required: the device's id, its certificate's CN and its bulk registration row's ID.
    std::string device_id;
    /// The key made on the device.
    key_type key = key_type::ec256;
    /// Empty (the default): the Basic user is the device id alone, as thin-edge.io sends it to
    /// the platform. Set: `<tenant>/<device id>`, the documentation's bootstrap user.
    std::string tenant;
    /// While the platform has no registration for the device yet (404 "No newDeviceRequest
    /// found for this ID"), is unavailable (5xx) or unreachable, the request is sent again every
    /// `retry_every` for at most `max_wait` (thin-edge.io's: 30 s, 10 min); a `max_wait` of 0
    /// sends it once.
    std::chrono::seconds retry_every{30};
    std::chrono::seconds max_wait{600};
    /// The tenant's CA (DER), when the device knows it: the issued chain is then judged by
    /// chain_validator with it as the uploaded certificate (the current profile: the device
    /// certificate alone is what the platform's CA issues).
    std::optional<der_certificate> tenant_ca;
    /// Each attempt and its answer (never the password). Off by default.
    logger log{};
};

/// What enrollment gives: the key made on the device and the chain the platform issued for it,
/// the device certificate first, ending with `enrollment_options::tenant_ca` when it was given
/// (the chain the handshake sends: platforms that follow the guide want the CA in it).
struct enrolled_device {
    private_key key;
    std::vector<der_certificate> chain;
};

/// Throws invalid_argument for options no request can be made of: no device id, a retry period
/// that is not positive, a negative wait; common_name_invalid for a device id with ':'.
inline void check_enrollment_options(const enrollment_options& options)
{
    if (options.device_id.empty())
        throw error(errc::invalid_argument, "enrollment needs the device id");
    check_common_name(options.device_id);
    if (options.retry_every.count() <= 0 || options.max_wait.count() < 0)
        throw error(errc::invalid_argument, "enrollment_options: retry_every must be positive, max_wait not negative");
}

/// The EST path of a simpleenroll.
inline constexpr std::string_view simpleenroll_path = "/.well-known/est/simpleenroll";

/// The platform's EST answer to `key`'s request as `device_id`'s chain: the certificates of the
/// body (base64 PKCS#7 certs-only or PEM, detail/pkcs7.hpp), the first for `device_id`'s CN and
/// `key`, judged by chain_validator against `tenant_ca` when given. Throws
/// est_answer_malformed naming `source` and what is wrong. With `tenant_ca`, the chain returned
/// ends with it (appended when the answer does not), so that it is the chain the handshake sends.
template <class K = default_crypto>
std::vector<der_certificate> read_enrollment_answer(std::string_view body, const private_key& key,
                                                    std::string_view device_id,
                                                    const std::optional<der_certificate>& tenant_ca,
                                                    std::string_view source)
{
    std::vector<der_certificate> chain = mtls::detail::certificates_from_est_answer(body, source);
    const std::string where = "EST answer: " + std::string(source) + ": ";
    const mtls::detail::parsed_certificate leaf =
        mtls::detail::parsed_or_throw(chain.front(), where + "certificate 1");
    if (mtls::detail::common_name(leaf.subject) != device_id)
        throw error(errc::est_answer_malformed, where + "the certificate is for " +
                                                    mtls::detail::name_text(leaf.subject) + ", not CN=" +
                                                    std::string(device_id));
    chain_validator_options rules;
    rules.profile = chain_profile::current;
    rules.verdict = chain_verdict::platform;
    std::vector<der_certificate> trusted;
    if (tenant_ca)
        trusted.push_back(*tenant_ca);
    const chain_report report =
        basic_chain_validator<K>(std::move(trusted), rules).validate(chain, mtls::detail::bytes_of(key.der()));
    if (!report.ok())
        throw error(errc::est_answer_malformed, where + "the issued chain is refused: " + report.to_error().detail());
    if (key.token_key() && !mtls::detail::same_bytes(leaf.public_key_info, key.public_key_info<K>()))
        throw error(errc::est_answer_malformed, where + "the certificate is not for the key in the token");
    // The chain the handshake sends ends with the uploaded CA, as the guide's platforms want it.
    if (tenant_ca && chain.back() != *tenant_ca)
        chain.push_back(*tenant_ca);
    return chain;
}

} // namespace c8y::mtls::provisioning

namespace c8y::mtls::detail {

// g++ 12 reports -Wmismatched-new-delete on coroutine frames whose allocation it inlined: a false
// positive (see platform_admin.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// The attempts of provisioning::enroll() and reenroll(), as a coroutine: `send(req)` adds the
// credentials and sends; `refused` says what a 401 means.
template <class Https, class Send>
asio::awaitable<provisioning::enrolled_device> est_attempts(Https& http, http::url url,
                                                            provisioning::enrollment_options options,
                                                            provisioning::private_key key, Send send,
                                                            std::string refused)
{
    provisioning::enrolled_device device{std::move(key), {}};
    const std::vector<unsigned char> csr = provisioning::make_certificate_request(device.key, options.device_id);
    const std::string body = base64_encode(std::string_view(reinterpret_cast<const char*>(csr.data()), csr.size()));
    const std::string target = url.str();
    const auto deadline = std::chrono::steady_clock::now() + options.max_wait;
    asio::steady_timer timer(http.get_executor());
    for (unsigned attempt = 1;; ++attempt) {
        http::request req;
        req.method = "POST";
        req.url = target;
        req.fields.add("Content-Type", "application/pkcs10");
        req.fields.add("Content-Transfer-Encoding", "base64");
        req.fields.add("Accept", "application/pkcs7-mime");
        req.body = body;
        options.log(log_level::info, [&] { return "enrollment of " + options.device_id + ": attempt " +
                                                  std::to_string(attempt) + ", POST " + target; });
        std::optional<error> pending;
        try {
            const http::response answer = co_await send(std::move(req));
            const std::string what = "enrollment of " + options.device_id + " at " + target;
            if (answer.ok()) {
                device.chain = provisioning::read_enrollment_answer(answer.body, device.key, options.device_id,
                                                                    options.tenant_ca, target);
                options.log(log_level::info,
                            [&] { return "enrollment of " + options.device_id + ": certificate issued"; });
                co_return std::move(device);
            }
            const std::string why = what + ": " + describe_answer(answer);
            if (answer.status == 404)
                pending = error(errc::device_not_registered, why);
            else if (answer.status >= 500)
                pending = error(errc::platform_unavailable, why);
            else if (answer.status == 401)
                throw error(errc::platform_refused, why + " (" + refused + ")");
            else
                throw error(errc::platform_refused, why);
        } catch (const error& e) {
            if (!retry_can_help(e.code())) // a refusal, an answer that is not the certificate, ...
                throw;
            pending = e;
        }
        if (std::chrono::steady_clock::now() + options.retry_every > deadline)
            throw error(pending->code(), pending->detail() + " (" + std::to_string(attempt) + " attempt" +
                                             (attempt == 1 ? "" : "s") + " in " +
                                             std::to_string(options.max_wait.count()) + " s)");
        options.log(log_level::warning, [&] {
            return pending->detail() + "; again in " + std::to_string(options.retry_every.count()) + " s";
        });
        timer.expires_after(options.retry_every);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// provisioning::enroll(), with the device's key made here (`key` empty) or beforehand.
template <class Https, class CompletionToken>
auto enroll_with(Https& http, std::string_view base_url, provisioning::enrollment_options options,
                 secret_string one_time_password, std::optional<provisioning::private_key> key,
                 CompletionToken&& token)
{
    using namespace provisioning;
    check_enrollment_options(options);
    if (one_time_password.view().empty())
        throw error(errc::invalid_argument, "enrollment needs the one-time password");
    http::url url = http::url::parse(base_url).resolve(simpleenroll_path);
    return mtls::detail::async_op<enrolled_device>(
        http.get_executor(), std::forward<CompletionToken>(token),
        [&http, url = std::move(url), options = std::move(options), password = std::move(one_time_password),
         made = std::move(key)]() mutable {
            std::string user = options.tenant.empty() ? options.device_id : options.tenant + "/" + options.device_id;
            private_key key = made ? std::move(*made) : private_key::generate(options.key);
            auto send = [&http, user = std::move(user), password = std::move(password)](http::request req) {
                return http.request(std::move(req), basic_credentials(user, password.view()));
            };
            return mtls::detail::est_attempts(http, std::move(url), std::move(options), std::move(key),
                                              std::move(send), "the one-time password is wrong, or spent");
        });
}

} // namespace c8y::mtls::detail

namespace c8y::mtls::provisioning {

/// Enrolls the device with the platform's certificate authority: makes a key
/// (`options.key`), a PKCS#10 request with CN = `options.device_id`, and posts it to
/// `base_url` + /.well-known/est/simpleenroll with HTTP Basic (the device id and
/// `one_time_password`), retrying as `options` says while the device is not registered yet.
/// `http` is an HTTPS client without a client certificate (credentials::none()) that verifies
/// the platform's server. Completes with void(std::error_code, enrolled_device); fails with
/// c8y::mtls::error:
/// - invalid_argument: no device id, one with ':', an empty password, a bad URL (before sending);
/// - device_not_registered: the platform still had no registration once `max_wait` passed;
/// - platform_refused: any other refusal, named with its status and message (401: the one-time
///   password is wrong or spent; 400: no tenant CA, or the request refused);
/// - platform_unavailable, or what the HTTPS client fails with, once `max_wait` passed;
/// - est_answer_malformed: an answer that is not the device's certificate.
/// Cancelled through the token's cancellation slot (operation_aborted). `http` must outlive it.
template <class Https, class CompletionToken = asio::use_awaitable_t<>>
auto enroll(Https& http, std::string_view base_url, enrollment_options options, secret_string one_time_password,
            CompletionToken&& token = {})
{
    return mtls::detail::enroll_with(http, base_url, std::move(options), std::move(one_time_password), std::nullopt,
                                     std::forward<CompletionToken>(token));
}

/// The same with the device's key made beforehand (`options.key` is then not used): a key
/// generated in a PKCS#11 token (private_key::generate_in_token()), whose request is signed in
/// the token, so that the enrolled device's key never leaves it.
template <class Https, class CompletionToken = asio::use_awaitable_t<>>
auto enroll(Https& http, std::string_view base_url, enrollment_options options, secret_string one_time_password,
            private_key key, CompletionToken&& token = {})
{
    return mtls::detail::enroll_with(http, base_url, std::move(options), std::move(one_time_password),
                                     std::optional<private_key>(std::move(key)), std::forward<CompletionToken>(token));
}

/// The EST path of a simplereenroll.
inline constexpr std::string_view simplereenroll_path = "/.well-known/est/simplereenroll";

/// Renews the device's certificate with the platform's certificate authority (EST
/// simplereenroll): a new key (`options.key`), or `same_key` when given, a request with CN =
/// `options.device_id`, sent with `Authorization: Bearer` and the device's token from `tokens`
/// (a token_source: the token keeper of an MQTT client connected with the current
/// certificate, or any other; refreshed once when the platform refuses it). `http` needs no
/// client certificate. Retries, checks the answer and fails as enroll() does; a 401 is the
/// token refused. `http` and `tokens` must outlive it.
template <class Https, token_source Tokens, class CompletionToken = asio::use_awaitable_t<>>
auto reenroll(Https& http, std::string_view base_url, enrollment_options options, Tokens& tokens,
              std::optional<private_key> same_key = std::nullopt, CompletionToken&& token = {})
{
    check_enrollment_options(options);
    http::url url = http::url::parse(base_url).resolve(simplereenroll_path);
    return mtls::detail::async_op<enrolled_device>(
        http.get_executor(), std::forward<CompletionToken>(token),
        [&http, &tokens, url = std::move(url), options = std::move(options),
         same_key = std::move(same_key)]() mutable {
            private_key key = same_key ? std::move(*same_key) : private_key::generate(options.key);
            auto send = [&http, &tokens](http::request req) { return http.request(std::move(req), tokens); };
            return mtls::detail::est_attempts(http, std::move(url), std::move(options), std::move(key),
                                              std::move(send), "the device's token was refused");
        });
}


} // namespace c8y::mtls::provisioning
