// c8y-mtls: PKCS#12 keystores and truststores (RFC 7292) read entry by entry, as keytool 17 and
// openssl write them: the platform guide's `openssl pkcs12 -export -name devicekeyentry`,
// `keytool -importkeystore -deststoretype PKCS12` and `keytool -importcert` (certificate bags
// without a key, marked with Java's trusted-key-usage attribute). Pure code: the integrity MAC
// (HMAC over the PKCS#12 key derivation) takes its hash from the Crypto policy (`K::digest`),
// and what is encrypted is decrypted by `K::decrypt_pbe`.
//
// The file: PFX { version 3, authSafe ContentInfo (data: the AuthenticatedSafe's DER), MacData }.
// The AuthenticatedSafe is a sequence of ContentInfo, each a SafeContents in clear (data) or
// encrypted with the store password (encryptedData); a SafeContents is a sequence of bags: a key
// (keyBag, or pkcs8ShroudedKeyBag under its own password), a certificate (certBag), or others
// the SDK skips (CRLs, secrets, nested SafeContents are followed). Bags carry attributes: the
// alias (friendlyName), the key a certificate belongs to (localKeyId), and Java's mark of a
// trusted certificate entry (2.16.840.1.113894.746875.1.1).
#pragma once

#include "c8y/mtls/config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/jks.hpp"
#include "c8y/mtls/detail/pkcs8.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/secret.hpp"

