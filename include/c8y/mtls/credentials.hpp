// c8y-mtls: the device's identity (certificate chain and private key) and the truststore.
#pragma once

#include "c8y/mtls/config.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/file.hpp"
#include "c8y/mtls/detail/jks.hpp"
#include "c8y/mtls/detail/pem.hpp"
#include "c8y/mtls/detail/pkcs12.hpp"
#include "c8y/mtls/detail/pkcs8.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/store_format.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/detail/x509_pem.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/pkcs11.hpp"

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

/// Puts a keystore's certificates in chain order: the leaf, then each one's issuer; the
/// certificates of no issuer after them, unless `drop_unrelated` (a token's other devices').
inline std::vector<der_certificate> order_chain(der_certificate leaf, std::vector<der_certificate> others,
                                                const std::string& source, bool drop_unrelated = false)
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
    if (!drop_unrelated)
        for (auto& rest : others)
            chain.push_back(std::move(rest));
    return chain;
}

/// The certificates of a truststore file that needs no password (PEM, or one DER certificate),
/// each parsed. truststore_empty naming what the file is when it holds none (a key, a PKCS#7
/// bundle, bytes of no known kind); keystore_password_wrong for a JKS or PKCS#12 file, whose
/// integrity can only be checked with its store password.
C8Y_MTLS_DECL std::vector<der_certificate> unprotected_trusted_certificates(byte_view bytes, std::string_view source);

/// A PEM keystore (the chain and its key in one file, as `openssl pkcs12 -nodes` prints them):
/// its certificates in the file's order and its key. private_key_malformed for certificates
/// without a key, no_certificate for a key without certificates, naming what the file holds;
/// keystore_alias_missing when an alias is asked for, since PEM names no entries.
template <class K>
keystore_contents pem_keystore(byte_view bytes, std::string_view key_password, bool alias_given,
                               const std::string& source)
{
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (alias_given)
        throw error(errc::keystore_alias_missing,
                    source + ": a PEM file, whose blocks have no aliases: give no alias for it");
    std::vector<der_certificate> certificates = certificates_from_pem(text, source);
    bool has_key = false;
    for (const pem_block& block : pem_blocks(text, source))
        has_key = has_key || is_private_key_label(block.label);
    if (!has_key)
        throw error(errc::private_key_malformed, source + ": a PEM file of " + pem_labels(text, source) +
                                                     " and no private key: not a keystore (give the chain and its "
                                                     "key, or a keystore holding both)");
    if (certificates.empty())
        throw error(errc::no_certificate, source + ": a PEM file of " + pem_labels(text, source) +
                                              " and no certificate: a key alone is not a keystore");
    keystore_contents out;
    out.private_key = private_key_from_pem<K>(text, key_password, source);
    out.certificate = std::move(certificates.front());
    out.others.assign(std::make_move_iterator(certificates.begin() + 1), std::make_move_iterator(certificates.end()));
    return out;
}

/// Runs a keystore reader; when it finds the store password wrong and none was given, says so.
template <class F>
auto with_store_password(std::string_view store_password, F&& read) -> decltype(read())
{
    try {
        return read();
    } catch (const error& e) {
        if (e.code() != errc::keystore_password_wrong || !store_password.empty())
            throw;
        throw error(e.code(), e.detail() + "; no store password was given");
    }
}

} // namespace detail

