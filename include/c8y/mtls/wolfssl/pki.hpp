// c8y-mtls: the provisioning side's cryptography through wolfCrypt: key generation, PKCS#8
// (plain or PBES2/AES-256 encrypted), certificates and CSRs with the platform guide's
// extensions, PKCS#12 keystores and SHA-256 signatures for proof of possession.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/wolfssl/config.hpp"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/pkcs12.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/wolfssl/signature.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {


/// wolfCrypt's random number generator, freed on scope exit.
class pki_rng {
public:
    C8Y_MTLS_DECL pki_rng();
    pki_rng(const pki_rng&) = delete;
    pki_rng& operator=(const pki_rng&) = delete;
    ~pki_rng() { wc_FreeRng(&rng_); }
    WC_RNG* get() noexcept { return &rng_; }

    C8Y_MTLS_DECL void fill(unsigned char* out, std::size_t size);

private:
    WC_RNG rng_{};
};

/// An RSA or EC key in wolfCrypt's structures (the chain validator's holders, which free and
/// wipe them), as the certificate and signature functions take it.
class pki_key {
public:
    pki_key(const pki_key&) = delete;
    pki_key& operator=(const pki_key&) = delete;

    key_algorithm algorithm() const noexcept { return algorithm_; }
    /// wolfCrypt's key type for the *_ex certificate functions.
    int cert_key_type() const noexcept { return algorithm_ == key_algorithm::rsa ? RSA_TYPE : ECC_TYPE; }
    /// SHA-256 with the key's algorithm, as certificate signature type.
    int signature_type() const noexcept { return algorithm_ == key_algorithm::rsa ? CTC_SHA256wRSA : CTC_SHA256wECDSA; }
    C8Y_MTLS_DECL void* key() noexcept;
    RsaKey* rsa() noexcept { return rsa_.get(); }
    ecc_key* ecc() noexcept { return ecc_.get(); }
    /// Size of the key in bits (RSA modulus, EC field).
    C8Y_MTLS_DECL int bits() noexcept;

protected:
    pki_key() = default;

    // wolfCrypt is initialised before the holders are.
    struct initialised {
        initialised() { wolfcrypt_impl::ensure_initialised(); }
    } initialised_;
    wolfcrypt_impl::rsa_key rsa_;
    wolfcrypt_impl::ecc_key_holder ecc_;
    key_algorithm algorithm_ = key_algorithm::rsa;
};

