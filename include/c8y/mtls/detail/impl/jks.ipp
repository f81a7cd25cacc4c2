// c8y-mtls: the definitions jks.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/jks.hpp"

#include <algorithm>

namespace c8y::mtls::detail::jks_impl {

inline constexpr std::uint32_t jks_magic = 0xFEEDFEED;
inline constexpr std::uint32_t jceks_magic = 0xCECECECE;
inline constexpr std::uint32_t private_key_tag = 1;
inline constexpr std::uint32_t trusted_certificate_tag = 2;
inline constexpr std::uint32_t secret_key_tag = 3;
// Sun's KeyProtector, 1.3.6.1.4.1.42.2.17.1.1.
inline constexpr unsigned char key_protector_oid[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x2A, 0x02, 0x11, 0x01, 0x01};

// JavaKeyStore folds aliases to lower case (Locale.ENGLISH); ASCII is what keytool users type.
inline constexpr char folded(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

C8Y_MTLS_DECL error failure(errc code, std::string_view source, const std::string& what)
{
    return error(code, std::string(source) + ": " + what);
}

C8Y_MTLS_DECL std::uint64_t cursor::number(std::size_t size, const std::string& what)
{
    if (left() < size)
        throw failure(errc::keystore_malformed, source_,
                      what + " at byte " + std::to_string(at_) + " is missing: " + std::to_string(left()) + " of its " +
                          std::to_string(size) + " bytes remain before the file's last 20 (its digest); the file is " +
                          "cut short or altered");
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i)
        value = (value << 8) | data_[at_ + i];
    at_ += size;
    return value;
}

C8Y_MTLS_DECL byte_view cursor::bytes(std::uint64_t size, const std::string& what)
{
    if (left() < size)
        throw failure(errc::keystore_malformed, source_,
                      what + " at byte " + std::to_string(at_) + " claims " + std::to_string(size) + " bytes, but " +
                          std::to_string(left()) + " remain before the file's last 20 (its digest); the file is " +
                          "cut short or altered");
    const byte_view out = data_.subspan(at_, static_cast<std::size_t>(size));
    at_ += out.size();
    return out;
}

C8Y_MTLS_DECL std::optional<std::string> alias_text(byte_view in)
{
    // UTF-16 code units first, as DataInputStream.readUTF decodes them (it accepts overlong
    // forms such as C0 80, Java's encoding of U+0000).
    std::vector<std::uint16_t> units;
    units.reserve(in.size());
    for (std::size_t i = 0; i < in.size();) {
        const unsigned char b = in[i];
        const auto continuation = [&](std::size_t k) { return k < in.size() && (in[k] & 0xC0) == 0x80; };
        if (b < 0x80) {
            units.push_back(b);
            i += 1;
        } else if ((b & 0xE0) == 0xC0 && continuation(i + 1)) {
            units.push_back(static_cast<std::uint16_t>(((b & 0x1F) << 6) | (in[i + 1] & 0x3F)));
            i += 2;
        } else if ((b & 0xF0) == 0xE0 && continuation(i + 1) && continuation(i + 2)) {
            units.push_back(
                static_cast<std::uint16_t>(((b & 0x0F) << 12) | ((in[i + 1] & 0x3F) << 6) | (in[i + 2] & 0x3F)));
            i += 3;
        } else {
            return std::nullopt;
        }
    }
    std::string out;
    for (std::size_t i = 0; i < units.size(); ++i) {
        const std::uint32_t u = units[i];
        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units.size() && units[i + 1] >= 0xDC00 && units[i + 1] <= 0xDFFF) {
            append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00u));
            ++i;
        } else if (u >= 0xD800 && u <= 0xDFFF) {
            append_utf8(out, 0xFFFD);
        } else {
            append_utf8(out, u);
        }
    }
    return out;
}

