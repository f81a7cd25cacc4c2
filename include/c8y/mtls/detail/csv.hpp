// c8y-mtls: CSV as the platform writes and reads it (RFC 4180 quoting): SmartREST lines, the
// `71,` token answer, the bulk registration file.
#pragma once

#include "c8y/mtls/config.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

/// One CSV field: quoted (quotes doubled) when it holds the separator, a quote, a line break, a
/// tab, or a space or tab at either end (the platform's SmartREST escaping, RFC 4180's rule for
/// the rest), as is otherwise.
C8Y_MTLS_DECL std::string csv_field(std::string_view value, char separator);

/// Why a field cannot be read, and where.
struct csv_problem {
    enum kind { unclosed_quote, text_after_quote, quote_in_unquoted, cr_in_unquoted } what = unclosed_quote;
    std::size_t offset = 0;
};

/// Reads the field of `text` that starts at `i` into `value`, leaving `i` at what ends it: the
/// separator, an LF, a CRLF, or the end. A quoted field's "" is one '"' and it may hold line
/// breaks. False, with `problem` filled, for a quoted field without its closing quote or with
/// text after it, and an unquoted field with a '"' or a lone CR.
inline bool csv_read_field(std::string_view text, std::size_t& i, char separator, std::string& value,
                           csv_problem& problem)
{
    const auto line_end_at = [&](std::size_t at) {
        return text[at] == '\n' || (text[at] == '\r' && at + 1 < text.size() && text[at + 1] == '\n');
    };
    value.clear();
    if (i < text.size() && text[i] == '"') {
        const std::size_t opened = i++;
        for (;;) {
            if (i >= text.size()) {
                problem = {csv_problem::unclosed_quote, opened};
                return false;
            }
            if (text[i] == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    value += '"';
                    i += 2;
                    continue;
                }
                ++i;
                break;
            }
            value += text[i++];
        }
        if (i < text.size() && text[i] != separator && !line_end_at(i)) {
            problem = {csv_problem::text_after_quote, i};
            return false;
        }
        return true;
    }
    for (; i < text.size() && text[i] != separator && !line_end_at(i); ++i) {
        if (text[i] == '"' || text[i] == '\r') {
            problem = {text[i] == '"' ? csv_problem::quote_in_unquoted : csv_problem::cr_in_unquoted, i};
            return false;
        }
        value += text[i];
    }
    return true;
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

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/csv.ipp"
#endif
