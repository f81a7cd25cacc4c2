// c8y-mtls: the definitions pem.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/pem.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::vector<pem_block> pem_blocks(std::string_view pem, std::string_view source)
{
    constexpr std::string_view begin_marker = "-----BEGIN ";
    constexpr std::string_view dashes = "-----";
    std::vector<pem_block> blocks;
    std::size_t pos = 0;
    while ((pos = pem.find(begin_marker, pos)) != std::string_view::npos) {
        const std::size_t label_start = pos + begin_marker.size();
        const std::size_t label_end = pem.find(dashes, label_start);
        const std::size_t line_end = pem.find('\n', label_start);
        if (label_end == std::string_view::npos || (line_end != std::string_view::npos && line_end < label_end))
            throw error(errc::pem_malformed, std::string(source) + ": BEGIN line without closing dashes");
        const std::string_view label = pem.substr(label_start, label_end - label_start);
        const std::string end_line = "-----END " + std::string(label) + "-----";
        const std::size_t end = pem.find(end_line, label_end);
        if (end == std::string_view::npos)
            throw error(errc::pem_malformed, std::string(source) + ": '" + std::string(label) + "' block has no END line");
        blocks.push_back({label, pem.substr(pos, end + end_line.size() - pos)});
        pos = end + end_line.size();
    }
    return blocks;
}

C8Y_MTLS_DECL std::string pem_decode(const pem_block& block, const std::string& where)
{
    const std::size_t body_start = block.text.find('\n');
    const std::size_t body_end = block.text.rfind("-----END ");
    if (body_start == std::string_view::npos || body_start > body_end)
        throw error(errc::pem_malformed, where + ": no base64 between the BEGIN and END lines");
    std::string base64;
    for (const char c : block.text.substr(body_start, body_end - body_start))
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t')
            base64 += c;
    const bool has_headers = base64.find(':') != std::string::npos;
    base64_error why;
    auto bytes = has_headers ? std::nullopt : base64_decode(base64, &why);
    wipe(base64);
    if (has_headers)
        throw error(errc::pem_malformed, where + ": PEM headers are not allowed in a " + std::string(block.label) +
                                             " block");
    if (!bytes)
        throw error(errc::pem_malformed,
                    where + ": base64 broken at character " + std::to_string(why.offset) + ": " + why.reason);
    if (bytes->empty())
        throw error(errc::pem_malformed, where + ": the block is empty");
    return std::move(*bytes);
}

C8Y_MTLS_DECL std::string pem_encode(std::string_view label, std::span<const unsigned char> der)
{
    std::string base64 = base64_encode({reinterpret_cast<const char*>(der.data()), der.size()});
    std::string out = "-----BEGIN " + std::string(label) + "-----\n";
    out.reserve(out.size() * 2 + base64.size() + base64.size() / 64 + 2);
    for (std::size_t i = 0; i < base64.size(); i += 64) {
        out.append(base64, i, 64);
        out += '\n';
    }
    wipe(base64);
    out += "-----END " + std::string(label) + "-----\n";
    return out;
}

} // namespace c8y::mtls::detail
