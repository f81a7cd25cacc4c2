// c8y-mtls (wolfSSL backend): the chain validator's cryptography through wolfCrypt: certificate signatures
// (RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA) and whether a private key is a certificate's.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/wolfssl/config.hpp"

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include <array>
#include <cstring>

#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/crypto.hpp"

namespace c8y::mtls::detail {

namespace wolfcrypt_impl {

// wolfCrypt wants its global state (the ECC point cache's lock) set up once; what it holds is
// released by the process's exit.
C8Y_MTLS_DECL void ensure_initialised();

struct digest {
    std::array<unsigned char, WC_MAX_DIGEST_SIZE> bytes{};
    std::size_t size = 0;
    wc_HashType type = WC_HASH_TYPE_NONE;
};

C8Y_MTLS_DECL bool hash(hash_function h, byte_view data, digest& out);

// The DER DigestInfo before the digest, for each hash (RFC 8017, 9.2, note 1).
C8Y_MTLS_DECL byte_view digest_info_prefix(hash_function h);

C8Y_MTLS_DECL int mgf_of(wc_HashType type);

// A private key's DER in a wiped copy (wolfCrypt's PKCS#8 reader takes a mutable buffer), and
// where the key itself (PKCS#1 or SEC1) starts: after a PKCS#8 wrapper, or at 0 without one.
class private_key_der {
public:
    C8Y_MTLS_DECL explicit private_key_der(byte_view der);
    byte_view bytes() const noexcept { return {copy_.data(), copy_.size()}; }
    word32 start() const noexcept { return start_; }
    bool is_pkcs8() const noexcept { return pkcs8_; }

private:
    secure_bytes copy_;
    word32 start_ = 0;
    bool pkcs8_ = false;
};

// RSA and EC keys, freed and wiped (a private key's numbers included) on scope exit.
class rsa_key {
public:
    rsa_key() { ok_ = wc_InitRsaKey(&key_, nullptr) == 0; }
    rsa_key(const rsa_key&) = delete;
    rsa_key& operator=(const rsa_key&) = delete;
    C8Y_MTLS_DECL ~rsa_key();
    C8Y_MTLS_DECL bool public_from(byte_view spki);
    C8Y_MTLS_DECL bool private_from(byte_view der, word32 at);
    /// The key of a crypto device (a PKCS#11 token): named by its id, or by its label when `id`
    /// is empty; its operations run in the device. public_from() then gives its public half.
    C8Y_MTLS_DECL bool in_device(byte_view id, const std::string& label, int device_id);
    // The modulus and public exponent, for comparing two keys.
    bool public_numbers(std::array<unsigned char, 1024>& n, word32& n_size, std::array<unsigned char, 16>& e,
                        word32& e_size)
    {
        n_size = static_cast<word32>(n.size());
        e_size = static_cast<word32>(e.size());
        return wc_RsaFlattenPublicKey(&key_, e.data(), &e_size, n.data(), &n_size) == 0;
    }
    RsaKey* get() { return &key_; }

private:
    RsaKey key_{};
    bool ok_ = false;
};

class ecc_key_holder {
public:
    ecc_key_holder() { ok_ = wc_ecc_init(&key_) == 0; }
    ecc_key_holder(const ecc_key_holder&) = delete;
    ecc_key_holder& operator=(const ecc_key_holder&) = delete;
    C8Y_MTLS_DECL ~ecc_key_holder();
    C8Y_MTLS_DECL bool public_from(byte_view spki);
    C8Y_MTLS_DECL bool private_from(byte_view der, word32 at);
    C8Y_MTLS_DECL bool in_device(byte_view id, const std::string& label, int device_id);
    // The public point, uncompressed (X9.63), for comparing two keys.
    C8Y_MTLS_DECL bool public_point(std::array<unsigned char, 160>& out, word32& size);
    ecc_key* get() { return &key_; }

private:
    ecc_key key_{};
    bool ok_ = false;
};

} // namespace wolfcrypt_impl

/// True when `check.signature` is a valid signature of `check.signed_data` by the key in
/// `check.public_key`; false for a wrong signature and for anything wolfCrypt cannot read.
C8Y_MTLS_DECL bool wolfcrypt_verify_signature(const signature_check& check);

/// Whether the DER private key (PKCS#8, PKCS#1 or SEC1, unencrypted) holds the private half of
/// the public key in the DER SubjectPublicKeyInfo `public_key_info`.
C8Y_MTLS_DECL key_match wolfcrypt_private_key_matches(byte_view private_key, byte_view public_key_info);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/wolfssl/impl/signature.ipp"
#endif