/// A private key decoded into wolfCrypt's structure (RSA or EC), freed and wiped on scope exit.
class pki_loaded_key : public pki_key {
public:
    /// `der`: PKCS#8 (unencrypted), PKCS#1 or SEC1. Throws private_key_malformed naming `source`.
    pki_loaded_key(byte_view der, std::string_view source)
    {
        const wolfcrypt_impl::private_key_der key(der);
        // A PKCS#8 EC key may omit the public point: the holder computes it, certificates need it.
        if (rsa_.private_from(key.bytes(), key.start()))
            algorithm_ = key_algorithm::rsa;
        else if (ecc_.private_from(key.bytes(), key.start()))
            algorithm_ = key_algorithm::ec;
        else
            throw error(errc::private_key_malformed, std::string(source) + ": neither an RSA nor an EC private key");
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    std::vector<unsigned char> public_key_info()
    {
        std::vector<unsigned char> out(4096);
        const int n = algorithm_ == key_algorithm::rsa
                          ? wc_RsaKeyToPublicDer(rsa(), out.data(), static_cast<word32>(out.size()))
                          : wc_EccPublicKeyToDer(ecc(), out.data(), static_cast<word32>(out.size()), 1);
        if (n <= 0)
            throw error(errc::private_key_malformed, "the public key cannot be encoded (wolfSSL error " +
                                                         std::to_string(n) + ")");
        out.resize(static_cast<std::size_t>(n));
        return out;
    }
};

/// A public key (from a SubjectPublicKeyInfo) decoded into wolfCrypt's structure.
class pki_public_key : public pki_key {
public:
    pki_public_key(byte_view spki, std::string_view source)
    {
        if (rsa_.public_from(spki))
            algorithm_ = key_algorithm::rsa;
        else if (ecc_.public_from(spki))
            algorithm_ = key_algorithm::ec;
        else
            throw error(errc::certificate_request_invalid,
                        std::string(source) + ": the public key is neither RSA nor EC");
    }
};

/// A new key as unencrypted PKCS#8 DER: RSA of `bits` (exponent 65537) or EC on the NIST curve of
/// `bits` (256 or 384).
inline secure_bytes pki_generate_key(key_algorithm algorithm, int bits)
{
    pki_rng rng;
    secure_bytes out(8192);
    auto size = static_cast<word32>(out.size());
    int rc = 0;
    if (algorithm == key_algorithm::rsa) {
        RsaKey key{};
        if (wc_InitRsaKey(&key, nullptr) != 0)
            throw error(errc::key_generation_failed, "RSA key structure");
        rc = wc_MakeRsaKey(&key, bits, WC_RSA_EXPONENT, rng.get());
        secure_bytes traditional(8192);
        int n = rc == 0 ? wc_RsaKeyToDer(&key, traditional.data(), static_cast<word32>(traditional.size())) : rc;
        wc_FreeRsaKey(&key);
        wipe(&key, sizeof key);
        if (n <= 0)
            throw error(errc::key_generation_failed, "RSA " + std::to_string(bits) + " (wolfSSL error " +
                                                         std::to_string(n) + ")");
        traditional.truncate(static_cast<std::size_t>(n));
        rc = wc_CreatePKCS8Key(out.data(), &size, traditional.data(), static_cast<word32>(traditional.size()), RSAk,
                               nullptr, 0);
    } else {
        ecc_key key{};
        if (wc_ecc_init(&key) != 0)
            throw error(errc::key_generation_failed, "EC key structure");
        const int curve = bits == 384 ? ECC_SECP384R1 : ECC_SECP256R1;
        rc = wc_ecc_make_key_ex(rng.get(), bits / 8, &key, curve);
        if (rc == 0)
            rc = wc_EccPrivateKeyToPKCS8(&key, out.data(), &size);
        wc_ecc_free(&key);
        wipe(&key, sizeof key);
    }
    if (rc <= 0)
        throw error(errc::key_generation_failed, std::string(algorithm == key_algorithm::rsa ? "RSA " : "EC P-") +
                                                     std::to_string(bits) + " (wolfSSL error " + std::to_string(rc) + ")");
    out.truncate(static_cast<std::size_t>(rc));
    return out;
}

/// A private key (PKCS#8, PKCS#1 or SEC1 DER) as unencrypted PKCS#8 DER.
inline secure_bytes pki_to_pkcs8(byte_view der, std::string_view source)
{
    pki_loaded_key key(der, source);
    if (wolfcrypt_impl::private_key_der(der).is_pkcs8())
        return secure_bytes(der.data(), der.size());
    secure_bytes traditional(der.data(), der.size()); // wolfCrypt takes a mutable buffer
    secure_bytes out(der.size() + 128);
    auto size = static_cast<word32>(out.size());
    const int rc = key.algorithm() == key_algorithm::rsa
                       ? wc_CreatePKCS8Key(out.data(), &size, traditional.data(),
                                           static_cast<word32>(traditional.size()), RSAk, nullptr, 0)
                       : wc_EccPrivateKeyToPKCS8(key.ecc(), out.data(), &size);
    if (rc <= 0)
        throw error(errc::private_key_malformed, std::string(source) + ": cannot be written as PKCS#8 (wolfSSL error " +
                                                     std::to_string(rc) + ")");
    out.truncate(static_cast<std::size_t>(rc));
    return out;
}

/// The ASN.1 UTCTime (until 2049) or GeneralizedTime of a point in time, tag and length included,
/// as wolfSSL's Cert wants its validity dates.
inline std::string pki_asn1_time(std::chrono::sys_seconds t)
{
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{t - day};
    const int year = static_cast<int>(ymd.year());
    if (year < 1950 || year > 9999)
        throw error(errc::validity_invalid, "year " + std::to_string(year) + " cannot be written in a certificate");
    char text[32];
    const bool utc = year < 2050;
    std::snprintf(text, sizeof text, "%0*d%02u%02u%02d%02d%02dZ", utc ? 2 : 4, utc ? year % 100 : year,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    const std::string body(text);
    std::string out;
    out += static_cast<char>(utc ? der::utc_time : der::generalized_time);
    out += static_cast<char>(body.size());
    out += body;
    return out;
}

/// A CN that fits in wolfCrypt's certificate structure (provisioning::check_common_name has
/// checked the platform's rules).
inline void pki_check_common_name(std::string_view cn)
{
    if (cn.size() >= CTC_NAME_SIZE)
        throw error(errc::common_name_invalid, "CN '" + std::string(cn) + "' is longer than " +
                                                   std::to_string(CTC_NAME_SIZE - 1) + " bytes");
}

/// The PKCS#8 key encrypted under `password` as an EncryptedPrivateKeyInfo (RFC 8018 PBES2:
/// PBKDF2 with HMAC-SHA256, AES-256-CBC), DER: what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes.
/// Encoded here rather than by wc_EncryptPKCS8Key, which in wolfSSL 5.5 omits the padding block
/// of a key whose size is a multiple of 16 (an EC P-384 key) and mis-sizes large iteration counts.
inline secure_bytes pki_encrypt_key(byte_view pkcs8, std::string_view password)
{
    static constexpr unsigned char pbes2_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D};
    static constexpr unsigned char pbkdf2_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C};
    static constexpr unsigned char hmac_sha256_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09};
    static constexpr unsigned char aes256_cbc_oid[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A};
    static constexpr unsigned char iterations[] = {0x01, 0x86, 0xA0}; // 100000, DER INTEGER content
    pki_rng rng;
    unsigned char salt[16];
    unsigned char iv[AES_BLOCK_SIZE];
    rng.fill(salt, sizeof salt);
    rng.fill(iv, sizeof iv);
    const secure_password pass(password);
    secure_bytes key(32);
    if (wc_PBKDF2(key.data(), reinterpret_cast<const byte*>(pass.c_str()), static_cast<int>(pass.size()), salt,
                  sizeof salt, 100000, static_cast<int>(key.size()), WC_SHA256) != 0)
        throw error(errc::key_generation_failed, "PBKDF2 failed");
    // PKCS#7 padding: 1 to 16 bytes, a whole block when the key fills the last one.
    const std::size_t padding = AES_BLOCK_SIZE - pkcs8.size() % AES_BLOCK_SIZE;
    secure_bytes plain(pkcs8.size() + padding);
    std::copy(pkcs8.begin(), pkcs8.end(), plain.data());
    std::fill(plain.data() + pkcs8.size(), plain.data() + plain.size(), static_cast<unsigned char>(padding));
    std::vector<unsigned char> cipher(plain.size());
    Aes aes{};
    int rc = wc_AesInit(&aes, nullptr, INVALID_DEVID);
    if (rc == 0)
        rc = wc_AesSetKey(&aes, key.data(), static_cast<word32>(key.size()), iv, AES_ENCRYPTION);
    if (rc == 0)
        rc = wc_AesCbcEncrypt(&aes, cipher.data(), plain.data(), static_cast<word32>(plain.size()));
    wc_AesFree(&aes);
    wipe(&aes, sizeof aes);
    if (rc != 0)
        throw error(errc::key_generation_failed, "AES-256-CBC failed (wolfSSL error " + std::to_string(rc) + ")");

    std::vector<unsigned char> prf, kdf_params, kdf, cipher_params, scheme, scheme_params, algorithm, content, out;
    der::append(prf, der::object_identifier, hmac_sha256_oid);
    prf.insert(prf.end(), {der::null, 0x00});
    der::append(kdf_params, der::octet_string, {salt, sizeof salt});
    der::append(kdf_params, der::integer, iterations);
    der::append(kdf_params, der::sequence, prf);
    der::append(kdf, der::object_identifier, pbkdf2_oid);
    der::append(kdf, der::sequence, kdf_params);
    der::append(cipher_params, der::object_identifier, aes256_cbc_oid);
    der::append(cipher_params, der::octet_string, {iv, sizeof iv});
    der::append(scheme_params, der::sequence, kdf);
    der::append(scheme_params, der::sequence, cipher_params);
    der::append(scheme, der::object_identifier, pbes2_oid);
    der::append(scheme, der::sequence, scheme_params);
    der::append(algorithm, der::sequence, scheme);
    content = algorithm;
    der::append(content, der::octet_string, cipher);
    der::append(out, der::sequence, content);
    return secure_bytes(out.data(), out.size());
}

