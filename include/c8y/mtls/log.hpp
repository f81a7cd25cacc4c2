// The logger hook: what the client, the token keeper and the HTTPS client do (attempts, the
// TLS version and suite, CONNACK, state changes, resends, drops, token refreshes, requests),
// handed to the application's own log. Nothing secret is ever passed: no private key, password,
// PIN, token, Authorization header or message body.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace c8y::mtls {

enum class log_level : std::uint8_t {
    debug,   ///< every step: TCP connected, each request and packet exchange
    info,    ///< what an operator follows: connected (TLS version, suite, CONNACK), tokens, states
    warning, ///< the SDK recovers: a connection lost, a retry scheduled, a message dropped
    error,   ///< the SDK gave up: the client or keeper stopped with an error
};

constexpr std::string_view to_string(log_level l) noexcept
{
    switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
    }
    return "unknown";
}

/// The level named by `name` ("debug", "info", "warning", "error"), or none.
constexpr std::optional<log_level> parse_log_level(std::string_view name) noexcept
{
    for (const log_level l : {log_level::debug, log_level::info, log_level::warning, log_level::error})
        if (to_string(l) == name)
            return l;
    return std::nullopt;
}

/// Where the SDK's events go: `sink` receives each event at or above `level` as one line
/// without a newline, synchronously on the executor of the object that logs (keep it short;
/// hand off to a thread when the log is slow). No sink: nothing is formatted at all. An
/// exception thrown by the sink is swallowed: a log must not break a connection.
struct logger {
    std::function<void(log_level, std::string_view)> sink{};
    log_level level = log_level::info;

    bool enabled(log_level l) const noexcept { return sink && l >= level; }

    /// Logs the text `make()` returns, calling it only when `l` is enabled.
    template <class MakeText>
    void operator()(log_level l, MakeText&& make) const noexcept
    {
        if (!enabled(l))
            return;
        try {
            const std::string text = std::forward<MakeText>(make)();
            sink(l, text);
        } catch (...) {
        }
    }
};

} // namespace c8y::mtls
