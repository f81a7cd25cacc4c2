// c8y-mtls: the Clock policy concept: wall time for certificate validity and token expiry.
#pragma once

#include <chrono>
#include <concepts>

namespace c8y::mtls {

/// A Clock tells the wall time as a std::chrono::sys_time (so that it compares with the dates
/// in certificates and tokens). std::chrono::system_clock is the default; tests use a manual
/// clock to pin "now".
template <class C>
concept Clock = requires {
    { std::chrono::time_point_cast<std::chrono::seconds>(C::now()) } -> std::same_as<std::chrono::sys_seconds>;
};

} // namespace c8y::mtls
