// c8y-mtls: the device's JWT as the platform sends it on s/dat ("71,<JWT>"), with its validity read from its claims.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/csv.hpp"
#include "c8y/mtls/detail/json.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/time_format.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace c8y::mtls {

namespace detail {

// 9999-12-31T23:59:59Z: later claims are refused, which keeps every date printable in four
// digits and all arithmetic on them far from overflow.
inline constexpr std::int64_t max_numeric_date = 253402300799;

// A JWT NumericDate (RFC 7519, 2) from the text of a valid JSON number, truncated toward zero;
// nullopt when the result is outside 0..max_numeric_date. Decimal arithmetic on the text, not
// floating point, so that "1767225600.9" and "1.7672256e9" come out exact.
C8Y_MTLS_DECL std::optional<std::int64_t> numeric_date(std::string_view number);

// `text` without one trailing "\n" or "\r\n".
C8Y_MTLS_DECL std::string_view without_line_end(std::string_view text) noexcept;

} // namespace detail

/// The device's JWT and what the SDK reads from it.
///
/// The signature is NOT verified: the device has no key to verify it with, and it does not need
/// one, since the platform checks the token on every request. The token came over the mutually
/// authenticated TLS connection to the broker; the SDK reads its claims only to know when to ask
/// for the next one. Claim names other than the standard `iat` and `exp` are not documented by
/// the platform: subject(), issuer() and tenant() are what current platforms send, and
/// claims_json() keeps everything as received.
class device_token {
public:
    /// An empty token (no JWT, empty() is true): what Asio hands a completion handler next to
    /// an exception. Real tokens come from from_jwt() and parse_token_answer().
    device_token() = default;

    /// Reads a compact JWS: three '.'-separated base64url parts (header, claims, signature),
    /// a header that is a JSON object with a string `alg`, claims that are a JSON object with
    /// numeric `iat` and `exp` (fractions truncated to the second, years 1970 to 9999) and
    /// `exp` after `iat`. Throws error(errc::jwt_malformed) naming the part and the fault.
    [[nodiscard]] static device_token from_jwt(std::string jwt)
    {
        const auto fail = [](const std::string& why) { return error(errc::jwt_malformed, why); };
        if (jwt.empty()) {
            throw fail("the JWT is empty");
        }
        const auto dots = std::count(jwt.begin(), jwt.end(), '.');
        if (dots != 2) {
            throw fail("JWT has " + std::to_string(dots + 1) +
                       " '.'-separated parts, expected 3 (header.claims.signature)" +
                       (dots == 4 ? "; 5 parts make an encrypted JWE, which the SDK does not read" : ""));
        }
        const std::string_view all = jwt;
        const std::size_t first_dot = all.find('.');
        const std::size_t second_dot = all.find('.', first_dot + 1);

        // `part` names the part in messages, verb included ("JWT claims are").
        const auto decode = [&](std::string_view text, const std::string& part) {
            detail::base64_error why;
            auto bytes = detail::base64url_decode(text, &why);
            if (!bytes) {
                throw fail(part + " not base64url at byte " + std::to_string(why.offset) + ": " + why.reason);
            }
            return std::move(*bytes);
        };
        const auto parse = [&](const std::string& json, const std::string& part) {
            if (json.empty()) {
                throw fail(part + " empty");
            }
            detail::json_error why;
            auto object = detail::parse_json_object(json, &why);
            if (!object) {
                throw fail(part + " not valid JSON at byte " + std::to_string(why.offset) +
                           (why.offset == json.size() ? " (end of input)" : "") + ": " + why.reason);
            }
            return std::move(*object);
        };

        const detail::json_object header = parse(decode(all.substr(0, first_dot), "JWT header is"), "JWT header is");
        const detail::json_value* alg = header.find("alg");
        if (alg == nullptr) {
            throw fail("JWT header has no alg");
        }
        if (alg->kind != detail::json_kind::string) {
            throw fail("JWT header alg is not a string but " + detail::quoted(alg->raw));
        }
        std::string claims_json = decode(all.substr(first_dot + 1, second_dot - first_dot - 1), "JWT claims are");
        const detail::json_object claims = parse(claims_json, "JWT claims are");
        decode(all.substr(second_dot + 1), "JWT signature is");

        const auto date = [&](const char* name) {
            const detail::json_value* value = claims.find(name);
            if (value == nullptr) {
                throw fail(std::string("JWT has no ") + name + " claim");
            }
            if (value->kind != detail::json_kind::number) {
                throw fail(std::string("JWT ") + name + " claim is not a number but " + detail::quoted(value->raw));
            }
            const auto seconds = detail::numeric_date(value->raw);
            if (!seconds) {
                throw fail(std::string("JWT ") + name + " claim " + detail::quoted(value->raw) + " is outside " +
                           format_time(std::chrono::sys_seconds{}) + " to " +
                           format_time(std::chrono::sys_seconds{std::chrono::seconds{detail::max_numeric_date}}));
            }
            return std::chrono::sys_seconds{std::chrono::seconds{*seconds}};
        };
        const auto text = [&](const char* name) -> std::optional<std::string> {
            const detail::json_value* value = claims.find(name);
            if (value == nullptr || value->kind != detail::json_kind::string) {
                return std::nullopt;
            }
            return value->text;
        };

        device_token token;
        token.issued_at_ = date("iat");
        token.expires_at_ = date("exp");
        if (token.expires_at_ <= token.issued_at_) {
            throw fail("JWT exp " + format_time(token.expires_at_) + " is not after its iat " +
                       format_time(token.issued_at_));
        }
        token.subject_ = text("sub");
        token.issuer_ = text("iss");
        token.tenant_ = text("ten");
        token.claims_json_ = std::move(claims_json);
        token.jwt_ = std::move(jwt);
        return token;
    }

