// c8y-mtls: the device's identity (certificate chain and private key) and the truststore.
#pragma once

#include "c8y/mtls/config.hpp"

#include <algorithm>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/file.hpp"
#include "c8y/mtls/detail/pem.hpp"
#include "c8y/mtls/detail/pkcs8.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/detail/x509_pem.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

namespace detail {

/// Every certificate of PEM text, each checked to be one.
C8Y_MTLS_DECL std::vector<der_certificate> certificates_from_pem(std::string_view pem, std::string_view source);

C8Y_MTLS_DECL bool is_private_key_label(std::string_view label);

/// The first private key of PEM text as PKCS#8 DER; encrypted ones are decrypted by the backend.
template <class K>
secure_bytes private_key_from_pem(std::string_view pem, std::string_view password, std::string_view source)
{
    const std::string where(source);
    for (const pem_block& block : pem_blocks(pem, source)) {
        if (!is_private_key_label(block.label))
            continue;
        const bool encrypted = block.label == "ENCRYPTED PRIVATE KEY" ||
                               block.text.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
        if (encrypted && password.empty())
            throw error(errc::private_key_password_wrong, where + " is encrypted: give its password");
        if (encrypted)
            return K::decrypt_private_key(block.text, password, where);
        std::string der = pem_decode(block, where);
        const wipe_on_exit wipe_der(der);
        return pkcs8_from(block.label, {reinterpret_cast<const unsigned char*>(der.data()), der.size()}, where);
    }
    throw error(errc::private_key_malformed, where + ": no PRIVATE KEY block");
}

/// Puts a keystore's certificates in chain order: the leaf, then each one's issuer.
inline std::vector<der_certificate> order_chain(der_certificate leaf, std::vector<der_certificate> others,
                                                const std::string& source)
{
    std::vector<der_certificate> chain;
    chain.push_back(std::move(leaf));
    while (!others.empty()) {
        const parsed_certificate last = parsed_or_throw(chain.back(), source + ": certificate");
        if (last.self_issued())
            break; // self-signed: the chain is complete
        auto issuer = std::find_if(others.begin(), others.end(), [&](const der_certificate& c) {
            parsed_certificate candidate;
            return parse_certificate(c, candidate).empty() && same_name(last.issuer, candidate.subject);
        });
        if (issuer == others.end())
            break;
        chain.push_back(std::move(*issuer));
        others.erase(issuer);
    }
    for (auto& rest : others)
        chain.push_back(std::move(rest));
    return chain;
}

} // namespace detail

/// The device's identity: its certificate chain as it is sent in the handshake (leaf first,
/// each certificate followed by its signer, the uploaded CA included) and its private key.
///
/// A neutral value: the certificates as DER, the private key as PKCS#8 DER in memory that is
/// wiped when the credentials are destroyed; passwords are used once to decrypt and wiped.
/// Loaders throw c8y::mtls::error naming the file and the cause. Encrypted keys and PKCS#12
/// keystores are decrypted by a backend's Crypto policy (`K`, wolfSSL's by default: include
/// c8y/mtls.hpp or c8y/mtls/wolfssl/crypto.hpp); plain PEM needs none.
class credentials {
public:
    /// A PEM chain plus a PEM private key (PKCS#8, PKCS#1 or SEC1; encrypted keys need the password,
    /// as the platform guide's `openssl genrsa -aes256` makes them).
    template <class K = default_crypto>
    static credentials from_pem(std::string_view chain_pem, std::string_view key_pem,
                                std::string_view key_password = {}, std::string_view source = "memory")
    {
        credentials c;
        c.chain_ = detail::certificates_from_pem(chain_pem, std::string(source) + " (chain)");
        if (c.chain_.empty())
            throw error(errc::no_certificate, std::string(source) + " (chain)");
        c.key_ = detail::private_key_from_pem<K>(key_pem, key_password, std::string(source) + " (key)");
        return c;
    }

