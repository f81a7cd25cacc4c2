// c8y-mtls: Java KeyStores (JKS), as the platform's guide has people make them with keytool
// (`keytool -importkeystore ... -deststoretype JKS`, `keytool -importcert ... -storetype JKS`):
// the entries, the store's integrity digest, and private keys under Sun's KeyProtector. Pure
// code; the SHA-1 it needs comes from the Crypto policy (`K::digest`).
//
// The format, big-endian, as sun.security.provider.JavaKeyStore writes it: magic 0xFEEDFEED,
// version (1 or 2), entry count (u32); each entry a tag (1: private key, 2: trusted
// certificate), an alias (Java's modified UTF-8: u16 length and bytes) and a timestamp (u64,
// milliseconds since 1970); a private key entry then holds the protected key (u32 length, an
// EncryptedPrivateKeyInfo) and its chain (u32 count, each certificate as u32 length and DER,
// version 2 putting its type before it as a u16-length string, "X.509"); a trusted certificate
// entry holds one certificate the same way. The file ends with SHA-1(password as UTF-16BE ||
// "Mighty Aphrodite" || every byte before it).
#pragma once

#include "c8y/mtls/config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/pkcs8.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/secret.hpp"

namespace c8y::mtls::detail {

/// What a file is, judged by its first four bytes: a JKS, a JCEKS (Sun's other keystore, whose
/// secret-key entries and keys under PBEWithMD5AndTripleDES the SDK does not read), or neither:
/// then it may be a PKCS#12 keystore, which the caller tries next.
enum class java_keystore_format { jks, jceks, none };

C8Y_MTLS_DECL java_keystore_format jks_format(byte_view file) noexcept;

enum class jks_entry_kind { private_key, trusted_certificate };

/// One entry of a JKS. Views point into the file's bytes.
struct jks_entry {
    std::string alias; ///< as UTF-8; keytool writes JKS aliases in lower case
    jks_entry_kind kind = jks_entry_kind::trusted_certificate;
    std::chrono::sys_time<std::chrono::milliseconds> created{};
    byte_view protected_key;               ///< private key: its EncryptedPrivateKeyInfo DER
    std::vector<byte_view> certificates;   ///< private key: its chain, its own first; trusted: one
};

/// A JKS whose integrity digest the store password confirmed. Views point into the file's
/// bytes, which must outlive it.
struct jks_store {
    std::string source;
    std::uint32_t version = 2;
    std::vector<jks_entry> entries; ///< in the file's order
};

namespace jks_impl {

inline constexpr std::size_t digest_size = 20; // SHA-1

// The smallest entry: tag, empty alias, timestamp and a version 1 certificate's length.
inline constexpr std::size_t smallest_entry = 4 + 2 + 8 + 4;

/// Reads the big-endian fields of the entries; every read past the end throws
/// keystore_malformed naming the field and its offset.
class cursor {
public:
    cursor(byte_view data, std::string_view source) noexcept : data_(data), source_(source) {}
    std::size_t offset() const noexcept { return at_; }
    std::size_t left() const noexcept { return data_.size() - at_; }
    C8Y_MTLS_DECL std::uint64_t number(std::size_t size, const std::string& what);
    C8Y_MTLS_DECL byte_view bytes(std::uint64_t size, const std::string& what);

private:
    byte_view data_;
    std::string_view source_;
    std::size_t at_ = 0;
};

// "SOURCE: WHAT" with the code given.
C8Y_MTLS_DECL error failure(errc code, std::string_view source, const std::string& what);

// An alias in Java's modified UTF-8 (DataInputStream.readUTF) as UTF-8, an unpaired surrogate
// as U+FFFD; nullopt when the bytes are not modified UTF-8.
C8Y_MTLS_DECL std::optional<std::string> alias_text(byte_view modified_utf8);

// "entry 3 (\"devicekeyentry\")", as details name an entry.
C8Y_MTLS_DECL std::string entry_name(const jks_store& store, const jks_entry& entry);

// The aliases of the entries of `kind`, quoted, at most ten and then how many more.
C8Y_MTLS_DECL std::string aliases(const jks_store& store, jks_entry_kind kind);

// Equal digests, compared in time independent of where they differ.
C8Y_MTLS_DECL bool same_digest(byte_view a, byte_view b) noexcept;

/// The entries framed and the digest located, nothing judged that the digest protects except
/// what framing needs. Certificate types other than X.509, JCEKS, another version:
/// keystore_format_unsupported; anything else out of place, keystore_malformed. Allocates no more
/// than a small multiple of the file's size: counts are checked against the bytes left first.
struct framed {
    jks_store store;
    byte_view signed_part; ///< every byte before the digest
    byte_view digest;
};
C8Y_MTLS_DECL framed frame(byte_view file, std::string_view source);

/// A password as Java's char[] in big-endian bytes, as both digests take it; invalid_argument
/// when it is not UTF-8.
C8Y_MTLS_DECL secure_bytes utf16be(std::string_view password, std::string_view source);

/// `first || second` in wiped memory: what SHA-1 is taken of.
C8Y_MTLS_DECL secure_bytes joined(byte_view first, byte_view second);

/// Throws keystore_password_wrong unless `computed` is the digest the file ends with.
C8Y_MTLS_DECL void check_integrity(const framed& f, byte_view computed);

/// Checks what the digest protects: each certificate a DER SEQUENCE, aliases distinct (as
/// JavaKeyStore folds them). keystore_malformed otherwise.
C8Y_MTLS_DECL void check_entries(const jks_store& store);

/// A private key entry's protected key under KeyProtector: the salt (the first keystream
/// block's seed), the encrypted PKCS#8 and the check digest. keystore_malformed, or
/// keystore_format_unsupported for another protection algorithm.
struct protected_key {
    byte_view salt;
    byte_view encrypted;
    byte_view check;
};
C8Y_MTLS_DECL protected_key key_protection(const jks_store& store, const jks_entry& entry);

/// Throws key_password_wrong unless `computed`, SHA-1(password || plaintext), is the check.
C8Y_MTLS_DECL void check_key(const jks_store& store, const jks_entry& entry, byte_view computed, byte_view check);

/// Throws private_key_malformed unless `pkcs8` is an RSA or EC key the SDK can use; gives the
/// entry's key and chain as a keystore's contents (no_certificate for an empty chain).
C8Y_MTLS_DECL keystore_contents key_contents(const jks_store& store, const jks_entry& entry, secure_bytes pkcs8);

} // namespace jks_impl

/// Opens a JKS: frames it, checks its integrity digest with `store_password` before anything
/// else is believed (keystore_password_wrong: the password, or a file altered since), then the
/// entries. A JCEKS, another JKS version or certificate type: keystore_format_unsupported; any
/// defect of the file, a truncation included: keystore_malformed. Details name `source`.
template <class K>
jks_store open_jks(byte_view file, std::string_view store_password, std::string_view source)
{
    jks_impl::framed f = jks_impl::frame(file, source);
    {
        const secure_bytes password = jks_impl::utf16be(store_password, source);
        static constexpr unsigned char whitener[] = {'M', 'i', 'g', 'h', 't', 'y', ' ', 'A',
                                                     'p', 'h', 'r', 'o', 'd', 'i', 't', 'e'};
        const secure_bytes keyed = jks_impl::joined({password.data(), password.size()}, whitener);
        const secure_bytes hashed = jks_impl::joined({keyed.data(), keyed.size()}, f.signed_part);
        const std::vector<unsigned char> computed = K::digest(hash_function::sha1, {hashed.data(), hashed.size()});
        jks_impl::check_integrity(f, computed);
    }
    jks_impl::check_entries(f.store);
    return std::move(f.store);
}

/// The private key entry of `alias` (matched as JavaKeyStore does, ignoring ASCII case), or
/// without an alias the store's only one. Throws keystore_alias_missing listing the store's
/// private key entries when there is no such entry, or several and no alias.
C8Y_MTLS_DECL const jks_entry& jks_key_entry(const jks_store& store, std::optional<std::string_view> alias);

/// A private key entry's key, decrypted with `key_password` (keytool's -keypass or -destkeypass;
/// the store password when none was given), as PKCS#8 in wiped memory, with its chain.
/// key_password_wrong when the KeyProtector's check fails; keystore_malformed,
/// keystore_format_unsupported for a protected key that is not KeyProtector's; private_key_malformed
/// for a key that is not RSA or EC; no_certificate for an empty chain.
template <class K>
keystore_contents jks_private_key(const jks_store& store, const jks_entry& entry, std::string_view key_password)
{
    const jks_impl::protected_key p = jks_impl::key_protection(store, entry);
    const secure_bytes password = jks_impl::utf16be(key_password, store.source);
    const byte_view pass(password.data(), password.size());
    // The keystream: d1 = SHA-1(password || salt), d(i+1) = SHA-1(password || d(i)).
    secure_bytes plain(p.encrypted.data(), p.encrypted.size());
    secure_bytes block(p.salt.data(), p.salt.size());
    for (std::size_t at = 0; at < plain.size(); at += jks_impl::digest_size) {
        const secure_bytes input = jks_impl::joined(pass, {block.data(), block.size()});
        std::vector<unsigned char> next = K::digest(hash_function::sha1, {input.data(), input.size()});
        block = secure_bytes(next.data(), next.size());
        wipe(next.data(), next.size());
        for (std::size_t i = 0; i < block.size() && at + i < plain.size(); ++i)
            plain.data()[at + i] ^= block.data()[i];
    }
    {
        const secure_bytes checked = jks_impl::joined(pass, {plain.data(), plain.size()});
        const std::vector<unsigned char> computed = K::digest(hash_function::sha1, {checked.data(), checked.size()});
        jks_impl::check_key(store, entry, computed, p.check);
    }
    return jks_impl::key_contents(store, entry, std::move(plain));
}

/// The certificates of the store's trusted certificate entries, in the file's order (none when
/// it has none: the caller decides whether that is an error).
C8Y_MTLS_DECL std::vector<der_certificate> jks_trusted_certificates(const jks_store& store);

/// A device keystore in JKS: the private key entry of `alias` (or the only one), decrypted with
/// `key_password` (default: the store password), and its chain, as a PKCS#12 keystore's
/// contents. The errors of open_jks, jks_key_entry and jks_private_key.
template <class K>
keystore_contents read_jks_keystore(byte_view file, std::string_view store_password, std::string_view source,
                                    std::optional<std::string_view> alias = std::nullopt,
                                    std::optional<std::string_view> key_password = std::nullopt)
{
    const jks_store store = open_jks<K>(file, store_password, source);
    return jks_private_key<K>(store, jks_key_entry(store, alias), key_password.value_or(store_password));
}

/// A truststore in JKS: the certificates of its trusted certificate entries. The errors of
/// open_jks; truststore_empty when it has none, naming the private key entries it holds instead.
template <class K>
std::vector<der_certificate> read_jks_truststore(byte_view file, std::string_view store_password,
                                                 std::string_view source)
{
    const jks_store store = open_jks<K>(file, store_password, source);
    std::vector<der_certificate> trusted = jks_trusted_certificates(store);
    if (trusted.empty()) {
        const std::string keys = jks_impl::aliases(store, jks_entry_kind::private_key);
        throw error(errc::truststore_empty,
                    std::string(source) + ": no trusted certificate entry (keytool -importcert adds one)" +
                        (keys.empty() ? std::string("; the keystore is empty")
                                      : "; it holds the private key entries " + keys + ": a keystore, not a truststore"));
    }
    return trusted;
}

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/jks.ipp"
#endif
