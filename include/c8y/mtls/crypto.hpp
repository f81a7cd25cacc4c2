// c8y-mtls: the Crypto policy: the cryptography certificates need (signature checks, key
// matching, key and certificate making, keystores), which each backend provides behind its wall.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/detail/secure_memory.hpp"

namespace c8y::mtls {

/// A DER-encoded X.509 certificate.
using der_certificate = std::vector<unsigned char>;

/// Hash functions of X.509 signatures.
enum class hash_function { md5, sha1, sha224, sha256, sha384, sha512 };

/// Signature schemes of X.509 certificates that the chain validator checks.
enum class signature_scheme {
    rsa_pkcs1_v1_5, ///< sha256WithRSAEncryption and its siblings
    rsa_pss,        ///< RSASSA-PSS with MGF1 over the same hash
    ecdsa,          ///< ecdsa-with-SHA256 and its siblings
};

/// One certificate signature to check: `signature` over `signed_data` by the holder of the key
/// in `public_key`.
struct signature_check {
    signature_scheme scheme = signature_scheme::rsa_pkcs1_v1_5;
    hash_function hash = hash_function::sha256;
    std::size_t pss_salt_length = 0;            ///< RSASSA-PSS only
    std::span<const unsigned char> signed_data; ///< the DER TBSCertificate
    std::span<const unsigned char> signature;   ///< the signatureValue's bytes
    std::span<const unsigned char> public_key;  ///< the signer's DER SubjectPublicKeyInfo
};

/// Whether a private key belongs to a certificate's public key.
enum class key_match {
    matches,
    differs,
    unreadable, ///< not an RSA or EC private key in PKCS#8 DER
};

/// What a PKCS#12 keystore holds, decrypted: the private key as PKCS#8 DER (wiped memory), the
/// certificate of that key, and the other certificates, in the keystore's order.
struct keystore_contents {
    secure_bytes private_key;
    der_certificate certificate;
    std::vector<der_certificate> others;
};

/// What a PKCS#10 certificate request asks for.
struct certificate_request_contents {
    std::string common_name;
    std::vector<unsigned char> public_key_info; ///< DER SubjectPublicKeyInfo
};

/// The key algorithms the SDK makes keys of.
enum class key_algorithm { rsa, ec };

/// What a certificate to be made says about its subject and validity.
struct certificate_template {
    std::string common_name;
    std::chrono::sys_seconds not_before{};
    int days = 365;
    bool ca = false;
    std::optional<int> pathlen; ///< CA only
};

/// The cryptography a backend provides, as static functions on neutral values (DER, PKCS#8
/// private keys in wiped memory); none of them keeps state. The chain validator needs:
/// - `T::verify_signature(check)`: true when the signature is valid (false for any key or
///   signature the backend cannot read); never throws;
/// - `T::private_key_matches(pkcs8, subject_public_key_info)`.
///
/// The rest of the SDK also calls, when a caller uses what needs them: `digest(hash, data)`
/// (certificate fingerprints), `decrypt_private_key(pem_block, password, source)` (an encrypted PEM key as PKCS#8),
/// `read_keystore(pkcs12_der, password, source)` (keystore_contents), `decrypt_pbe(algorithm,
/// ciphertext, password)` (PKCS#5 PBES2 and PKCS#12 password-based decryption of a keystore's
/// parts, `algorithm` the DER AlgorithmIdentifier: the plaintext as secure_bytes without its
/// padding, or nullopt when it does not decrypt),
/// `generate_private_key(algorithm, bits)`, `encrypt_private_key(pkcs8, password)` (encrypted
/// PKCS#8 DER: PBES2, PBKDF2, AES-256-CBC), `public_key_info(pkcs8)`,
/// `make_certificate(template, subject_public_key_info, signer_pkcs8, issuer_certificate)` (an
/// empty issuer: self-signed), `make_certificate_request(pkcs8, common_name)`,
/// `read_certificate_request(der)` (its CN and public key, the signature checked),
/// `make_keystore(pkcs8, chain, password, friendly_name)`, `sign_sha256(pkcs8, data)` and
/// `random_bytes(span)` (a cryptographic random number generator's bytes).
/// Errors are c8y::mtls::error naming the cause.
template <class T>
concept Crypto = requires(const signature_check& check, std::span<const unsigned char> der) {
    { T::verify_signature(check) } -> std::same_as<bool>;
    { T::private_key_matches(der, der) } -> std::same_as<key_match>;
};

/// The backend the friendly names use (credentials' loaders, provisioning, chain_validator):
/// wolfSSL (c8y/mtls/wolfssl/crypto.hpp, which c8y/mtls.hpp includes). Only declared here, so
/// that nothing outside the backend's folder includes its headers.
struct wolfssl_crypto;
using default_crypto = wolfssl_crypto;

} // namespace c8y::mtls