/// Which private key entry of a keystore to use, and the password of its key: what MQTT.fx asks
/// for as "Client KeyPair Alias" and "Client KeyPair Password".
struct keystore_options {
    /// The entry's alias (keytool's -alias or -destalias, openssl pkcs12's -name: the guide's
    /// `devicekeyentry`); empty: the keystore's only private key entry. Matched ignoring ASCII
    /// case, as Java does.
    std::string alias;
    /// The key's own password (keytool's -keypass or -destkeypass); nullopt: the store password,
    /// as keytool defaults it.
    std::optional<std::string_view> key_password;
    /// The largest file from_keystore_file() reads.
    std::size_t max_file_bytes = default_max_file_bytes;
};

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

    /// Any keystore, its format recognised by its content: a JKS (keytool's, the guide's
    /// `deviceKeystore.jks`), a PKCS#12 file (openssl pkcs12 -export, keytool 17), or PEM
    /// holding the chain and the key. The entry is the private key of `options.alias`, or the
    /// only one; its key is decrypted with `options.key_password` (default: `store_password`).
    /// A JKS's integrity digest and a PKCS#12 file's MAC are checked with `store_password`
    /// before any entry is read. The chain is a JKS entry's as stored; a PKCS#12 key's
    /// certificate followed by its issuers among the file's certificates.
    ///
    /// Errors, each naming `source` and the cause: keystore_password_wrong (the store password,
    /// or a file altered since it was written), key_password_wrong (the key's own password),
    /// keystore_alias_missing (no such entry, or several and no alias: the aliases are listed;
    /// a truststore given as keystore), keystore_malformed (a defect, a truncation),
    /// keystore_format_unsupported (JCEKS, an algorithm the SDK does not read), and for a file
    /// of another kind: private_key_malformed (a certificate without key), no_certificate (a
    /// key without certificate).
    template <class K = default_crypto>
    static credentials from_keystore(std::span<const unsigned char> bytes, std::string_view store_password,
                                     const keystore_options& options = {}, std::string_view source = "memory")
    {
        const std::string where(source);
        const std::optional<std::string_view> alias =
            options.alias.empty() ? std::nullopt : std::optional<std::string_view>(options.alias);
        const std::string_view key_password = options.key_password.value_or(store_password);
        const detail::store_format format = detail::recognise_store(bytes);
        keystore_contents contents;
        switch (format) {
        case detail::store_format::jks:
        case detail::store_format::jceks:
            contents = detail::with_store_password(store_password, [&] {
                return detail::read_jks_keystore<K>(bytes, store_password, where, alias, key_password);
            });
            break;
        case detail::store_format::pkcs12:
            contents = detail::with_store_password(store_password, [&] {
                return detail::read_pkcs12_keystore<K>(bytes, store_password, where, alias, key_password);
            });
            break;
        case detail::store_format::pem:
            contents = detail::pem_keystore<K>(bytes, key_password, alias.has_value(), where);
            break;
        default:
            throw detail::not_a_keystore(format, where);
        }
        credentials c;
        c.key_ = std::move(contents.private_key);
        c.chain_.push_back(std::move(contents.certificate));
        for (auto& other : contents.others)
            c.chain_.push_back(std::move(other));
        for (std::size_t i = 0; i < c.chain_.size(); ++i)
            detail::parsed_or_throw(c.chain_[i], where + ": certificate " + std::to_string(i + 1) + " of the chain");
        return c;
    }

    /// The same from a file, refused as from_pem_files() refuses (`options.max_file_bytes`).
    template <class K = default_crypto>
    static credentials from_keystore_file(const std::filesystem::path& file, std::string_view store_password,
                                          const keystore_options& options = {})
    {
        std::string content = read_file(file, options.max_file_bytes);
        const detail::wipe_on_exit wipe_content(content);
        return from_keystore<K>({reinterpret_cast<const unsigned char*>(content.data()), content.size()},
                                store_password, options, file.string());
    }

    /// A private key that stays in a PKCS#11 token (a secure element, a TPM through its
    /// PKCS#11 module, an HSM), named by an RFC 7512 URI (`pkcs11:token=device;object=key`),
    /// reached through the PKCS#11 `module` (a shared library; empty: the URI's module-path),
    /// logged in with `pin` (kept, in wiped memory, until the TLS context is made). The chain
    /// comes from `chain_file` (PEM, leaf first), or when empty from the token: the certificate
    /// object of the key's id (else its label), followed by its issuers among the token's
    /// certificates.
    ///
    /// The key is found and checked at once: exactly one private key object matches the URI;
    /// it is RSA (2048 bits at least) or EC on P-256 or P-384 and may sign; its public key is
    /// read for the chain validator's private-key rule (and the TLS context's own check), which
    /// compares it with the device certificate's. Nothing of the private key is read: the
    /// handshake's signatures are made in the token. Errors name the cause:
    /// pkcs11_uri_malformed, pkcs11_module_unloadable, pkcs11_token_missing and
    /// pkcs11_object_missing (listing what there is), pkcs11_pin_wrong, pkcs11_key_unusable,
    /// no_certificate.
    template <class K = default_crypto>
    static credentials from_pkcs11(const std::filesystem::path& module, std::string_view key_uri, secret_string pin,
                                   const std::filesystem::path& chain_file = {},
                                   std::size_t max_file_bytes = default_max_file_bytes)
    {
        auto key = std::make_shared<pkcs11_key>(pkcs11_key::named(module, key_uri, std::move(pin)));
        std::vector<der_certificate> from_token = K::open_token_key(*key, chain_file.empty());
        credentials c;
        if (chain_file.empty()) {
            der_certificate leaf = std::move(from_token.front());
            from_token.erase(from_token.begin());
            c.chain_ = detail::order_chain(std::move(leaf), std::move(from_token), key->uri.text(), true);
        } else {
            c.chain_ = detail::certificates_from_pem(read_file(chain_file, max_file_bytes), chain_file.string());
            if (c.chain_.empty())
                throw error(errc::no_certificate, chain_file.string());
        }
        c.token_key_ = std::move(key);
        return c;
    }

    /// No client certificate: for HTTPS to a server that does not ask for one, as the
    /// platform's REST API does for the administrator's Basic authentication (provisioning).
    /// The MQTT client refuses it: devices are known by their certificate.
    static credentials none() { return credentials(); }

    /// Whether there is a certificate to send (false for none()).
    bool has_certificate() const noexcept { return !chain_.empty(); }
    /// The chain, leaf first, as DER; empty for none().
    const std::vector<der_certificate>& chain() const noexcept { return chain_; }
    /// The private key as PKCS#8 DER. Empty once wipe_private_key() ran, and for a key in a token.
    const secure_bytes& private_key() const noexcept { return key_; }
    /// The key in a PKCS#11 token (from_pkcs11()), or null.
    const pkcs11_key* token_key() const noexcept { return token_key_.get(); }
    /// Wipes the private key, or a token key's PIN; the TLS context keeps its own copy, or its
    /// own logged-in session.
    void wipe_private_key() noexcept
    {
        key_.clear();
        if (token_key_)
            token_key_->pin.clear();
    }

    /// The CN of the device certificate (the first of the chain): the platform's device identifier.
    /// Throws no_certificate for none().
    C8Y_MTLS_DECL std::string device_common_name() const;

