// c8y-mtls: the definitions signature.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/wolfssl/signature.hpp"

namespace c8y::mtls::detail::wolfcrypt_impl {

C8Y_MTLS_DECL void ensure_initialised()
{
    static const int initialised = wolfCrypt_Init();
    (void)initialised;
}

C8Y_MTLS_DECL bool hash(hash_function h, byte_view data, digest& out)
{
    switch (h) {
    case hash_function::md5: out.type = WC_HASH_TYPE_MD5, out.size = 16; break;
    case hash_function::sha1: out.type = WC_HASH_TYPE_SHA, out.size = 20; break;
    case hash_function::sha224: out.type = WC_HASH_TYPE_SHA224, out.size = 28; break;
    case hash_function::sha256: out.type = WC_HASH_TYPE_SHA256, out.size = 32; break;
    case hash_function::sha384: out.type = WC_HASH_TYPE_SHA384, out.size = 48; break;
    case hash_function::sha512: out.type = WC_HASH_TYPE_SHA512, out.size = 64; break;
    }
    return wc_Hash(out.type, data.data(), static_cast<word32>(data.size()), out.bytes.data(),
                   static_cast<word32>(out.size)) == 0;
}

C8Y_MTLS_DECL byte_view digest_info_prefix(hash_function h)
{
    static constexpr unsigned char md5[] = {0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                            0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10};
    static constexpr unsigned char sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                             0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
    static constexpr unsigned char sha224[] = {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                               0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c};
    static constexpr unsigned char sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                               0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    static constexpr unsigned char sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                               0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
    static constexpr unsigned char sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                               0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
    switch (h) {
    case hash_function::md5: return md5;
    case hash_function::sha1: return sha1;
    case hash_function::sha224: return sha224;
    case hash_function::sha256: return sha256;
    case hash_function::sha384: return sha384;
    case hash_function::sha512: return sha512;
    }
    return {};
}

C8Y_MTLS_DECL int mgf_of(wc_HashType type)
{
    switch (type) {
    case WC_HASH_TYPE_SHA: return WC_MGF1SHA1;
    case WC_HASH_TYPE_SHA224: return WC_MGF1SHA224;
    case WC_HASH_TYPE_SHA256: return WC_MGF1SHA256;
    case WC_HASH_TYPE_SHA384: return WC_MGF1SHA384;
    case WC_HASH_TYPE_SHA512: return WC_MGF1SHA512;
    default: return WC_MGF1NONE;
    }
}

C8Y_MTLS_DECL private_key_der::private_key_der(byte_view der) : copy_(der.data(), der.size())
{
    if (wc_GetPkcs8TraditionalOffset(copy_.data(), &start_, static_cast<word32>(copy_.size())) < 0)
        start_ = 0;
    else
        pkcs8_ = true;
}

C8Y_MTLS_DECL rsa_key::~rsa_key()
{
    if (ok_)
        wc_FreeRsaKey(&key_);
    wipe(&key_, sizeof key_);
}

C8Y_MTLS_DECL bool rsa_key::public_from(byte_view spki)
{
    word32 at = 0;
    return ok_ && wc_RsaPublicKeyDecode(spki.data(), &at, &key_, static_cast<word32>(spki.size())) == 0;
}

C8Y_MTLS_DECL bool rsa_key::private_from(byte_view der, word32 at)
{
    return ok_ && wc_RsaPrivateKeyDecode(der.data(), &at, &key_, static_cast<word32>(der.size())) == 0;
}

C8Y_MTLS_DECL bool rsa_key::in_device(byte_view id, const std::string& label, int device_id)
{
    if (ok_)
        wc_FreeRsaKey(&key_);
    ok_ = (id.empty() ? wc_InitRsaKey_Label(&key_, label.c_str(), nullptr, device_id)
                      : wc_InitRsaKey_Id(&key_, const_cast<unsigned char*>(id.data()), static_cast<int>(id.size()),
                                         nullptr, device_id)) == 0;
    return ok_;
}

C8Y_MTLS_DECL ecc_key_holder::~ecc_key_holder()
{
    if (ok_)
        wc_ecc_free(&key_);
    wipe(&key_, sizeof key_);
}

C8Y_MTLS_DECL bool ecc_key_holder::public_from(byte_view spki)
{
    word32 at = 0;
    return ok_ && wc_EccPublicKeyDecode(spki.data(), &at, &key_, static_cast<word32>(spki.size())) == 0;
}

C8Y_MTLS_DECL bool ecc_key_holder::private_from(byte_view der, word32 at)
{
    if (!ok_ || wc_EccPrivateKeyDecode(der.data(), &at, &key_, static_cast<word32>(der.size())) != 0)
        return false;
    // SEC1 makes the public key optional: compute it when the file left it out.
    return key_.type != ECC_PRIVATEKEY_ONLY || wc_ecc_make_pub(&key_, nullptr) == 0;
}

C8Y_MTLS_DECL bool ecc_key_holder::in_device(byte_view id, const std::string& label, int device_id)
{
    if (ok_)
        wc_ecc_free(&key_);
    ok_ = (id.empty() ? wc_ecc_init_label(&key_, label.c_str(), nullptr, device_id)
                      : wc_ecc_init_id(&key_, const_cast<unsigned char*>(id.data()), static_cast<int>(id.size()),
                                       nullptr, device_id)) == 0;
    return ok_;
}

C8Y_MTLS_DECL bool ecc_key_holder::public_point(std::array<unsigned char, 160>& out, word32& size)
{
    size = static_cast<word32>(out.size());
    return wc_ecc_export_x963(&key_, out.data(), &size) == 0;
}

} // namespace c8y::mtls::detail::wolfcrypt_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL bool wolfcrypt_verify_signature(const signature_check& check)
{
    using namespace wolfcrypt_impl;
    ensure_initialised();
    digest d;
    if (!hash(check.hash, check.signed_data, d) || check.signature.empty())
        return false;
    switch (check.scheme) {
    case signature_scheme::rsa_pkcs1_v1_5: {
        rsa_key key;
        if (!key.public_from(check.public_key))
            return false;
        std::array<unsigned char, 1024> decoded{};
        const int n = wc_RsaSSL_Verify(check.signature.data(), static_cast<word32>(check.signature.size()),
                                       decoded.data(), static_cast<word32>(decoded.size()), key.get());
        const byte_view prefix = digest_info_prefix(check.hash);
        return n > 0 && static_cast<std::size_t>(n) == prefix.size() + d.size &&
               std::memcmp(decoded.data(), prefix.data(), prefix.size()) == 0 &&
               std::memcmp(decoded.data() + prefix.size(), d.bytes.data(), d.size) == 0;
    }
    case signature_scheme::rsa_pss: {
        rsa_key key;
        if (!key.public_from(check.public_key) || check.signature.size() > 1024)
            return false;
        // wolfCrypt decrypts in place: work on a copy of the signature.
        std::array<unsigned char, 1024> work{};
        std::memcpy(work.data(), check.signature.data(), check.signature.size());
        std::array<unsigned char, 1024> decoded{};
        const int salt = static_cast<int>(check.pss_salt_length);
        const int n = wc_RsaPSS_Verify_ex(work.data(), static_cast<word32>(check.signature.size()), decoded.data(),
                                          static_cast<word32>(decoded.size()), d.type, mgf_of(d.type), salt, key.get());
        return n > 0 && wc_RsaPSS_CheckPadding_ex2(d.bytes.data(), static_cast<word32>(d.size), decoded.data(),
                                                   static_cast<word32>(n), d.type, salt,
                                                   mp_count_bits(&key.get()->n), nullptr) == 0;
    }
    case signature_scheme::ecdsa: {
        ecc_key_holder key;
        int valid = 0;
        return key.public_from(check.public_key) &&
               wc_ecc_verify_hash(check.signature.data(), static_cast<word32>(check.signature.size()),
                                  d.bytes.data(), static_cast<word32>(d.size), &valid, key.get()) == 0 &&
               valid == 1;
    }
    }
    return false;
}

