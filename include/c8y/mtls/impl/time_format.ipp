// c8y-mtls: the definitions time_format.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/time_format.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL std::string format_time(std::chrono::sys_seconds t)
{
    // Days and seconds of the day with floor division, so that times before 1970 stay right.
    const std::int64_t seconds = t.time_since_epoch().count();
    std::int64_t days = seconds / 86400;
    std::int64_t second_of_day = seconds % 86400;
    if (second_of_day < 0) {
        second_of_day += 86400;
        --days;
    }
    // Civil date from a day count, in 400-year eras of 146097 days starting on 0000-03-01
    // (March first puts the leap day at the end of the year).
    const std::int64_t shifted = days + 719468;
    const std::int64_t era = (shifted >= 0 ? shifted : shifted - 146096) / 146097;
    const std::int64_t day_of_era = shifted - era * 146097;
    const std::int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const std::int64_t month_index = (5 * day_of_year + 2) / 153; // 0 = March
    const std::int64_t day = day_of_year - (153 * month_index + 2) / 5 + 1;
    const std::int64_t month = month_index < 10 ? month_index + 3 : month_index - 9;
    const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);

    char buffer[64];
    const auto y = static_cast<long long>(year);
    const int n = (y >= 0 && y <= 9999) ? std::snprintf(buffer, sizeof buffer, "%04lld", y)
                                        : std::snprintf(buffer, sizeof buffer, "%+05lld", y);
    std::snprintf(buffer + n, sizeof buffer - static_cast<std::size_t>(n), "-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(month), static_cast<long long>(day),
                  static_cast<long long>(second_of_day / 3600), static_cast<long long>(second_of_day / 60 % 60),
                  static_cast<long long>(second_of_day % 60));
    return buffer;
}

C8Y_MTLS_DECL std::optional<std::chrono::sys_seconds> parse_time(std::string_view text)
{
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:ddZ";
    if (text.size() != shape.size())
        return std::nullopt;
    for (std::size_t i = 0; i < shape.size(); ++i)
        if (shape[i] == 'd' ? (text[i] < '0' || text[i] > '9') : text[i] != shape[i])
            return std::nullopt;
    const auto field = [&](std::size_t at, std::size_t n) {
        unsigned value = 0;
        for (std::size_t i = at; i < at + n; ++i)
            value = value * 10 + static_cast<unsigned>(text[i] - '0');
        return value;
    };
    return detail::der::civil_time(field(0, 4), field(5, 2), field(8, 2), field(11, 2), field(14, 2), field(17, 2));
}

} // namespace c8y::mtls