C8Y_MTLS_DECL std::string entry_name(const jks_store& store, const jks_entry& entry)
{
    const auto index = static_cast<std::size_t>(&entry - store.entries.data());
    return "entry " + std::to_string(index + 1) + " (" + detail::quoted(entry.alias) + ")";
}

C8Y_MTLS_DECL std::string aliases(const jks_store& store, jks_entry_kind kind)
{
    constexpr std::size_t shown = 10;
    std::string out;
    std::size_t count = 0;
    for (const jks_entry& e : store.entries) {
        if (e.kind != kind)
            continue;
        if (count < shown)
            out += (count == 0 ? "" : ", ") + detail::quoted(e.alias);
        ++count;
    }
    if (count > shown)
        out += " and " + std::to_string(count - shown) + " more";
    return out;
}

C8Y_MTLS_DECL bool same_digest(byte_view a, byte_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    unsigned char differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        differ |= static_cast<unsigned char>(a[i] ^ b[i]);
    return differ == 0;
}

C8Y_MTLS_DECL framed frame(byte_view file, std::string_view source)
{
    switch (jks_format(file)) {
    case java_keystore_format::jks:
        break;
    case java_keystore_format::jceks:
        throw failure(errc::keystore_format_unsupported, source,
                      "a JCEKS keystore (magic 0xCECECECE), not JKS; convert it with keytool -importkeystore "
                      "-srcstoretype JCEKS -deststoretype PKCS12");
    case java_keystore_format::none:
        throw failure(errc::keystore_malformed, source, "not a Java keystore (a JKS starts with 0xFEEDFEED)");
    }
    constexpr std::size_t header = 12;
    if (file.size() < header + digest_size)
        throw failure(errc::keystore_malformed, source,
                      "a JKS of " + std::to_string(file.size()) +
                          " bytes is cut short (its header and digest alone take 32 bytes)");

    framed out;
    out.store.source = std::string(source);
    out.signed_part = file.first(file.size() - digest_size);
    out.digest = file.last(digest_size);
    cursor in(out.signed_part, source);
    in.number(4, "magic");
    const std::uint64_t version = in.number(4, "version");
    if (version != 1 && version != 2)
        throw failure(errc::keystore_format_unsupported, source,
                      "JKS version " + std::to_string(version) + " (versions 1 and 2 are read)");
    out.store.version = static_cast<std::uint32_t>(version);
    const std::uint64_t count = in.number(4, "entry count");
    if (count > in.left() / smallest_entry)
        throw failure(errc::keystore_malformed, source,
                      "claims " + std::to_string(count) + " entries, but the " + std::to_string(in.left()) +
                          " bytes before its digest hold at most " + std::to_string(in.left() / smallest_entry));
    out.store.entries.reserve(static_cast<std::size_t>(count));

    const auto certificate = [&](jks_entry& entry, const std::string& which) {
        if (version == 2) {
            const byte_view type = in.bytes(in.number(2, which + "'s type length"), which + "'s type");
            const std::string_view text(reinterpret_cast<const char*>(type.data()), type.size());
            if (text != "X.509")
                throw failure(errc::keystore_format_unsupported, source,
                              which + " is of type " + detail::quoted(text) + " (only X.509 certificates are read)");
        }
        entry.certificates.push_back(in.bytes(in.number(4, which + "'s length"), which));
    };

    for (std::uint64_t n = 1; n <= count; ++n) {
        const std::string number = "entry " + std::to_string(n);
        const std::size_t tag_at = in.offset();
        const std::uint64_t tag = in.number(4, number + "'s tag");
        if (tag == secret_key_tag)
            throw failure(errc::keystore_malformed, source,
                          number + " at byte " + std::to_string(tag_at) +
                              " is a secret key entry (tag 3), which only JCEKS keystores hold");
        if (tag != private_key_tag && tag != trusted_certificate_tag)
            throw failure(errc::keystore_malformed, source,
                          number + " at byte " + std::to_string(tag_at) + " has tag " + std::to_string(tag) +
                              " (1: private key, 2: trusted certificate)");
        const std::size_t alias_at = in.offset() + 2;
        const byte_view alias_bytes = in.bytes(in.number(2, number + "'s alias length"), number + "'s alias");
        std::optional<std::string> alias = alias_text(alias_bytes);
        if (!alias)
            throw failure(errc::keystore_malformed, source,
                          number + "'s alias at byte " + std::to_string(alias_at) + " is not Java's modified UTF-8");
        jks_entry& entry = out.store.entries.emplace_back();
        entry.alias = std::move(*alias);
        entry.created = std::chrono::sys_time<std::chrono::milliseconds>(
            std::chrono::milliseconds(static_cast<std::int64_t>(in.number(8, number + "'s timestamp"))));
        const std::string name = entry_name(out.store, entry);
        if (tag == private_key_tag) {
            entry.kind = jks_entry_kind::private_key;
            entry.protected_key = in.bytes(in.number(4, name + "'s protected key length"), name + "'s protected key");
            const std::uint64_t chain = in.number(4, name + "'s chain length");
            const std::size_t smallest_certificate = version == 2 ? 6 : 4;
            if (chain > in.left() / smallest_certificate)
                throw failure(errc::keystore_malformed, source,
                              name + " claims a chain of " + std::to_string(chain) + " certificates, but the " +
                                  std::to_string(in.left()) + " bytes left hold at most " +
                                  std::to_string(in.left() / smallest_certificate));
            entry.certificates.reserve(static_cast<std::size_t>(chain));
            for (std::uint64_t k = 1; k <= chain; ++k)
                certificate(entry, name + "'s certificate " + std::to_string(k));
        } else {
            entry.kind = jks_entry_kind::trusted_certificate;
            certificate(entry, name + "'s certificate");
        }
    }
    if (in.left() != 0)
        throw failure(errc::keystore_malformed, source,
                      std::to_string(in.left()) + " bytes after the last of its " + std::to_string(count) +
                          " entries, before the digest");
    return out;
}

