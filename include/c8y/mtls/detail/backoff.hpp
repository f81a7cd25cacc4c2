// The one exponential backoff of the SDK: the client's reconnect delays and the token
// keeper's retries.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace c8y::mtls::detail {

/// `initial` doubled once per failure so far, at most `max`; with `jitter` j > 0 drawn
/// uniformly from [d * (1 - j), d], so that devices that failed together do not retry together.
template <class Rng>
std::chrono::milliseconds backoff_delay(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                        unsigned failures, double jitter, Rng& rng)
{
    auto delay = initial;
    for (unsigned i = 0; i < failures && delay < max; ++i)
        delay = delay > max / 2 ? max : delay * 2;
    delay = std::min(delay, max);
    if (jitter <= 0.0)
        return delay;
    std::uniform_real_distribution<double> spread(1.0 - jitter, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * spread(rng)));
}

} // namespace c8y::mtls::detail