    /// The same from files: regular files of at most `max_file_bytes` each; anything else (a
    /// directory, a FIFO, a device, a file too large) is refused with file_unreadable naming
    /// the file and why, before it is read.
    template <class K = default_crypto>
    static credentials from_pem_files(const std::filesystem::path& chain_file, const std::filesystem::path& key_file,
                                      std::string_view key_password = {},
                                      std::size_t max_file_bytes = default_max_file_bytes)
    {
        credentials c;
        const std::string chain_pem = read_file(chain_file, max_file_bytes);
        c.chain_ = detail::certificates_from_pem(chain_pem, chain_file.string());
        if (c.chain_.empty())
            throw error(errc::no_certificate, chain_file.string());
        std::string key_pem = read_file(key_file, max_file_bytes);
        const detail::wipe_on_exit wipe_key(key_pem);
        c.key_ = detail::private_key_from_pem<K>(key_pem, key_password, key_file.string());
        return c;
    }

    /// A PKCS#12 keystore, as `openssl pkcs12 -export` makes it (PBES2/AES-256 or legacy).
    template <class K = default_crypto>
    static credentials from_pkcs12(std::span<const unsigned char> der, std::string_view password,
                                   std::string_view source = "memory")
    {
        const std::string where(source);
        keystore_contents keystore = K::read_keystore(der, password, where);
        if (keystore.private_key.empty())
            throw error(errc::private_key_malformed, where + ": the keystore holds no private key");
        if (keystore.certificate.empty())
            throw error(errc::no_certificate, where + ": the keystore holds no certificate for its key");
        credentials c;
        c.key_ = std::move(keystore.private_key);
        c.chain_ = detail::order_chain(std::move(keystore.certificate), std::move(keystore.others), where);
        return c;
    }

    /// The same from a file, refused as from_pem_files() refuses.
    template <class K = default_crypto>
    static credentials from_pkcs12_file(const std::filesystem::path& file, std::string_view password,
                                        std::size_t max_file_bytes = default_max_file_bytes)
    {
        std::string content = read_file(file, max_file_bytes);
        const detail::wipe_on_exit wipe_content(content);
        return from_pkcs12<K>({reinterpret_cast<const unsigned char*>(content.data()), content.size()}, password,
                           file.string());
    }

    /// No client certificate: for HTTPS to a server that does not ask for one, as the
    /// platform's REST API does for the administrator's Basic authentication (provisioning).
    /// The MQTT client refuses it: devices are known by their certificate.
    static credentials none() { return credentials(); }

    /// Whether there is a certificate to send (false for none()).
    bool has_certificate() const noexcept { return !chain_.empty(); }
    /// The chain, leaf first, as DER; empty for none().
    const std::vector<der_certificate>& chain() const noexcept { return chain_; }
    /// The private key as PKCS#8 DER. Empty once wipe_private_key() ran.
    const secure_bytes& private_key() const noexcept { return key_; }
    /// Wipes the private key; the TLS context keeps its own copy.
    void wipe_private_key() noexcept { key_.clear(); }

    /// The CN of the device certificate (the first of the chain): the platform's device identifier.
    /// Throws no_certificate for none().
    C8Y_MTLS_DECL std::string device_common_name() const;

private:
    credentials() = default;
    std::vector<der_certificate> chain_;
    secure_bytes key_;
};

/// The certificates the device trusts to identify the server (the platform's server CA).
class truststore {
public:
    C8Y_MTLS_DECL static truststore from_pem(std::string_view pem, std::string_view source = "memory");

    /// One PEM file of one or more certificates, or a directory whose files hold PEM certificates
    /// (files without certificates are skipped, as OpenSSL's CApath does; entries that are not
    /// regular files too). Each file is read as from_pem_files() reads: a regular file of at
    /// most `max_file_bytes`, else file_unreadable naming it.
    C8Y_MTLS_DECL static truststore from_path(const std::filesystem::path& path, std::size_t max_file_bytes = default_max_file_bytes);

    const std::vector<der_certificate>& certificates() const noexcept { return certificates_; }

private:
    truststore() = default;
    std::vector<der_certificate> certificates_;
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/credentials.ipp"
#endif