C8Y_MTLS_DECL key_match wolfcrypt_private_key_matches(byte_view private_key, byte_view public_key_info)
{
    using namespace wolfcrypt_impl;
    ensure_initialised();
    if (private_key.empty())
        return key_match::unreadable;
    const private_key_der key(private_key);
    const byte_view der = key.bytes();
    const word32 start = key.start();
    {
        rsa_key priv;
        if (priv.private_from(der, start)) {
            rsa_key pub;
            std::array<unsigned char, 1024> n1{}, n2{};
            std::array<unsigned char, 16> e1{}, e2{};
            word32 n1_size = 0, n2_size = 0, e1_size = 0, e2_size = 0;
            if (!pub.public_from(public_key_info) || !priv.public_numbers(n1, n1_size, e1, e1_size) ||
                !pub.public_numbers(n2, n2_size, e2, e2_size))
                return key_match::differs;
            return same_bytes({n1.data(), n1_size}, {n2.data(), n2_size}) &&
                           same_bytes({e1.data(), e1_size}, {e2.data(), e2_size})
                       ? key_match::matches
                       : key_match::differs;
        }
    }
    {
        ecc_key_holder priv;
        if (priv.private_from(der, start) || (start != 0 && priv.private_from(der, 0))) {
            ecc_key_holder pub;
            std::array<unsigned char, 160> p1{}, p2{};
            word32 p1_size = 0, p2_size = 0;
            if (!pub.public_from(public_key_info) || !priv.public_point(p1, p1_size) || !pub.public_point(p2, p2_size))
                return key_match::differs;
            return same_bytes({p1.data(), p1_size}, {p2.data(), p2_size}) ? key_match::matches : key_match::differs;
        }
    }
    return key_match::unreadable;
}

} // namespace c8y::mtls::detail
