// c8y-mtls: the definitions crypto.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/wolfssl/crypto.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL auto wolfssl_crypto::private_key_matches(bytes pkcs8, bytes public_key_info) -> key_match
{
    return detail::wolfcrypt_private_key_matches(pkcs8, public_key_info);
}

C8Y_MTLS_DECL auto wolfssl_crypto::digest(hash_function hash, bytes data) -> std::vector<unsigned char>
{
    detail::wolfcrypt_impl::digest d;
    if (!detail::wolfcrypt_impl::hash(hash, data, d))
        throw error(errc::invalid_argument, "the hash function is not available");
    return {d.bytes.begin(), d.bytes.begin() + static_cast<std::ptrdiff_t>(d.size)};
}

C8Y_MTLS_DECL void wolfssl_crypto::random_bytes(std::span<unsigned char> out)
{
    detail::pki_rng rng;
    rng.fill(out.data(), out.size());
}

C8Y_MTLS_DECL auto wolfssl_crypto::read_keystore(bytes der, std::string_view password, const std::string& source) -> keystore_contents
{
    WC_PKCS12* p12 = wc_PKCS12_new();
    if (!p12)
        throw std::bad_alloc();
    struct p12_guard {
        WC_PKCS12* p;
        ~p12_guard() { wc_PKCS12_free(p); }
    } guard{p12};
    if (wc_d2i_PKCS12(der.data(), static_cast<word32>(der.size()), p12) != 0)
        throw error(errc::pkcs12_malformed, source);

    const detail::secure_password pass(password);
    byte* key = nullptr;
    word32 key_size = 0;
    byte* cert = nullptr;
    word32 cert_size = 0;
    WC_DerCertList* cas = nullptr;
    const int rc = wc_PKCS12_parse(p12, pass.c_str(), &key, &key_size, &cert, &cert_size, &cas);

    keystore_contents out;
    for (WC_DerCertList* node = cas; node;) {
        out.others.emplace_back(node->buffer, node->buffer + node->bufferSz);
        WC_DerCertList* next = node->next;
        XFREE(node->buffer, nullptr, DYNAMIC_TYPE_PKCS);
        XFREE(node, nullptr, DYNAMIC_TYPE_PKCS);
        node = next;
    }
    secure_bytes traditional_or_pkcs8;
    if (key) {
        traditional_or_pkcs8 = secure_bytes(key, key_size);
        wipe(key, key_size);
        XFREE(key, nullptr, DYNAMIC_TYPE_PUBLIC_KEY);
    }
    if (cert) {
        out.certificate.assign(cert, cert + cert_size);
        XFREE(cert, nullptr, DYNAMIC_TYPE_PKCS);
    }
    if (rc == MAC_CMP_FAILED_E)
        throw error(errc::pkcs12_password_wrong, source);
    if (rc != 0)
        throw error(errc::pkcs12_malformed, source + " (wolfSSL error " + std::to_string(rc) + ")");
    if (!traditional_or_pkcs8.empty())
        out.private_key = detail::pki_to_pkcs8({traditional_or_pkcs8.data(), traditional_or_pkcs8.size()}, source);
    return out;
}

C8Y_MTLS_DECL auto wolfssl_crypto::decrypt_pbe(bytes algorithm, bytes ciphertext, std::string_view password)
    -> std::optional<secure_bytes>
{
    // wolfCrypt decrypts an EncryptedPrivateKeyInfo in place whatever it holds: the algorithm
    // and the ciphertext are put in one, in wiped memory since the plaintext lands there.
    const std::vector<unsigned char> octets = detail::der::header(detail::der::octet_string, ciphertext.size());
    const std::size_t content = algorithm.size() + octets.size() + ciphertext.size();
    const std::vector<unsigned char> sequence = detail::der::header(detail::der::sequence, content);
    secure_bytes info(sequence.size() + content);
    unsigned char* at = std::copy(sequence.begin(), sequence.end(), info.data());
    at = std::copy(algorithm.begin(), algorithm.end(), at);
    at = std::copy(octets.begin(), octets.end(), at);
    std::copy(ciphertext.begin(), ciphertext.end(), at);
    const detail::secure_password pass(password);
    const int n = wc_DecryptPKCS8Key(info.data(), static_cast<word32>(info.size()), pass.c_str(),
                                     static_cast<int>(pass.size()));
    if (n <= 0)
        return std::nullopt;
    info.truncate(static_cast<std::size_t>(n));
    return info;
}

C8Y_MTLS_DECL auto wolfssl_crypto::generate_private_key(key_algorithm algorithm, int bits) -> secure_bytes
{
    return detail::pki_generate_key(algorithm, bits);
}

C8Y_MTLS_DECL auto wolfssl_crypto::encrypt_private_key(bytes pkcs8, std::string_view password) -> secure_bytes
{
    return detail::pki_encrypt_key(pkcs8, password);
}

C8Y_MTLS_DECL auto wolfssl_crypto::public_key_info(bytes pkcs8) -> std::vector<unsigned char>
{
    return detail::pki_loaded_key(pkcs8, "private key").public_key_info();
}

C8Y_MTLS_DECL auto wolfssl_crypto::open_token_key(pkcs11_key& key, bool with_certificates)
    -> std::vector<der_certificate>
{
    detail::pkcs11_found_key found = detail::find_pkcs11_key(key);
    key.public_key_info = found.public_key_info;
    if (!with_certificates)
        return {};
    return detail::pkcs11_certificates(found, key.uri);
}

C8Y_MTLS_DECL void wolfssl_crypto::generate_token_key(pkcs11_key& key, key_algorithm algorithm, int bits)
{
    const detail::pkcs11_found_key made = detail::generate_pkcs11_key(key, algorithm, bits);
    key.uri.id = made.key.id;
    key.public_key_info = made.public_key_info;
}

C8Y_MTLS_DECL auto wolfssl_crypto::make_certificate_request(const pkcs11_key& key, const std::string& common_name)
    -> std::vector<unsigned char>
{
    detail::pkcs11_found_key found = detail::find_pkcs11_key(key);
    return detail::pkcs11_certificate_request(found, common_name);
}

C8Y_MTLS_DECL auto wolfssl_crypto::make_certificate_request(bytes pkcs8, const std::string& common_name) -> std::vector<unsigned char>
{
    detail::pki_loaded_key key(pkcs8, "private key");
    return detail::pki_make_request(key, common_name);
}

C8Y_MTLS_DECL auto wolfssl_crypto::read_certificate_request(bytes der) -> certificate_request_contents
{
    detail::pki_parsed_request parsed = detail::pki_parse_request(der);
    return {std::move(parsed.common_name), std::move(parsed.public_key_info)};
}

C8Y_MTLS_DECL auto wolfssl_crypto::sign_sha256(bytes pkcs8, std::string_view data) -> std::vector<unsigned char>
{
    detail::pki_loaded_key key(pkcs8, "private key");
    return detail::pki_sign_sha256(key, data);
}

} // namespace c8y::mtls