C8Y_MTLS_DECL secure_bytes utf16be(std::string_view password, std::string_view source)
{
    secure_bytes out(password.size() * 2);
    std::size_t n = 0;
    const auto put = [&](std::uint32_t unit) {
        out.data()[n++] = static_cast<unsigned char>(unit >> 8);
        out.data()[n++] = static_cast<unsigned char>(unit);
    };
    for (std::size_t i = 0; i < password.size();) {
        const std::size_t length = utf8_sequence_length(password.substr(i));
        if (length == 0)
            throw failure(errc::invalid_argument, source, "the password is not UTF-8 text");
        const auto byte = [&](std::size_t k) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(password[i + k]));
        };
        std::uint32_t cp = length == 1   ? byte(0)
                           : length == 2 ? (byte(0) & 0x1F) << 6
                           : length == 3 ? (byte(0) & 0x0F) << 12
                                         : (byte(0) & 0x07) << 18;
        for (std::size_t k = 1; k < length; ++k)
            cp |= (byte(k) & 0x3F) << (6 * (length - 1 - k));
        if (cp >= 0x10000) {
            put(0xD800 + ((cp - 0x10000) >> 10));
            put(0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            put(cp);
        }
        i += length;
    }
    out.truncate(n);
    return out;
}

C8Y_MTLS_DECL secure_bytes joined(byte_view first, byte_view second)
{
    secure_bytes out(first.size() + second.size());
    std::copy(first.begin(), first.end(), out.data());
    std::copy(second.begin(), second.end(), out.data() + first.size());
    return out;
}

C8Y_MTLS_DECL void check_integrity(const framed& f, byte_view computed)
{
    if (!same_digest(computed, f.digest))
        throw failure(errc::keystore_password_wrong, f.store.source,
                      "its integrity digest does not match this store password (keytool's -storepass); "
                      "if the password is right, the file was altered after keytool wrote it");
}

