// c8y-mtls: certificates out of PEM text (RFC 7468) as DER, decoded without being judged, so
// that a certificate that does not parse reaches the chain validator and gets its finding.
#pragma once

#include "c8y/mtls/config.hpp"

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
C8Y_MTLS_DECL std::vector<std::vector<unsigned char>> pem_certificates(std::string_view pem, std::string_view source);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/x509_pem.ipp"
#endif
