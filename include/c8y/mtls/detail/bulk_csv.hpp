// c8y-mtls: the bulk registration CSV (POST /devicecontrol/bulkNewDeviceRequests) for devices
// that authenticate with certificates: columns, the platform's rules on them, and quoting.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

/// One CSV field: quoted (RFC 4180, quotes doubled) when it holds the separator, a quote, a line
/// break or leading or trailing spaces, as is otherwise.
inline std::string csv_field(std::string_view value, char separator)
{
    const bool quote = value.find_first_of(std::string{separator, '"', '\r', '\n'}) != std::string_view::npos ||
                       (!value.empty() && (value.front() == ' ' || value.back() == ' '));
    if (!quote)
        return std::string(value);
    std::string out = "\"";
    for (char ch : value) {
        if (ch == '"')
            out += '"';
        out += ch;
    }
    out += '"';
    return out;
}

/// A table of the columns named in `header`, written with `separator` and CRLF line ends; a
/// column whose values are all empty is left out (the platform treats a missing optional column
/// as empty), except the ones in `always`.
template <std::size_t N>
std::string csv_table(const std::array<std::string_view, N>& header, const std::vector<std::array<std::string, N>>& rows,
                      const std::array<bool, N>& always, char separator)
{
    std::array<bool, N> used = always;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < N; ++i)
            used[i] = used[i] || !row[i].empty();
    std::string out;
    const auto line = [&](const auto& cells) {
        bool first = true;
        for (std::size_t i = 0; i < N; ++i) {
            if (!used[i])
                continue;
            if (!first)
                out += separator;
            first = false;
            out += csv_field(cells[i], separator);
        }
        out += "\r\n";
    };
    line(header);
    for (const auto& row : rows)
        line(row);
    return out;
}

} // namespace c8y::mtls::detail