C8Y_MTLS_DECL void check_entries(const jks_store& store)
{
    for (const jks_entry& entry : store.entries) {
        for (std::size_t k = 0; k < entry.certificates.size(); ++k) {
            der::reader r(entry.certificates[k]);
            der::element e;
            const char* why = r.next(der::sequence, e);
            if (why == nullptr && !r.empty())
                why = "bytes after its SEQUENCE";
            if (why != nullptr)
                throw failure(errc::keystore_malformed, store.source,
                              entry_name(store, entry) + "'s certificate" +
                                  (entry.kind == jks_entry_kind::private_key ? " " + std::to_string(k + 1) : "") +
                                  " is not a DER certificate: " + why);
        }
    }
    // JavaKeyStore keeps one entry per alias, folded to lower case; keytool never writes two.
    std::vector<std::pair<std::string, const jks_entry*>> by_alias;
    by_alias.reserve(store.entries.size());
    for (const jks_entry& entry : store.entries) {
        std::string key = entry.alias;
        std::transform(key.begin(), key.end(), key.begin(), [](char c) { return folded(c); });
        by_alias.emplace_back(std::move(key), &entry);
    }
    std::sort(by_alias.begin(), by_alias.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second < b.second;
    });
    for (std::size_t i = 1; i < by_alias.size(); ++i)
        if (by_alias[i].first == by_alias[i - 1].first)
            throw failure(errc::keystore_malformed, store.source,
                          entry_name(store, *by_alias[i - 1].second) + " and " +
                              entry_name(store, *by_alias[i].second) + " have the same alias (keytool never writes two)");
}

C8Y_MTLS_DECL protected_key key_protection(const jks_store& store, const jks_entry& entry)
{
    const std::string name = entry_name(store, entry);
    if (entry.kind != jks_entry_kind::private_key)
        throw failure(errc::invalid_argument, store.source,
                      name + " is a trusted certificate entry, not a private key");
    const auto malformed = [&](const std::string& what) {
        return failure(errc::keystore_malformed, store.source, name + "'s protected key " + what);
    };
    der::reader outer(entry.protected_key);
    der::element info, algorithm, oid, data;
    if (const char* why = outer.next(der::sequence, info))
        throw malformed(std::string("is not an EncryptedPrivateKeyInfo: ") + why);
    if (!outer.empty())
        throw malformed("has bytes after its EncryptedPrivateKeyInfo");
    der::reader fields(info.value);
    const char* why = fields.next(der::sequence, algorithm);
    if (why == nullptr)
        why = fields.next(der::octet_string, data);
    if (why == nullptr && !fields.empty())
        why = "fields after the encrypted data";
    der::reader algorithm_fields(algorithm.value);
    if (why == nullptr)
        why = algorithm_fields.next(der::object_identifier, oid);
    if (why != nullptr)
        throw malformed(std::string("is not an EncryptedPrivateKeyInfo: ") + why);
    if (!same_bytes(oid.value, key_protector_oid))
        throw failure(errc::keystore_format_unsupported, store.source,
                      name + "'s key is protected by " +
                          (oid.value.size() > 32 ? "an OID of " + std::to_string(oid.value.size()) + " bytes"
                                                 : der::oid_text(oid.value)) +
                          ", not Sun's KeyProtector (1.3.6.1.4.1.42.2.17.1.1) that JKS uses");
    if (data.value.size() <= 2 * digest_size)
        throw malformed("holds " + std::to_string(data.value.size()) +
                        " bytes, too few for KeyProtector's 20-byte salt, a key and a 20-byte check");
    protected_key out;
    out.salt = data.value.first(digest_size);
    out.encrypted = data.value.subspan(digest_size, data.value.size() - 2 * digest_size);
    out.check = data.value.last(digest_size);
    return out;
}

C8Y_MTLS_DECL void check_key(const jks_store& store, const jks_entry& entry, byte_view computed, byte_view check)
{
    if (!same_digest(computed, check))
        throw failure(errc::key_password_wrong, store.source,
                      entry_name(store, entry) +
                          ": the key password does not decrypt its private key (keytool's -keypass or "
                          "-destkeypass; the store password when none was given)");
}