/// The TBSCertificate `tbs` with its basicConstraints extension marked critical, as the guide's
/// v3_ca and v3_signed have it (wolfSSL writes it non-critical). Empty when `tbs` has no
/// basicConstraints or is not a TBSCertificate.
inline std::vector<unsigned char> pki_basic_constraints_critical(byte_view tbs)
{
    static constexpr unsigned char basic_constraints_oid[] = {0x55, 0x1D, 0x13};
    der::element whole;
    der::reader top(tbs);
    if (top.next(der::sequence, whole))
        return {};
    std::vector<unsigned char> fields;
    bool found = false;
    der::reader r(whole.value);
    while (!r.empty()) {
        der::element field;
        if (r.next(field))
            return {};
        if (field.tag != der::context_3) {
            fields.insert(fields.end(), field.whole.begin(), field.whole.end());
            continue;
        }
        der::element list;
        der::reader wrapper(field.value);
        if (wrapper.next(der::sequence, list))
            return {};
        std::vector<unsigned char> extensions;
        der::reader items(list.value);
        while (!items.empty()) {
            der::element extension, oid, value;
            if (items.next(der::sequence, extension))
                return {};
            der::reader parts(extension.value);
            if (parts.next(der::object_identifier, oid) || parts.next(value))
                return {};
            if (!same_bytes(oid.value, basic_constraints_oid) || value.tag != der::octet_string) {
                extensions.insert(extensions.end(), extension.whole.begin(), extension.whole.end());
                continue;
            }
            std::vector<unsigned char> content(oid.whole.begin(), oid.whole.end());
            content.insert(content.end(), {der::boolean, 0x01, 0xFF});
            content.insert(content.end(), value.whole.begin(), value.whole.end());
            der::append(extensions, der::sequence, content);
            found = true;
        }
        std::vector<unsigned char> sequence;
        der::append(sequence, der::sequence, extensions);
        der::append(fields, der::context_3, sequence);
    }
    if (!found)
        return {};
    std::vector<unsigned char> out;
    der::append(out, der::sequence, fields);
    return out;
}

