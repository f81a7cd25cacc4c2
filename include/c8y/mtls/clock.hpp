// c8y-mtls: the Clock policy concept: wall time for certificate validity and token expiry, and
// the clock that times timeouts, keepalive, backoff and token refresh.
#pragma once

#include <chrono>
#include <concepts>
#include <type_traits>

namespace c8y::mtls {

/// A Clock tells the wall time as a std::chrono::sys_time (so that it compares with the dates
/// in certificates and tokens). std::chrono::system_clock is the default; tests use a manual
/// clock (c8y/mtls/testing.hpp) to pin "now" and to move time forward without sleeping.
///
/// Timers (connect timeout, keepalive, reconnect backoff, token refresh) run on
/// `C::timer_clock` when the Clock names one, else on std::chrono::steady_clock, so that a wall
/// clock set by NTP after boot never stretches a timeout.
template <class C>
concept Clock = requires {
    { std::chrono::time_point_cast<std::chrono::seconds>(C::now()) } -> std::same_as<std::chrono::sys_seconds>;
};

/// The clock that times a Clock's timers.
template <class C>
struct timer_clock_of {
    using type = std::chrono::steady_clock;
};
template <class C>
    requires requires { typename C::timer_clock; }
struct timer_clock_of<C> {
    using type = typename C::timer_clock;
};
template <class C>
using timer_clock_t = typename timer_clock_of<C>::type;

} // namespace c8y::mtls
