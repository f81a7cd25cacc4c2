// c8y-mtls: the definitions x509_pem.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/x509_pem.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::vector<std::vector<unsigned char>> pem_certificates(std::string_view pem, std::string_view source)
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
