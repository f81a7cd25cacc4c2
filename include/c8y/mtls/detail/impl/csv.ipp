// c8y-mtls: the definitions csv.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/csv.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string csv_field(std::string_view value, char separator)
{
    const auto edge_blank = [](char c) { return c == ' ' || c == '\t'; };
    const bool quote = value.find_first_of(std::string{separator, '"', '\r', '\n', '\t'}) != std::string_view::npos ||
                       (!value.empty() && (edge_blank(value.front()) || edge_blank(value.back())));
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

} // namespace c8y::mtls::detail