/// Makes and signs a certificate for the public key `subject_key` (a wolfCrypt RsaKey or ecc_key
/// of `subject_key_type`), signed by `signer` and issued by `issuer_der` (empty: self-signed).
inline std::vector<unsigned char> pki_make_certificate(const certificate_template& request, int subject_key_type,
                                                       void* subject_key, pki_loaded_key& signer, byte_view issuer_der)
{
    pki_check_common_name(request.common_name);
    if (request.days <= 0)
        throw error(errc::validity_invalid, std::to_string(request.days) + " days: give a positive number of days");
    if (request.pathlen && (*request.pathlen < 0 || *request.pathlen > 127 || !request.ca))
        throw error(errc::validity_invalid, "pathlen " + std::to_string(*request.pathlen) +
                                                (request.ca ? ": give 0 to 127" : ": only a CA certificate has a pathlen"));
    pki_rng rng;
    auto cert = std::make_unique<Cert>();
    if (wc_InitCert(cert.get()) != 0)
        throw error(errc::certificate_creation_failed, "wolfSSL certificate structure");
    Cert& c = *cert;
    std::memcpy(c.subject.commonName, request.common_name.data(), request.common_name.size());
    c.sigType = signer.signature_type();
    // A random positive serial of 16 bytes (RFC 5280 allows 20): unique without a registry.
    c.serialSz = 16;
    rng.fill(c.serial, static_cast<std::size_t>(c.serialSz));
    c.serial[0] = static_cast<byte>((c.serial[0] & 0x7F) | 0x40);
    const std::string before = pki_asn1_time(request.not_before);
    const std::string after = pki_asn1_time(request.not_before + std::chrono::days(request.days));
    std::memcpy(c.beforeDate, before.data(), before.size());
    c.beforeDateSz = static_cast<int>(before.size());
    std::memcpy(c.afterDate, after.data(), after.size());
    c.afterDateSz = static_cast<int>(after.size());
    c.basicConstSet = 1;
    c.isCA = request.ca ? 1 : 0;
    if (request.pathlen) {
        c.pathLen = static_cast<byte>(*request.pathlen);
        c.pathLenSet = 1;
    }
    const char* usage = request.ca ? "digitalSignature,cRLSign,keyCertSign"
                                   : "nonRepudiation,digitalSignature,keyEncipherment";
    int rc = wc_SetKeyUsage(&c, usage);
    if (rc == 0)
        rc = wc_SetSubjectKeyIdFromPublicKey_ex(&c, subject_key_type, subject_key);
    if (rc == 0) {
        if (issuer_der.empty()) {
            c.selfSigned = 1;
            rc = wc_SetAuthKeyIdFromPublicKey_ex(&c, signer.cert_key_type(), signer.key());
        } else {
            c.selfSigned = 0;
            rc = wc_SetIssuerBuffer(&c, issuer_der.data(), static_cast<int>(issuer_der.size()));
            if (rc == 0)
                rc = wc_SetAuthKeyIdFromCert(&c, issuer_der.data(), static_cast<int>(issuer_der.size()));
        }
    }
    if (rc != 0)
        throw error(errc::certificate_creation_failed, "CN=" + request.common_name + ": extensions (wolfSSL error " +
                                                           std::to_string(rc) + ")");
    std::vector<unsigned char> out(8192);
    rc = wc_MakeCert_ex(&c, out.data(), static_cast<word32>(out.size()), subject_key_type, subject_key, rng.get());
    if (rc > 0) {
        const std::vector<unsigned char> tbs = pki_basic_constraints_critical({out.data(), static_cast<std::size_t>(rc)});
        if (tbs.empty())
            throw error(errc::certificate_creation_failed, "CN=" + request.common_name +
                                                               ": wolfSSL wrote no basicConstraints extension");
        std::copy(tbs.begin(), tbs.end(), out.begin());
        rc = wc_SignCert_ex(static_cast<int>(tbs.size()), c.sigType, out.data(), static_cast<word32>(out.size()),
                            signer.cert_key_type(), signer.key(), rng.get());
    }
    if (rc <= 0)
        throw error(errc::certificate_creation_failed, "CN=" + request.common_name + " (wolfSSL error " +
                                                           std::to_string(rc) + ")");
    out.resize(static_cast<std::size_t>(rc));
    return out;
}

