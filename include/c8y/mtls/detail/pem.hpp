// c8y-mtls: splitting PEM text into its labelled blocks (RFC 7468), without decoding them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

struct pem_block {
    std::string_view label; // "CERTIFICATE", "ENCRYPTED PRIVATE KEY", ...
    std::string_view text;  // the whole block, BEGIN and END lines included
};

/// Every block of the text, in order. A BEGIN line without its matching END line is an error;
/// text between blocks (comments, `openssl x509 -text` output) is ignored, as OpenSSL does.
inline std::vector<pem_block> pem_blocks(std::string_view pem, std::string_view source)
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

} // namespace c8y::mtls::detail
