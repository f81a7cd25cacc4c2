// c8y-mtls: what a keystore or truststore file is, told by its content rather than its name: a
// JKS (or JCEKS), a PKCS#12 file, PEM, a DER certificate or key, a PKCS#7 bundle. Loaders
// dispatch on it, and name a file of the wrong kind as what it is.
#pragma once

#include "c8y/mtls/config.hpp"

#include <string>
#include <string_view>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

enum class store_format {
    jks,                       ///< magic 0xFEEDFEED
    jceks,                     ///< magic 0xCECECECE
    pkcs12,                    ///< a SEQUENCE starting with INTEGER 3
    pem,                       ///< text with a "-----BEGIN " line
    der_certificate,           ///< one X.509 certificate in DER
    der_private_key,           ///< a PKCS#8, PKCS#1 or SEC1 private key in DER
    der_encrypted_private_key, ///< a PKCS#8 EncryptedPrivateKeyInfo in DER
    pkcs7,                     ///< a PKCS#7 ContentInfo (a .p7b bundle of certificates)
    empty,
    unknown,
};

/// The format of a keystore or truststore file, by its first bytes and DER shape; nothing is
/// decrypted or checked beyond what telling them apart needs.
C8Y_MTLS_DECL store_format recognise_store(byte_view bytes) noexcept;

/// What the format is, for a message: "a JKS keystore", "a DER certificate", ...
C8Y_MTLS_DECL std::string_view store_format_name(store_format format) noexcept;

/// The labels of the PEM blocks of `text`, as a message lists them: "CERTIFICATE (2), PRIVATE KEY".
C8Y_MTLS_DECL std::string pem_labels(std::string_view text, std::string_view source);

/// Why a file of `format` gives no device identity, as error(code, "SOURCE: ...") naming what it
/// is: a certificate has no key (private_key_malformed), a key no certificate (no_certificate), a
/// PKCS#7 bundle or bytes of no known kind are no keystore (keystore_malformed).
C8Y_MTLS_DECL error not_a_keystore(store_format format, std::string_view source);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/store_format.ipp"
#endif