/// A PKCS#10 certificate signing request for `key` with subject CN=`common_name`, DER, signed
/// with `key`, or with `signer` when given (the same key's private half in a crypto device).
inline std::vector<unsigned char> pki_make_request(pki_key& key, const std::string& common_name,
                                                   void* signer = nullptr)
{
    pki_check_common_name(common_name);
    pki_rng rng;
    auto cert = std::make_unique<Cert>();
    if (wc_InitCert(cert.get()) != 0)
        throw error(errc::certificate_creation_failed, "wolfSSL certificate structure");
    Cert& c = *cert;
    std::memcpy(c.subject.commonName, common_name.data(), common_name.size());
    c.sigType = key.signature_type();
    std::vector<unsigned char> out(8192);
    int rc = wc_MakeCertReq_ex(&c, out.data(), static_cast<word32>(out.size()), key.cert_key_type(), key.key());
    if (rc > 0)
        rc = wc_SignCert_ex(c.bodySz, c.sigType, out.data(), static_cast<word32>(out.size()), key.cert_key_type(),
                            signer ? signer : key.key(), rng.get());
    if (rc <= 0)
        throw error(errc::certificate_creation_failed, "CSR for CN=" + common_name + " (wolfSSL error " +
                                                           std::to_string(rc) + ")");
    out.resize(static_cast<std::size_t>(rc));
    return out;
}