C8Y_MTLS_DECL keystore_contents key_contents(const jks_store& store, const jks_entry& entry, secure_bytes pkcs8)
{
    if (!read_pkcs8({pkcs8.data(), pkcs8.size()}))
        throw failure(errc::private_key_malformed, store.source,
                      entry_name(store, entry) + "'s key decrypts, but to no PKCS#8 RSA or EC private key");
    if (entry.certificates.empty())
        throw failure(errc::no_certificate, store.source,
                      entry_name(store, entry) + " has no certificate with its private key");
    keystore_contents out;
    out.private_key = std::move(pkcs8);
    out.certificate.assign(entry.certificates.front().begin(), entry.certificates.front().end());
    for (std::size_t k = 1; k < entry.certificates.size(); ++k)
        out.others.emplace_back(entry.certificates[k].begin(), entry.certificates[k].end());
    return out;
}

} // namespace c8y::mtls::detail::jks_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL java_keystore_format jks_format(byte_view file) noexcept
{
    if (file.size() < 4)
        return java_keystore_format::none;
    const std::uint32_t magic = (std::uint32_t{file[0]} << 24) | (std::uint32_t{file[1]} << 16) |
                                (std::uint32_t{file[2]} << 8) | file[3];
    return magic == jks_impl::jks_magic     ? java_keystore_format::jks
           : magic == jks_impl::jceks_magic ? java_keystore_format::jceks
                                            : java_keystore_format::none;
}

C8Y_MTLS_DECL const jks_entry& jks_key_entry(const jks_store& store, std::optional<std::string_view> alias)
{
    using jks_impl::failure;
    const std::string keys = jks_impl::aliases(store, jks_entry_kind::private_key);
    const std::string listed = keys.empty() ? "it has no private key entry" : "its private key entries: " + keys;
    if (alias) {
        const auto same = [&](const std::string& a) {
            return a.size() == alias->size() && std::equal(a.begin(), a.end(), alias->begin(), [](char x, char y) {
                       return jks_impl::folded(x) == jks_impl::folded(y);
                   });
        };
        for (const jks_entry& e : store.entries) {
            if (!same(e.alias))
                continue;
            if (e.kind != jks_entry_kind::private_key)
                throw failure(errc::keystore_alias_missing, store.source,
                              detail::quoted(*alias) + " is a trusted certificate entry, not a private key entry; " + listed);
            return e;
        }
        throw failure(errc::keystore_alias_missing, store.source, "no entry " + detail::quoted(*alias) + "; " + listed);
    }
    const jks_entry* found = nullptr;
    std::size_t count = 0;
    for (const jks_entry& e : store.entries) {
        if (e.kind == jks_entry_kind::private_key) {
            found = found ? found : &e;
            ++count;
        }
    }
    if (count == 1)
        return *found;
    if (count == 0) {
        const std::string trusted = jks_impl::aliases(store, jks_entry_kind::trusted_certificate);
        throw failure(errc::keystore_alias_missing, store.source,
                      "no private key entry" +
                          (trusted.empty() ? std::string(": the keystore is empty")
                                           : " (trusted certificate entries only: " + trusted +
                                                 "): a truststore, not a keystore"));
    }
    throw failure(errc::keystore_alias_missing, store.source,
                  std::to_string(count) + " private key entries and no alias to choose one; " + listed);
}

C8Y_MTLS_DECL std::vector<der_certificate> jks_trusted_certificates(const jks_store& store)
{
    std::vector<der_certificate> out;
    for (const jks_entry& e : store.entries)
        if (e.kind == jks_entry_kind::trusted_certificate)
            out.emplace_back(e.certificates.front().begin(), e.certificates.front().end());
    return out;
}

} // namespace c8y::mtls::detail