private:
    credentials() = default;
    std::vector<der_certificate> chain_;
    secure_bytes key_;
    std::shared_ptr<pkcs11_key> token_key_;
};

/// The certificates the device trusts to identify the server (the platform's server CA, or the
/// server certificate itself, as the guide's truststore holds it).
class truststore {
public:
    C8Y_MTLS_DECL static truststore from_pem(std::string_view pem, std::string_view source = "memory");

    /// One PEM file of one or more certificates (or one DER certificate), or a directory whose
    /// files hold PEM certificates (files without certificates are skipped, as OpenSSL's CApath
    /// does; entries that are not regular files too). Each file is read as from_pem_files()
    /// reads: a regular file of at most `max_file_bytes`, else file_unreadable naming it. A JKS
    /// or PKCS#12 truststore needs its password: the overload below.
    C8Y_MTLS_DECL static truststore from_path(const std::filesystem::path& path, std::size_t max_file_bytes = default_max_file_bytes);

    /// Any truststore, its format recognised by its content: a JKS or PKCS#12 truststore as
    /// `keytool -importcert` makes them (its trusted certificate entries; in PKCS#12, the
    /// certificate bags Java marks trusted), with its integrity checked with `password` first;
    /// PEM; one DER certificate. The keystore-plus-truststore of the guide's step 5 gives its
    /// trusted certificate entries only. Errors naming `source` and the cause:
    /// keystore_password_wrong, keystore_malformed, keystore_format_unsupported as for
    /// credentials::from_keystore(); truststore_empty naming what the file holds instead (a
    /// keystore's private key entries, certificates Java does not take as trusted, a key).
    template <class K = default_crypto>
    static truststore from_bytes(std::span<const unsigned char> bytes, std::string_view password = {},
                                 std::string_view source = "memory")
    {
        const std::string where(source);
        truststore t;
        switch (detail::recognise_store(bytes)) {
        case detail::store_format::jks:
        case detail::store_format::jceks:
            t.certificates_ = detail::with_store_password(
                password, [&] { return detail::read_jks_truststore<K>(bytes, password, where); });
            break;
        case detail::store_format::pkcs12:
            t.certificates_ = detail::with_store_password(
                password, [&] { return detail::read_pkcs12_truststore<K>(bytes, password, where); });
            break;
        default:
            t.certificates_ = detail::unprotected_trusted_certificates(bytes, where);
            return t;
        }
        for (std::size_t i = 0; i < t.certificates_.size(); ++i)
            detail::parsed_or_throw(t.certificates_[i], where + ": trusted certificate " + std::to_string(i + 1));
        return t;
    }

    /// A truststore file of any format (from_bytes()), or a directory of PEM files as the
    /// overload above reads it. `password` is the JKS or PKCS#12 store password (keytool's
    /// -storepass); PEM and DER files need none and ignore it.
    template <class K = default_crypto>
    static truststore from_path(const std::filesystem::path& path, std::string_view password,
                                std::size_t max_file_bytes = default_max_file_bytes)
    {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec))
            return from_path(path, max_file_bytes);
        const std::string content = read_file(path, max_file_bytes);
        return from_bytes<K>({reinterpret_cast<const unsigned char*>(content.data()), content.size()}, password,
                             path.string());
    }

    const std::vector<der_certificate>& certificates() const noexcept { return certificates_; }

private:
    truststore() = default;
    std::vector<der_certificate> certificates_;
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/credentials.ipp"
#endif