/// What the CA side needs from a CSR, once its signature is checked.
struct pki_parsed_request {
    std::string common_name;
    std::vector<unsigned char> public_key_info;
};

/// Parses a DER PKCS#10 request and checks its self-signature (proof that the requester holds
/// the key). Throws certificate_request_invalid naming the cause.
inline pki_parsed_request pki_parse_request(byte_view csr)
{
    const auto fail = [](const std::string& why) { return error(errc::certificate_request_invalid, why); };
    der::element outer, info, algorithm, signature, version, subject, spki;
    der::reader top(csr);
    if (top.next(der::sequence, outer) || !top.empty())
        throw fail("not a DER sequence");
    der::reader parts(outer.value);
    if (parts.next(der::sequence, info) || parts.next(der::sequence, algorithm) ||
        parts.next(der::bit_string, signature) || !parts.empty())
        throw fail("not a PKCS#10 CertificationRequest");
    der::reader fields(info.value);
    if (fields.next(der::integer, version) || fields.next(der::sequence, subject) || fields.next(der::sequence, spki))
        throw fail("the request's info lacks version, subject or public key");
    x509_signature_algorithm alg;
    if (const char* why = x509_impl::read_signature_algorithm(algorithm, alg))
        throw fail(std::string("signature algorithm: ") + why);
    if (!alg.known)
        throw fail("signature algorithm " + der::oid_text(alg.oid) + " is not supported");
    if (signature.value.empty() || signature.value[0] != 0)
        throw fail("signature bit string has unused bits");
    signature_check check;
    check.scheme = alg.scheme;
    check.hash = alg.hash;
    check.pss_salt_length = alg.pss_salt_length;
    check.signed_data = info.whole;
    check.signature = signature.value.subspan(1);
    check.public_key = spki.whole;
    if (!wolfcrypt_verify_signature(check))
        throw fail("its signature does not verify with its own public key (altered, or not made with the key)");
    pki_parsed_request out;
    out.public_key_info.assign(spki.whole.begin(), spki.whole.end());
    static constexpr unsigned char cn_oid[] = {0x55, 0x04, 0x03};
    der::reader rdns(subject.value);
    while (!rdns.empty()) {
        der::element rdn;
        if (rdns.next(der::set, rdn))
            throw fail("malformed subject");
        der::reader attributes(rdn.value);
        while (!attributes.empty()) {
            der::element attribute, oid, value;
            if (attributes.next(der::sequence, attribute))
                throw fail("malformed subject attribute");
            der::reader a(attribute.value);
            if (a.next(der::object_identifier, oid) || a.next(value))
                throw fail("malformed subject attribute");
            if (same_bytes(oid.value, cn_oid))
                out.common_name.assign(value.value.begin(), value.value.end());
        }
    }
    if (out.common_name.empty())
        throw fail("the subject has no CN");
    return out;
}

