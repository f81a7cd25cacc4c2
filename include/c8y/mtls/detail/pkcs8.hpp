// c8y-mtls: private keys as PKCS#8 (RFC 5208): the one form the SDK keeps them in. PKCS#1 and
// SEC1 keys are wrapped, PKCS#8 ones checked; pure DER code, the key's numbers are not judged.
#pragma once

#include "c8y/mtls/config.hpp"

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

namespace pkcs8_impl {

// SEQUENCE { INTEGER 0, algorithm, OCTET STRING { key } }, in wiped memory.
C8Y_MTLS_DECL secure_bytes wrap(byte_view algorithm_identifier, byte_view key);

// The elements of a DER SEQUENCE's content, when `der` is exactly one SEQUENCE.
C8Y_MTLS_DECL std::optional<der::reader> sequence_of(byte_view der);

C8Y_MTLS_DECL bool is_small_integer(der::reader& r, unsigned value);

} // namespace pkcs8_impl

/// The parts of a PKCS#8 PrivateKeyInfo: its algorithm and the key in that algorithm's form.
struct pkcs8_key {
    key_algorithm algorithm = key_algorithm::rsa;
    std::size_t bits = 0;    ///< RSA modulus, EC curve size
    byte_view curve;         ///< EC: the named curve's OID
    byte_view key;           ///< RSAPrivateKey or ECPrivateKey DER
};

/// Reads a PKCS#8 PrivateKeyInfo (version 0, or 1 as RFC 5958's OneAsymmetricKey) of an RSA or EC
/// key on a named curve; nullopt for anything else.
C8Y_MTLS_DECL std::optional<pkcs8_key> read_pkcs8(byte_view der);

/// A private key of a PEM block's label as PKCS#8 DER: "PRIVATE KEY" checked, "RSA PRIVATE KEY"
/// (PKCS#1) and "EC PRIVATE KEY" (SEC1, which must name its curve) wrapped. Throws
/// private_key_malformed naming `source`.
C8Y_MTLS_DECL secure_bytes pkcs8_from(std::string_view label, byte_view der, const std::string& source);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/pkcs8.ipp"
#endif
