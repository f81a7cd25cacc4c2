// c8y-mtls: points in time as ISO-8601 UTC ("2026-01-01T00:00:00Z"), for messages, logs and arguments.
#pragma once

#include "c8y/mtls/config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "c8y/mtls/detail/x509_der.hpp"

namespace c8y::mtls {

/// `t` as ISO-8601 UTC to the second, e.g. "2026-01-01T00:00:00Z". Years outside 0000..9999
/// get a sign and as many digits as they need ("+10000-01-01T00:00:00Z"), so no value of
/// sys_seconds, however wild (a device clock at 1970, a claim from a broken token), is misprinted.
C8Y_MTLS_DECL std::string format_time(std::chrono::sys_seconds t);

/// The inverse of format_time() for years 0000..9999: exactly "YYYY-MM-DDThh:mm:ssZ", a real
/// date and time of day; nullopt for anything else.
C8Y_MTLS_DECL std::optional<std::chrono::sys_seconds> parse_time(std::string_view text);

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/time_format.ipp"
#endif
