// c8y-mtls: certificates out of PEM text (RFC 7468) as DER, decoded without being judged, so
// that a certificate that does not parse reaches the chain validator and gets its finding.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/pem.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

/// The DER of every CERTIFICATE (and OpenSSL TRUSTED CERTIFICATE) block of `pem`, in order;
/// other blocks are skipped. Throws error(errc::pem_malformed) naming `source` and the block
/// when a block's armour or base64 is broken. Whether the DER is a certificate is not checked.
inline std::vector<std::vector<unsigned char>> pem_certificates(std::string_view pem, std::string_view source)
{
    std::vector<std::vector<unsigned char>> out;
    std::size_t block_number = 0;
    for (const pem_block& block : pem_blocks(pem, source)) {
        ++block_number;
        const bool trusted = block.label == "TRUSTED CERTIFICATE";
        if (block.label != "CERTIFICATE" && !trusted)
            continue;
        const auto where = [&] {
            return std::string(source) + ": certificate " + std::to_string(out.size() + 1) + " (PEM block " +
                   std::to_string(block_number) + ")";
        };
        // The base64 lies between the BEGIN line and the END line; line breaks are not part of it.
        const std::size_t body_start = block.text.find('\n');
        const std::size_t body_end = block.text.rfind("-----END ");
        if (body_start == std::string_view::npos || body_start > body_end)
            throw error(errc::pem_malformed, where() + ": no base64 between the BEGIN and END lines");
        std::string base64;
        for (const char c : block.text.substr(body_start, body_end - body_start))
            if (c != '\n' && c != '\r' && c != ' ' && c != '\t')
                base64 += c;
        if (base64.find(':') != std::string::npos)
            throw error(errc::pem_malformed, where() + ": PEM headers are not allowed in a certificate block");
        base64_error why;
        const auto bytes = base64_decode(base64, &why);
        if (!bytes)
            throw error(errc::pem_malformed,
                        where() + ": base64 broken at character " + std::to_string(why.offset) + ": " + why.reason);
        if (bytes->empty())
            throw error(errc::pem_malformed, where() + ": the block is empty");
        std::vector<unsigned char> der(bytes->begin(), bytes->end());
        if (trusted) {
            // OpenSSL appends its trust settings after the certificate: keep the certificate only.
            der::reader r(der);
            der::element first;
            if (!r.next(first))
                der.resize(first.whole.size());
        }
        out.push_back(std::move(der));
    }
    return out;
}

} // namespace c8y::mtls::detail
