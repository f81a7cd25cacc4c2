// c8y-mtls (wolfSSL backend): the Crypto policy (crypto.hpp) through wolfCrypt.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/wolfssl/config.hpp"

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/pkcs12.h>

#include <algorithm>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/wolfssl/pkcs11.hpp"
#include "c8y/mtls/wolfssl/pki.hpp"
#include "c8y/mtls/wolfssl/signature.hpp"

namespace c8y::mtls {

/// wolfCrypt as the Crypto policy: certificate signatures (RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA),
/// key matching, encrypted keys and PKCS#12, and the key and certificate making of provisioning.
struct wolfssl_crypto {
    using bytes = std::span<const unsigned char>;

    /// Never throws: false for a wrong signature and for anything wolfCrypt cannot read.
    static bool verify_signature(const signature_check& check) { return detail::wolfcrypt_verify_signature(check); }

    C8Y_MTLS_DECL static key_match private_key_matches(bytes pkcs8, bytes public_key_info);

    C8Y_MTLS_DECL static std::vector<unsigned char> digest(hash_function hash, bytes data);

    /// An encrypted PEM private key block (PKCS#8 PBES2 or PBES1, or OpenSSL's legacy
    /// `Proc-Type: 4,ENCRYPTED` PKCS#1/SEC1) as unencrypted PKCS#8. Throws
    /// private_key_password_wrong naming `source` when it does not decrypt.
    static secure_bytes decrypt_private_key(std::string_view pem_block, std::string_view password,
                                                    const std::string& source)
    {
        const detail::secure_password pass(password);
        secure_bytes der(pem_block.size());
        const int n = wc_KeyPemToDer(reinterpret_cast<const unsigned char*>(pem_block.data()),
                                     static_cast<int>(pem_block.size()), der.data(), static_cast<int>(der.size()),
                                     pass.c_str());
        if (n <= 0)
            throw error(errc::private_key_password_wrong, source);
        der.truncate(static_cast<std::size_t>(n));
        return detail::pki_to_pkcs8({der.data(), der.size()}, source);
    }

    /// A PKCS#12 keystore's key (as PKCS#8), its certificate and the others. Throws
    /// pkcs12_malformed, pkcs12_password_wrong naming `source`.
    C8Y_MTLS_DECL static keystore_contents read_keystore(bytes der, std::string_view password, const std::string& source);

    /// Password-based decryption as PKCS#5 (PBES2: PBKDF2, AES-CBC or 3DES) and PKCS#12
    /// (pbeWithSHAAnd3-KeyTripleDES-CBC) define it, for keystores: `ciphertext` under
    /// `algorithm` (its DER AlgorithmIdentifier), the padding checked and removed, in wiped
    /// memory. nullopt when it does not decrypt (a wrong password, mostly, or an algorithm
    /// wolfCrypt does not have).
    C8Y_MTLS_DECL static std::optional<secure_bytes> decrypt_pbe(bytes algorithm, bytes ciphertext,
                                                                 std::string_view password);

    /// A new key as PKCS#8: RSA of `bits` (exponent 65537) or EC on the NIST curve of `bits`.
    C8Y_MTLS_DECL static secure_bytes generate_private_key(key_algorithm algorithm, int bits);

    C8Y_MTLS_DECL static secure_bytes encrypt_private_key(bytes pkcs8, std::string_view password);

    C8Y_MTLS_DECL static std::vector<unsigned char> public_key_info(bytes pkcs8);

    /// A certificate for the key of `subject_public_key_info`, signed with `signer_pkcs8` as the
    /// holder of `issuer_certificate` (empty: self-signed, the subject's key is the signer's).
    static der_certificate make_certificate(const certificate_template& what, bytes subject_public_key_info,
                                            bytes signer_pkcs8, bytes issuer_certificate)
    {
        detail::pki_loaded_key signer(signer_pkcs8, "signing key");
        if (issuer_certificate.empty())
            return detail::pki_make_certificate(what, signer.cert_key_type(), signer.key(), signer, {});
        detail::pki_public_key subject(subject_public_key_info, "subject key");
        return detail::pki_make_certificate(what, subject.cert_key_type(), subject.key(), signer, issuer_certificate);
    }

    C8Y_MTLS_DECL static std::vector<unsigned char> make_certificate_request(bytes pkcs8, const std::string& common_name);

    /// The private key `key` names in its PKCS#11 token, found and checked usable for a TLS
    /// client (wolfssl/pkcs11.hpp): sets `key.public_key_info`. With `with_certificates`, the
    /// token's certificate of that key (same id, else same label) and then its other
    /// certificates. Throws the pkcs11_* errors naming the cause.
    C8Y_MTLS_DECL static std::vector<der_certificate> open_token_key(pkcs11_key& key, bool with_certificates);

    /// A new key pair made inside the token under `key.uri`'s label (and id: a random one when
    /// it gives none, then written into `key.uri`): RSA of `bits` or EC on P-256/P-384. Sets
    /// `key.public_key_info`. The private key is sensitive and never extractable.
    C8Y_MTLS_DECL static void generate_token_key(pkcs11_key& key, key_algorithm algorithm, int bits);

    /// A PKCS#10 request for CN=`common_name` from a key in a token, signed inside the token.
    C8Y_MTLS_DECL static std::vector<unsigned char> make_certificate_request(const pkcs11_key& key,
                                                                            const std::string& common_name);

    /// A PKCS#10 request's CN and public key; its signature checked with its own key.
    C8Y_MTLS_DECL static certificate_request_contents read_certificate_request(bytes der);

    static std::vector<unsigned char> make_keystore(bytes pkcs8, std::span<const der_certificate> leaf_first,
                                                    std::string_view password, const std::string& friendly_name)
    {
        return detail::pki_make_pkcs12(pkcs8, leaf_first, password, friendly_name);
    }

    C8Y_MTLS_DECL static std::vector<unsigned char> sign_sha256(bytes pkcs8, std::string_view data);

    /// Fills `out` from wolfCrypt's random number generator (the one keys are made with).
    C8Y_MTLS_DECL static void random_bytes(std::span<unsigned char> out);
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/wolfssl/impl/crypto.ipp"
#endif
