// c8y-mtls: certificates out of PEM text (RFC 7468) as DER, decoded without being judged, so
// that a certificate that does not parse reaches the chain validator and gets its finding.
#pragma once

#include <string>
#include <string_view>
#include <vector>

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
        const std::string bytes = pem_decode(block, where());
        std::vector<unsigned char> der(bytes.begin(), bytes.end());
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
