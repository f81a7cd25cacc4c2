// c8y-mtls: Asio timers on a Clock policy's timer clock.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/basic_waitable_timer.hpp>
#include <asio/wait_traits.hpp>

#include <algorithm>
#include <chrono>
#include <type_traits>

#include "c8y/mtls/clock.hpp"

namespace c8y::mtls::detail {

/// Asio sleeps until the earliest expiry as measured by the real clock. A timer clock that is
/// not std::chrono::steady_clock may jump (a test's manual clock jumps when the test advances
/// it), so Asio is made to look again at least every millisecond.
template <class TimerClock>
struct polling_wait_traits {
    using duration = typename TimerClock::duration;
    using time_point = typename TimerClock::time_point;

    static duration to_wait_duration(const duration& d)
    {
        return std::clamp<duration>(d, duration::zero(), std::chrono::milliseconds(1));
    }
    static duration to_wait_duration(const time_point& t)
    {
        const time_point now = TimerClock::now();
        return t <= now ? duration::zero() : to_wait_duration(std::min<duration>(t - now, std::chrono::milliseconds(1)));
    }
};

template <class TimerClock>
using wait_traits_for = std::conditional_t<std::is_same_v<TimerClock, std::chrono::steady_clock>,
                                           asio::wait_traits<TimerClock>, polling_wait_traits<TimerClock>>;

/// The timer of a Clock policy: it runs on timer_clock_t<C>.
template <class C>
using clock_timer = asio::basic_waitable_timer<timer_clock_t<C>, wait_traits_for<timer_clock_t<C>>>;

} // namespace c8y::mtls::detail
