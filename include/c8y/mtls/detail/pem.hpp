// c8y-mtls: PEM text (RFC 7468): split into its labelled blocks, a block decoded, DER written as PEM.
#pragma once

#include "c8y/mtls/config.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

struct pem_block {
    std::string_view label; // "CERTIFICATE", "ENCRYPTED PRIVATE KEY", ...
    std::string_view text;  // the whole block, BEGIN and END lines included
};

/// Every block of the text, in order. A BEGIN line without its matching END line is an error;
/// text between blocks (comments, `openssl x509 -text` output) is ignored, as OpenSSL does.
C8Y_MTLS_DECL std::vector<pem_block> pem_blocks(std::string_view pem, std::string_view source);

/// The bytes of a block: the base64 between its BEGIN and END lines, line breaks and blanks
/// removed. Throws pem_malformed naming `where` when there is none, when the block has RFC 1421
/// headers ("Proc-Type: ...": only legacy encrypted keys have them, and a backend decrypts
/// those), or when the base64 is broken. What it decodes may be a secret: the caller wipes it.
C8Y_MTLS_DECL std::string pem_decode(const pem_block& block, const std::string& where);

/// DER as a PEM block with `label`, base64 in lines of 64 characters, as OpenSSL writes it.
/// The caller wipes the text of a private key.
C8Y_MTLS_DECL std::string pem_encode(std::string_view label, std::span<const unsigned char> der);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/pem.ipp"
#endif