    /// The token as received, for `Authorization: Bearer <jwt>`.
    const std::string& jwt() const noexcept { return jwt_; }
    /// The decoded claims, the JSON object exactly as the platform wrote it.
    const std::string& claims_json() const noexcept { return claims_json_; }
    /// `iat`: when the platform issued the token.
    std::chrono::sys_seconds issued_at() const noexcept { return issued_at_; }
    /// `exp`: the first second at which the platform refuses the token.
    std::chrono::sys_seconds expires_at() const noexcept { return expires_at_; }
    /// exp - iat: the tenant's device-token.lifespan.seconds (default 3600 s). The platform
    /// issues a new token only to a request made after half of it has passed.
    std::chrono::seconds lifetime() const noexcept { return expires_at_ - issued_at_; }
    /// `sub`, when present and a string.
    const std::optional<std::string>& subject() const noexcept { return subject_; }
    /// `iss`, when present and a string.
    const std::optional<std::string>& issuer() const noexcept { return issuer_; }
    /// `ten`, the tenant id, when present and a string.
    const std::optional<std::string>& tenant() const noexcept { return tenant_; }

    /// Whether the token is, at `now`, expired or within `margin` of expiring: a request that
    /// takes up to `margin` to reach the platform would arrive with a dead token.
    C8Y_MTLS_DECL bool expired_at(std::chrono::sys_seconds now, std::chrono::seconds margin = {}) const noexcept;

    /// True for a default-constructed token, which holds no JWT.
    bool empty() const noexcept { return jwt_.empty(); }

private:
    std::string jwt_;
    std::string claims_json_;
    std::chrono::sys_seconds issued_at_{};
    std::chrono::sys_seconds expires_at_{};
    std::optional<std::string> subject_;
    std::optional<std::string> issuer_;
    std::optional<std::string> tenant_;
};

/// The SmartREST template of the platform's token answer on s/dat.
inline constexpr int token_answer_template = 71;

/// The SmartREST template number of a message ("71,<JWT>" gives 71, "41,100,Device already
/// existing" gives 41): its first field, up to the first ',' or a trailing line end. nullopt when
/// that field is not 1 to 9 ASCII digits.
[[nodiscard]] inline std::optional<int> smartrest_template(std::string_view message) noexcept
{
    message = detail::without_line_end(message);
    const std::string_view field = message.substr(0, message.find(','));
    if (field.empty() || field.size() > 9) {
        return std::nullopt;
    }
    int value = 0;
    for (const char c : field) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

/// Reads the platform's answer on s/dat to an empty message on s/uat: one line `71,<JWT>`,
/// optionally ended by "\n" or "\r\n", the JWT optionally a quoted CSV field (`71,"<JWT>"`).
/// Throws error with errc::token_answer_malformed when the payload is not such a line (empty,
/// no ',', a first field that is not a number, several lines, other fields), with
/// errc::token_unexpected_template when the template number is not 71 (smartrest_template()
/// gives it), and with errc::jwt_malformed, from device_token::from_jwt(), for a bad token.
[[nodiscard]] inline device_token parse_token_answer(std::string_view payload)
{
    const auto malformed = [&](const std::string& why) {
        return error(errc::token_answer_malformed, why + ", expected 71,<JWT>: " + detail::quoted(payload));
    };
    const std::string_view line = detail::without_line_end(payload);
    if (line.empty()) {
        throw error(errc::token_answer_malformed, "the answer is empty, expected 71,<JWT>");
    }
    if (line.find_first_of("\r\n") != std::string_view::npos) {
        throw malformed("the answer has more than one line");
    }
    const std::size_t comma = line.find(',');
    if (comma == std::string_view::npos) {
        throw malformed("the answer has no ','");
    }
    const std::optional<int> number = smartrest_template(line);
    if (!number) {
        throw malformed("the answer does not start with a SmartREST template number");
    }
    if (*number != token_answer_template) {
        throw error(errc::token_unexpected_template,
                    "template " + std::to_string(*number) + " instead of 71 in " + detail::quoted(payload));
    }

    std::size_t at = comma + 1;
    std::string jwt;
    detail::csv_problem problem;
    if (!detail::csv_read_field(line, at, ',', jwt, problem)) {
        switch (problem.what) {
        case detail::csv_problem::unclosed_quote: throw malformed("the quoted JWT field has no closing '\"'");
        case detail::csv_problem::text_after_quote: throw malformed("characters follow the quoted JWT field");
        case detail::csv_problem::quote_in_unquoted: throw malformed("a '\"' inside the unquoted JWT field");
        case detail::csv_problem::cr_in_unquoted: throw malformed("a carriage return inside the JWT field");
        }
    }
    if (at != line.size())
        throw malformed("the answer has more than 2 fields");
    return device_token::from_jwt(std::move(jwt));
}

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/device_token.ipp"
#endif