namespace c8y::mtls::detail {

/// Whether `file` starts as a PFX does: a SEQUENCE whose first element is INTEGER 3 (either
/// length form, so that a BER file is recognised and then refused by name).
C8Y_MTLS_DECL bool looks_like_pkcs12(byte_view file) noexcept;

enum class pkcs12_bag_kind { private_key, certificate };

/// One key or certificate bag. Views point into the file's bytes or into the store's decrypted
/// SafeContents.
struct pkcs12_bag {
    pkcs12_bag_kind kind = pkcs12_bag_kind::certificate;
    std::optional<std::string> alias; ///< friendlyName, as UTF-8
    byte_view local_key_id;           ///< localKeyId: a key and its certificate share it
    bool trusted = false;             ///< Java's trusted-key-usage attribute: a trusted certificate entry
    bool shrouded = false;            ///< private key: a pkcs8ShroudedKeyBag (else a keyBag in clear)
    byte_view value;                  ///< key: EncryptedPrivateKeyInfo or PrivateKeyInfo; certificate: its DER
};

/// A PKCS#12 file whose MAC the store password confirmed (when it has one), its encrypted
/// SafeContents decrypted. Views point into the file's bytes, which must outlive it.
struct pkcs12_store {
    std::string source;
    bool integrity_checked = false; ///< false only for a file without MacData (openssl -nomac)
    std::vector<pkcs12_bag> bags;   ///< key and certificate bags, in the file's order
    std::vector<secure_bytes> decrypted; ///< the plaintexts `bags` point into
};

namespace pkcs12_impl {

/// The largest iteration count of a key derivation that is run: Java's PKCS12KeyStore refuses
/// more (MAX_ITERATION_COUNT), so no file keytool reads needs it, and a hostile count cannot
/// make a read last for hours.
inline constexpr std::uint64_t max_iterations = 5'000'000;

// How deep safeContentsBags may nest: keytool and openssl write none.
inline constexpr int max_nesting = 4;

// "SOURCE: WHAT" with the code given.
C8Y_MTLS_DECL error failure(errc code, std::string_view source, const std::string& what);

/// The input block of a hash (HMAC's and the PKCS#12 key derivation's `v`), and its output.
C8Y_MTLS_DECL std::size_t block_size(hash_function hash) noexcept;
C8Y_MTLS_DECL std::size_t output_size(hash_function hash) noexcept;

/// The MacData: HMAC with `hash` under a key derived from the password (ID 3), over the
/// authSafe's content.
struct mac_data {
    hash_function hash = hash_function::sha256;
    byte_view digest;
    byte_view salt;
    std::uint64_t iterations = 1;
};

/// The PFX framed: the authSafe's content (the AuthenticatedSafe's DER) and its MAC, nothing
/// judged that the MAC protects. keystore_malformed naming the defect; keystore_format_unsupported
/// for public-key integrity (signedData), PBMAC1, a hash the MAC cannot use, a BER encoding.
struct framed {
    byte_view auth_safe;
    std::optional<mac_data> mac;
};
C8Y_MTLS_DECL framed frame(byte_view file, std::string_view source, std::uint64_t iteration_limit);

/// The password as PKCS#12's key derivation takes it: a BMPString (UTF-16BE) with two zero
/// bytes at its end. invalid_argument when it is not UTF-8.
C8Y_MTLS_DECL secure_bytes bmp_password(std::string_view password, std::string_view source);

/// HMAC (RFC 2104) of `data` under `key` with `hash` from the Crypto policy.
template <class K>
std::vector<unsigned char> hmac(hash_function hash, byte_view key, byte_view data)
{
    const std::size_t block = block_size(hash);
    secure_bytes padded(block);
    std::fill(padded.data(), padded.data() + block, static_cast<unsigned char>(0));
    if (key.size() > block) {
        std::vector<unsigned char> hashed = K::digest(hash, key);
        std::copy(hashed.begin(), hashed.end(), padded.data());
        wipe(hashed.data(), hashed.size());
    } else {
        std::copy(key.begin(), key.end(), padded.data());
    }
    secure_bytes inner(block + data.size());
    for (std::size_t i = 0; i < block; ++i)
        inner.data()[i] = static_cast<unsigned char>(padded.data()[i] ^ 0x36);
    std::copy(data.begin(), data.end(), inner.data() + block);
    std::vector<unsigned char> inner_hash = K::digest(hash, {inner.data(), inner.size()});
    secure_bytes outer(block + inner_hash.size());
    for (std::size_t i = 0; i < block; ++i)
        outer.data()[i] = static_cast<unsigned char>(padded.data()[i] ^ 0x5C);
    std::copy(inner_hash.begin(), inner_hash.end(), outer.data() + block);
    wipe(inner_hash.data(), inner_hash.size());
    return K::digest(hash, {outer.data(), outer.size()});
}

/// PKCS#12's key derivation (RFC 7292 appendix B.2): `size` bytes for purpose `id` (3: the MAC
/// key) from the BMP password and the salt, `iterations` rounds of `hash`.
template <class K>
secure_bytes derive_key(hash_function hash, byte_view password, byte_view salt, unsigned char id,
                        std::uint64_t iterations, std::size_t size)
{
    const std::size_t u = output_size(hash);
    const std::size_t v = block_size(hash);
    const auto filled = [v](std::size_t n) { return v * ((n + v - 1) / v); };
    // D || S || P: D is v bytes of the ID; S and P each repeated to a multiple of v bytes.
    const std::size_t s_size = filled(salt.size());
    const std::size_t p_size = filled(password.size());
    secure_bytes input(v + s_size + p_size);
    unsigned char* d = input.data();
    std::fill(d, d + v, id);
    unsigned char* i_part = d + v;
    for (std::size_t k = 0; k < s_size; ++k)
        i_part[k] = salt[k % salt.size()];
    for (std::size_t k = 0; k < p_size; ++k)
        i_part[s_size + k] = password[k % password.size()];
    const std::size_t i_size = s_size + p_size;

    secure_bytes out(size);
    for (std::size_t done = 0; done < size; done += u) {
        std::vector<unsigned char> a = K::digest(hash, {input.data(), input.size()});
        for (std::uint64_t round = 1; round < iterations; ++round) {
            std::vector<unsigned char> next = K::digest(hash, a);
            wipe(a.data(), a.size());
            a = std::move(next);
        }
        std::copy(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(std::min(u, size - done)), out.data() + done);
        if (done + u < size) {
            // Each v-byte block of I becomes (I_j + B + 1) mod 2^(8v), B being A repeated.
            for (std::size_t j = 0; j < i_size; j += v) {
                unsigned carry = 1;
                for (std::size_t k = v; k-- > 0;) {
                    const unsigned sum = i_part[j + k] + a[k % u] + carry;
                    i_part[j + k] = static_cast<unsigned char>(sum);
                    carry = sum >> 8;
                }
            }
        }
        wipe(a.data(), a.size());
    }
    return out;
}

/// Throws keystore_password_wrong unless `computed` is the MAC of the file.
C8Y_MTLS_DECL void check_mac(const mac_data& mac, byte_view computed, std::string_view source);

/// One ContentInfo of the AuthenticatedSafe: a SafeContents in clear, or encrypted under
/// `algorithm` (its DER AlgorithmIdentifier, already checked by check_pbe).
struct safe_content {
    bool encrypted = false;
    byte_view algorithm;
    byte_view data; ///< the SafeContents' DER, or its ciphertext
};
C8Y_MTLS_DECL std::vector<safe_content> contents(byte_view auth_safe, std::string_view source,
                                                 std::uint64_t iteration_limit);

/// Checks a password-based encryption's AlgorithmIdentifier before anything is decrypted: PBES2
/// (PBKDF2 with HMAC-SHA-1 or HMAC-SHA-256; AES-128-CBC, AES-256-CBC or 3DES) or PKCS#12's
/// pbeWithSHAAnd3-KeyTripleDES-CBC, an iteration count of at most `iteration_limit`.
/// keystore_format_unsupported naming any other (RC2 and RC4 of `openssl pkcs12 -legacy`
/// among them); keystore_malformed for parameters out of shape. `what` names the encrypted part.
C8Y_MTLS_DECL void check_pbe(byte_view algorithm, std::string_view source, const std::string& what,
                             std::uint64_t iteration_limit);

/// Appends the key and certificate bags of a SafeContents' DER to `store`, in order (nested
/// SafeContents followed). keystore_malformed naming the defect.
C8Y_MTLS_DECL void read_bags(pkcs12_store& store, byte_view safe_contents, std::uint64_t iteration_limit, int depth = 0);

/// "the private key \"devicekeyentry\"", "certificate 2 (\"servercertificate\")", as details name a bag.
C8Y_MTLS_DECL std::string bag_name(const pkcs12_store& store, const pkcs12_bag& bag);

/// The aliases of the private keys (or of the trusted certificates), quoted, at most ten and
/// then how many more.
C8Y_MTLS_DECL std::string aliases(const pkcs12_store& store, pkcs12_bag_kind kind, bool trusted = false);

/// Throws unless a decrypted key bag is a PKCS#8 RSA or EC key: key_password_wrong when it is
/// no PrivateKeyInfo at all (a wrong password whose padding happened to check),
/// private_key_malformed for a key of another kind.
C8Y_MTLS_DECL void check_key(const pkcs12_store& store, const pkcs12_bag& key, byte_view pkcs8);

/// The certificate of the key's localKeyId, or null when the key has none or no certificate
/// shares it.
C8Y_MTLS_DECL const pkcs12_bag* certificate_by_key_id(const pkcs12_store& store, const pkcs12_bag& key);

/// The key with its certificate and that certificate's issuers among the file's other
/// certificates, in chain order, as Java's PKCS12KeyStore builds the chain (by issuer and
/// subject names, up to a self-issued one); no_certificate when `certificate` is null.
C8Y_MTLS_DECL keystore_contents key_contents(const pkcs12_store& store, const pkcs12_bag& key, secure_bytes pkcs8,
                                             const pkcs12_bag* certificate);

} // namespace pkcs12_impl

/// Opens a PKCS#12 file: frames it, checks its MAC with `store_password` before anything else
/// is believed (keystore_password_wrong: the password, or a file altered since), then decrypts
/// its encrypted SafeContents with the same password and reads its bags. An algorithm the SDK
/// does not read: keystore_format_unsupported; any defect, a truncation included:
/// keystore_malformed. Details name `source`. Iteration counts above `iteration_limit` are
/// refused before any derivation runs. Allocates a small multiple of the file's size at most.
template <class K>
pkcs12_store open_pkcs12(byte_view file, std::string_view store_password, std::string_view source,
                         std::uint64_t iteration_limit = pkcs12_impl::max_iterations)
{
    using namespace pkcs12_impl;
    const framed f = frame(file, source, iteration_limit);
    pkcs12_store store;
    store.source = std::string(source);
    if (f.mac) {
        const secure_bytes password = bmp_password(store_password, source);
        const secure_bytes key = derive_key<K>(f.mac->hash, {password.data(), password.size()}, f.mac->salt, 3,
                                               f.mac->iterations, output_size(f.mac->hash));
        std::vector<unsigned char> computed = hmac<K>(f.mac->hash, {key.data(), key.size()}, f.auth_safe);
        check_mac(*f.mac, computed, source);
        store.integrity_checked = true;
    }
    std::size_t number = 0;
    for (const safe_content& c : contents(f.auth_safe, source, iteration_limit)) {
        ++number;
        if (!c.encrypted) {
            read_bags(store, c.data, iteration_limit);
            continue;
        }
        std::optional<secure_bytes> plain = K::decrypt_pbe(c.algorithm, c.data, store_password);
        if (!plain) {
            const std::string which = "its encrypted SafeContents (ContentInfo " + std::to_string(number) + ")";
            if (store.integrity_checked)
                throw failure(errc::keystore_malformed, source,
                              which + " does not decrypt with the store password its MAC confirmed");
            throw failure(errc::keystore_password_wrong, source,
                          which + " does not decrypt with this store password (the file has no MAC to tell "
                                  "a wrong password from an altered file)");
        }
        store.decrypted.push_back(std::move(*plain));
        const secure_bytes& kept = store.decrypted.back();
        read_bags(store, {kept.data(), kept.size()}, iteration_limit);
    }
    return store;
}

/// The private key bag of `alias` (its friendlyName, ignoring ASCII case as Java's
/// PKCS12KeyStore does), or without an alias the file's only one. Throws keystore_alias_missing
/// listing the file's private keys when there is no such bag, or several and no alias.
C8Y_MTLS_DECL const pkcs12_bag& pkcs12_key_entry(const pkcs12_store& store, std::optional<std::string_view> alias);

/// A key bag's key, decrypted with `key_password` (the store password unless the key has one of
/// its own), as PKCS#8 in wiped memory, with its certificate and that certificate's issuers.
/// key_password_wrong when it does not decrypt; and the errors of pkcs12_impl::key_contents.
template <class K>
keystore_contents pkcs12_private_key(const pkcs12_store& store, const pkcs12_bag& key, std::string_view key_password,
                                     std::uint64_t iteration_limit = pkcs12_impl::max_iterations)
{
    using namespace pkcs12_impl;
    secure_bytes plain;
    if (!key.shrouded) {
        plain = secure_bytes(key.value.data(), key.value.size());
    } else {
        der::reader outer(key.value);
        der::element info, algorithm, data;
        der::reader fields({});
        const char* why = outer.next(der::sequence, info);
        if (why == nullptr && !outer.empty())
            why = "bytes after its EncryptedPrivateKeyInfo";
        if (why == nullptr) {
            fields = der::reader(info.value);
            why = fields.next(der::sequence, algorithm);
        }
        if (why == nullptr)
            why = fields.next(der::octet_string, data);
        if (why == nullptr && !fields.empty())
            why = "fields after the encrypted key";
        if (why != nullptr)
            throw failure(errc::keystore_malformed, store.source,
                          bag_name(store, key) + " is not an EncryptedPrivateKeyInfo: " + why);
        check_pbe(algorithm.whole, store.source, bag_name(store, key), iteration_limit);
        std::optional<secure_bytes> decrypted = K::decrypt_pbe(algorithm.whole, data.value, key_password);
        if (!decrypted)
            throw failure(errc::key_password_wrong, store.source,
                          bag_name(store, key) +
                              ": the key password does not decrypt it (the store password unless the key was "
                              "given one of its own; keytool uses the store password for PKCS#12)");
        plain = std::move(*decrypted);
    }
    const byte_view pkcs8(plain.data(), plain.size());
    check_key(store, key, pkcs8);
    const pkcs12_bag* certificate = certificate_by_key_id(store, key);
    for (std::size_t i = 0; certificate == nullptr && i < store.bags.size(); ++i) {
        // No localKeyId to go by: the certificate whose public key is the key's.
        const pkcs12_bag& bag = store.bags[i];
        parsed_certificate parsed;
        if (bag.kind == pkcs12_bag_kind::certificate && !bag.trusted && parse_certificate(bag.value, parsed).empty() &&
            K::private_key_matches(pkcs8, parsed.public_key_info) == key_match::matches)
            certificate = &bag;
    }
    return key_contents(store, key, std::move(plain), certificate);
}

/// The certificates of the trusted certificate entries (certificate bags with Java's
/// trusted-key-usage attribute), in the file's order; none when it has none.
C8Y_MTLS_DECL std::vector<der_certificate> pkcs12_trusted_certificates(const pkcs12_store& store);

/// A device keystore in PKCS#12: the key of `alias` (or the only one), decrypted with
/// `key_password` (default: the store password), and its chain. The errors of open_pkcs12,
/// pkcs12_key_entry and pkcs12_private_key.
template <class K>
keystore_contents read_pkcs12_keystore(byte_view file, std::string_view store_password, std::string_view source,
                                       std::optional<std::string_view> alias = std::nullopt,
                                       std::optional<std::string_view> key_password = std::nullopt)
{
    const pkcs12_store store = open_pkcs12<K>(file, store_password, source);
    return pkcs12_private_key<K>(store, pkcs12_key_entry(store, alias), key_password.value_or(store_password));
}

/// Why a PKCS#12 file or JKS holds no trusted certificate entry, for truststore_empty: its
/// private keys, or certificates without Java's mark.
C8Y_MTLS_DECL std::string pkcs12_no_trusted_entry(const pkcs12_store& store);

/// A truststore in PKCS#12: the certificates of its trusted certificate entries. The errors of
/// open_pkcs12; truststore_empty naming what the file holds instead when it has none.
template <class K>
std::vector<der_certificate> read_pkcs12_truststore(byte_view file, std::string_view store_password,
                                                    std::string_view source)
{
    const pkcs12_store store = open_pkcs12<K>(file, store_password, source);
    std::vector<der_certificate> trusted = pkcs12_trusted_certificates(store);
    if (trusted.empty())
        throw error(errc::truststore_empty, pkcs12_no_trusted_entry(store));
    return trusted;
}

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/pkcs12.ipp"
#endif