/// A PKCS#12 keystore of the PKCS#8 `key` and the chain (leaf first), key and certificates
/// encrypted with PBE-SHA1-3DES and a SHA-1 MAC: what wolfSSL writes, and what OpenSSL 3 reads
/// without its legacy provider.
inline std::vector<unsigned char> pki_make_pkcs12(byte_view key, std::span<const std::vector<unsigned char>> chain,
                                                  std::string_view password, const std::string& friendly_name)
{
    if (chain.empty())
        throw error(errc::keystore_creation_failed, "no certificate to store");
    // wolfSSL wraps the traditional key (PKCS#1 or SEC1) into the shrouded PKCS#8 bag itself.
    secure_bytes key_copy(key.data(), key.size());
    word32 offset = 0;
    if (wc_GetPkcs8TraditionalOffset(key_copy.data(), &offset, static_cast<word32>(key_copy.size())) < 0)
        offset = 0;
    secure_password pass(password);
    std::vector<unsigned char> leaf(chain.front());
    std::vector<std::vector<unsigned char>> others(chain.begin() + 1, chain.end());
    std::vector<WC_DerCertList> nodes(others.size());
    for (std::size_t i = 0; i < others.size(); ++i) {
        nodes[i].buffer = others[i].data();
        nodes[i].bufferSz = static_cast<word32>(others[i].size());
        nodes[i].next = i + 1 < others.size() ? &nodes[i + 1] : nullptr;
    }
    std::string name = friendly_name;
    // wolfSSL only reads the password, through a non-const pointer.
    WC_PKCS12* p12 = wc_PKCS12_create(const_cast<char*>(pass.c_str()), static_cast<word32>(pass.size()), name.data(),
                                      key_copy.data() + offset, static_cast<word32>(key_copy.size() - offset), leaf.data(),
                                      static_cast<word32>(leaf.size()), nodes.empty() ? nullptr : nodes.data(),
                                      PBE_SHA1_DES3, PBE_SHA1_DES3, 2048, 2048, 0, nullptr);
    if (!p12)
        throw error(errc::keystore_creation_failed, "wolfSSL refused the key or a certificate");
    struct p12_guard {
        WC_PKCS12* p;
        ~p12_guard() { wc_PKCS12_free(p); }
    } guard{p12};
    int size = 0;
    int rc = wc_i2d_PKCS12(p12, nullptr, &size);
    if (rc != LENGTH_ONLY_E || size <= 0)
        throw error(errc::keystore_creation_failed, "size (wolfSSL error " + std::to_string(rc) + ")");
    std::vector<unsigned char> out(static_cast<std::size_t>(size));
    byte* at = out.data();
    rc = wc_i2d_PKCS12(p12, &at, &size);
    if (rc <= 0)
        throw error(errc::keystore_creation_failed, "encoding (wolfSSL error " + std::to_string(rc) + ")");
    out.resize(static_cast<std::size_t>(rc));
    return out;
}

/// The SHA-256 signature of `data` with `key`: RSA PKCS#1 v1.5 or ECDSA (DER), as `openssl dgst
/// -sha256 -sign` makes it.
inline std::vector<unsigned char> pki_sign_sha256(pki_loaded_key& key, std::string_view data)
{
    pki_rng rng;
    const auto type = key.algorithm() == key_algorithm::rsa ? WC_SIGNATURE_TYPE_RSA_W_ENC : WC_SIGNATURE_TYPE_ECC;
    const word32 key_size = key.algorithm() == key_algorithm::rsa ? sizeof(RsaKey) : sizeof(ecc_key);
    if (key.algorithm() == key_algorithm::rsa)
        wc_RsaSetRNG(key.rsa(), rng.get());
    const int max = wc_SignatureGetSize(type, key.key(), key_size);
    if (max <= 0)
        throw error(errc::signing_failed, "signature size (wolfSSL error " + std::to_string(max) + ")");
    std::vector<unsigned char> out(static_cast<std::size_t>(max));
    auto size = static_cast<word32>(out.size());
    const int rc = wc_SignatureGenerate(WC_HASH_TYPE_SHA256, type, reinterpret_cast<const byte*>(data.data()),
                                        static_cast<word32>(data.size()), out.data(), &size, key.key(), key_size,
                                        rng.get());
    if (rc != 0)
        throw error(errc::signing_failed, "wolfSSL error " + std::to_string(rc));
    out.resize(size);
    return out;
}

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/wolfssl/impl/pki.ipp"
#endif
