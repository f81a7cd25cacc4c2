// c8y-mtls: the definitions pkcs12.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/pkcs12.hpp"

#include <algorithm>

namespace c8y::mtls::detail::pkcs12_impl {

// Content octets of the object identifiers of PKCS#12, PKCS#7 and PKCS#5 the reader knows.
inline constexpr unsigned char data_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
inline constexpr unsigned char signed_data_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
inline constexpr unsigned char enveloped_data_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03};
inline constexpr unsigned char encrypted_data_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x06};
// 1.2.840.113549.1.12.10.1.N: the bag types.
inline constexpr unsigned char bag_prefix[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01};
inline constexpr unsigned char key_bag = 1;
inline constexpr unsigned char shrouded_key_bag = 2;
inline constexpr unsigned char cert_bag = 3;
inline constexpr unsigned char safe_contents_bag = 6;
inline constexpr unsigned char x509_certificate_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x16, 0x01};
inline constexpr unsigned char friendly_name_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x14};
inline constexpr unsigned char local_key_id_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x15};
// 2.16.840.1.113894.746875.1.1: Oracle's "trusted key usage", which keytool -importcert puts on
// a certificate bag to make it a trusted certificate entry.
inline constexpr unsigned char trusted_key_usage_oid[] = {0x60, 0x86, 0x48, 0x01, 0x86, 0xF9,
                                                          0x66, 0xAD, 0xCA, 0x7B, 0x01, 0x01};
inline constexpr unsigned char pbes2_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D};
inline constexpr unsigned char pbkdf2_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C};
inline constexpr unsigned char pbmac1_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0E};
inline constexpr unsigned char pbes1_prefix[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05};
// 1.2.840.113549.1.12.1.N: PKCS#12's own password-based encryption.
inline constexpr unsigned char pkcs12_pbe_prefix[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01};
inline constexpr unsigned char hmac_prefix[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02}; // 1.2.840.113549.2.N
inline constexpr unsigned char aes_prefix[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01}; // 2.16.840.1.101.3.4.1.N
inline constexpr unsigned char des_ede3_cbc_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x03, 0x07};

// Whether `oid` is `prefix` followed by one arc below 128, which `last` receives.
inline bool arc_after(byte_view oid, byte_view prefix, unsigned char& last) noexcept
{
    if (oid.size() != prefix.size() + 1 || !same_bytes(oid.first(prefix.size()), prefix) || oid.back() >= 0x80)
        return false;
    last = oid.back();
    return true;
}

inline std::string oid_name(byte_view oid)
{
    return oid.size() > 32 ? "an OID of " + std::to_string(oid.size()) + " bytes" : der::oid_text(oid);
}

inline std::string iteration_words(std::uint64_t limit)
{
    return "at most " + std::to_string(limit) + " are run (Java's PKCS12KeyStore refuses more too)";
}

C8Y_MTLS_DECL error failure(errc code, std::string_view source, const std::string& what)
{
    return error(code, std::string(source) + ": " + what);
}

C8Y_MTLS_DECL std::size_t block_size(hash_function hash) noexcept
{
    return hash == hash_function::sha384 || hash == hash_function::sha512 ? 128 : 64;
}

C8Y_MTLS_DECL std::size_t output_size(hash_function hash) noexcept
{
    switch (hash) {
    case hash_function::md5: return 16;
    case hash_function::sha1: return 20;
    case hash_function::sha224: return 28;
    case hash_function::sha256: return 32;
    case hash_function::sha384: return 48;
    case hash_function::sha512: return 64;
    }
    return 0;
}

C8Y_MTLS_DECL framed frame(byte_view file, std::string_view source, std::uint64_t iteration_limit)
{
    const auto malformed = [&](const std::string& what) { return failure(errc::keystore_malformed, source, what); };
    if (!looks_like_pkcs12(file))
        throw malformed("not a PKCS#12 file (a DER SEQUENCE starting with version 3)");
    if (file[1] == 0x80)
        throw failure(errc::keystore_format_unsupported, source,
                      "a PKCS#12 file in BER with indefinite lengths, which the SDK does not read; convert it "
                      "to DER with openssl pkcs12 (read, then -export) or keytool -importkeystore");
    der::reader top(file);
    der::element pfx;
    if (const char* why = top.next(der::sequence, pfx))
        throw malformed(std::string("its PFX is cut short or not DER: ") + why);
    if (!top.empty())
        throw malformed(std::to_string(file.size() - pfx.whole.size()) + " bytes after its PFX");

    der::reader fields(pfx.value);
    der::element version, content_info, type, explicit_content, auth_safe;
    const char* why = fields.next(der::integer, version);
    if (why == nullptr)
        why = fields.next(der::sequence, content_info);
    if (why != nullptr)
        throw malformed(std::string("its PFX is not a version and a ContentInfo: ") + why);
    if (x509_impl::small_integer(version.value) != std::uint64_t{3})
        throw failure(errc::keystore_format_unsupported, source, "a PFX of another version than 3");
    der::reader content(content_info.value);
    if (const char* bad = content.next(der::object_identifier, type))
        throw malformed(std::string("its authSafe has no content type: ") + bad);
    if (same_bytes(type.value, signed_data_oid))
        throw failure(errc::keystore_format_unsupported, source,
                      "its integrity is a public-key signature (signedData), not a password MAC");
    if (!same_bytes(type.value, data_oid))
        throw malformed("its authSafe is of content type " + oid_name(type.value) + ", not data");
    why = content.next(der::context_0, explicit_content);
    der::reader inner(explicit_content.value);
    if (why == nullptr && inner.next_is(0x24))
        throw failure(errc::keystore_format_unsupported, source,
                      "its authSafe is a constructed (BER) OCTET STRING, which the SDK does not read");
    if (why == nullptr)
        why = inner.next(der::octet_string, auth_safe);
    if (why == nullptr && (!inner.empty() || !content.empty()))
        why = "bytes after its content";
    if (why != nullptr)
        throw malformed(std::string("its authSafe is not data in an OCTET STRING: ") + why);

    framed out;
    out.auth_safe = auth_safe.value;
    if (fields.empty())
        return out; // no MacData: openssl pkcs12 -nomac, or Java's password-less truststore
    der::element mac_data_element, digest_info, algorithm, algorithm_oid, digest, salt, iterations;
    why = fields.next(der::sequence, mac_data_element);
    if (why == nullptr && !fields.empty())
        why = "bytes after its MacData";
    der::reader mac_fields(mac_data_element.value);
    if (why == nullptr)
        why = mac_fields.next(der::sequence, digest_info);
    if (why == nullptr)
        why = mac_fields.next(der::octet_string, salt);
    if (why == nullptr && !mac_fields.empty())
        why = mac_fields.next(der::integer, iterations);
    if (why == nullptr && !mac_fields.empty())
        why = "bytes after the iteration count";
    der::reader info_fields(digest_info.value);
    if (why == nullptr)
        why = info_fields.next(der::sequence, algorithm);
    if (why == nullptr)
        why = info_fields.next(der::octet_string, digest);
    if (why == nullptr && !info_fields.empty())
        why = "bytes after the MAC";
    der::reader algorithm_fields(algorithm.value);
    if (why == nullptr)
        why = algorithm_fields.next(der::object_identifier, algorithm_oid);
    if (why != nullptr)
        throw malformed(std::string("its MacData is not a MAC, a salt and an iteration count: ") + why);

    mac_data mac;
    if (same_bytes(algorithm_oid.value, pbmac1_oid))
        throw failure(errc::keystore_format_unsupported, source,
                      "its MAC is PBMAC1 (RFC 9579, openssl pkcs12 -pbmac1), which the SDK does not read");
    const std::optional<hash_function> hash = x509_impl::hash_algorithm(algorithm.whole);
    if (!hash || *hash == hash_function::md5)
        throw failure(errc::keystore_format_unsupported, source,
                      "its MAC uses " + (hash ? std::string("MD5") : oid_name(algorithm_oid.value)) +
                          " (SHA-1 and SHA-2 are read)");
    mac.hash = *hash;
    if (digest.value.size() != output_size(mac.hash))
        throw malformed("its MAC has " + std::to_string(digest.value.size()) + " bytes, not the " +
                        std::to_string(output_size(mac.hash)) + " of its hash");
    mac.digest = digest.value;
    mac.salt = salt.value;
    if (!iterations.value.empty()) {
        const std::optional<std::uint64_t> count = x509_impl::small_integer(iterations.value);
        if (!count || *count == 0)
            throw malformed("its MAC's iteration count is not a positive number");
        if (*count > iteration_limit)
            throw failure(errc::keystore_format_unsupported, source,
                          "its MAC claims " + std::to_string(*count) + " iterations; " +
                              iteration_words(iteration_limit));
        mac.iterations = *count;
    }
    out.mac = mac;
    return out;
}

C8Y_MTLS_DECL secure_bytes bmp_password(std::string_view password, std::string_view source)
{
    const secure_bytes units = jks_impl::utf16be(password, source);
    secure_bytes out(units.size() + 2);
    std::copy(units.data(), units.data() + units.size(), out.data());
    out.data()[units.size()] = 0;
    out.data()[units.size() + 1] = 0;
    return out;
}

C8Y_MTLS_DECL void check_mac(const mac_data& mac, byte_view computed, std::string_view source)
{
    if (!jks_impl::same_digest(computed, mac.digest))
        throw failure(errc::keystore_password_wrong, source,
                      std::string("its integrity MAC (HMAC-") + hash_text(mac.hash) +
                          ") does not match this store password (keytool's -storepass, openssl pkcs12's "
                          "-passout); if the password is right, the file was altered after it was written");
}

C8Y_MTLS_DECL std::vector<safe_content> contents(byte_view auth_safe, std::string_view source,
                                                 std::uint64_t iteration_limit)
{
    const auto malformed = [&](const std::string& what) { return failure(errc::keystore_malformed, source, what); };
    der::reader top(auth_safe);
    der::element sequence;
    if (const char* why = top.next(der::sequence, sequence))
        throw malformed(std::string("its AuthenticatedSafe is not a SEQUENCE of ContentInfo: ") + why);
    if (!top.empty())
        throw malformed("bytes after its AuthenticatedSafe");
    std::vector<safe_content> out;
    der::reader items(sequence.value);
    for (std::size_t n = 1; !items.empty(); ++n) {
        const std::string which = "ContentInfo " + std::to_string(n) + " of its AuthenticatedSafe";
        der::element info, type, explicit_content;
        const char* why = items.next(der::sequence, info);
        der::reader fields(info.value);
        if (why == nullptr)
            why = fields.next(der::object_identifier, type);
        if (why == nullptr)
            why = fields.next(der::context_0, explicit_content);
        if (why == nullptr && !fields.empty())
            why = "bytes after its content";
        if (why != nullptr)
            throw malformed(which + " is not a content type and its content: " + why);
        der::reader inner(explicit_content.value);
        if (same_bytes(type.value, data_oid)) {
            der::element octets;
            why = inner.next(der::octet_string, octets);
            if (why == nullptr && !inner.empty())
                why = "bytes after the OCTET STRING";
            if (why != nullptr)
                throw malformed(which + " (data) is not an OCTET STRING: " + why);
            out.push_back({false, {}, octets.value});
        } else if (same_bytes(type.value, encrypted_data_oid)) {
            der::element encrypted_data, version, content_info, content_type, algorithm, encrypted;
            why = inner.next(der::sequence, encrypted_data);
            if (why == nullptr && !inner.empty())
                why = "bytes after its EncryptedData";
            der::reader data_fields(encrypted_data.value);
            if (why == nullptr)
                why = data_fields.next(der::integer, version);
            if (why == nullptr)
                why = data_fields.next(der::sequence, content_info);
            der::reader info_fields(content_info.value);
            if (why == nullptr)
                why = info_fields.next(der::object_identifier, content_type);
            if (why == nullptr)
                why = info_fields.next(der::sequence, algorithm);
            if (why == nullptr && info_fields.next_is(der::context_0))
                throw failure(errc::keystore_format_unsupported, source,
                              which + " holds its encrypted content as a constructed (BER) string, which the SDK "
                                      "does not read");
            if (why == nullptr && !info_fields.empty())
                why = info_fields.next(der::implicit_0, encrypted);
            if (why == nullptr && !info_fields.empty())
                why = "bytes after the encrypted content";
            if (why != nullptr)
                throw malformed(which + " (encryptedData) is not an EncryptedData: " + why);
            if (!same_bytes(content_type.value, data_oid))
                throw malformed(which + " encrypts content of type " + oid_name(content_type.value) + ", not data");
            check_pbe(algorithm.whole, source, which, iteration_limit);
            if (!encrypted.value.empty())
                out.push_back({true, algorithm.whole, encrypted.value});
        } else if (same_bytes(type.value, enveloped_data_oid)) {
            throw failure(errc::keystore_format_unsupported, source,
                          which + " is encrypted to a public key (envelopedData), not with a password");
        } else {
            throw malformed(which + " is of content type " + oid_name(type.value) +
                            " (data and encryptedData are read)");
        }
    }
    return out;
}

C8Y_MTLS_DECL void check_pbe(byte_view algorithm, std::string_view source, const std::string& what,
                             std::uint64_t iteration_limit)
{
    const auto malformed = [&](const std::string& why) {
        return failure(errc::keystore_malformed, source, what + "'s encryption algorithm " + why);
    };
    const auto unsupported = [&](const std::string& name) {
        return failure(errc::keystore_format_unsupported, source,
                       what + " is encrypted with " + name +
                           ", which the SDK does not read (it reads PBES2 with AES or 3DES, as keytool 17 and "
                           "OpenSSL 3 write, and pbeWithSHAAnd3-KeyTripleDES-CBC)");
    };
    const auto iterations_of = [&](const der::element& e) {
        const std::optional<std::uint64_t> n = x509_impl::small_integer(e.value);
        if (!n || *n == 0)
            throw malformed("has an iteration count that is not a positive number");
        if (*n > iteration_limit)
            throw failure(errc::keystore_format_unsupported, source,
                          what + "'s encryption claims " + std::to_string(*n) + " iterations; " +
                              iteration_words(iteration_limit));
    };
    der::reader top(algorithm);
    der::element sequence, oid;
    const char* why = top.next(der::sequence, sequence);
    der::reader fields(sequence.value);
    if (why == nullptr)
        why = fields.next(der::object_identifier, oid);
    if (why != nullptr)
        throw malformed(std::string("is not an AlgorithmIdentifier: ") + why);

    unsigned char arc = 0;
    if (same_bytes(oid.value, pbes2_oid)) {
        der::element params, kdf, scheme, kdf_oid, kdf_params, salt, iterations, iv;
        why = fields.next(der::sequence, params);
        der::reader parts(params.value);
        if (why == nullptr)
            why = parts.next(der::sequence, kdf);
        if (why == nullptr)
            why = parts.next(der::sequence, scheme);
        if (why == nullptr && (!parts.empty() || !fields.empty()))
            why = "bytes after its parameters";
        der::reader kdf_fields(kdf.value);
        if (why == nullptr)
            why = kdf_fields.next(der::object_identifier, kdf_oid);
        if (why != nullptr)
            throw malformed(std::string("(PBES2) has no key derivation and scheme: ") + why);
        if (!same_bytes(kdf_oid.value, pbkdf2_oid))
            throw unsupported("PBES2 with the key derivation " + oid_name(kdf_oid.value));
        why = kdf_fields.next(der::sequence, kdf_params);
        der::reader kdf_values(kdf_params.value);
        if (why == nullptr && kdf_values.next_is(der::sequence))
            throw unsupported("PBKDF2 with a salt from another source");
        if (why == nullptr)
            why = kdf_values.next(der::octet_string, salt);
        if (why == nullptr)
            why = kdf_values.next(der::integer, iterations);
        der::element key_length, prf, prf_oid;
        if (why == nullptr && kdf_values.next_is(der::integer))
            why = kdf_values.next(der::integer, key_length);
        if (why == nullptr && kdf_values.next_is(der::sequence)) {
            why = kdf_values.next(der::sequence, prf);
            der::reader prf_fields(prf.value);
            if (why == nullptr)
                why = prf_fields.next(der::object_identifier, prf_oid);
        }
        if (why == nullptr && (!kdf_values.empty() || !kdf_fields.empty()))
            why = "bytes after the PBKDF2 parameters";
        if (why != nullptr)
            throw malformed(std::string("(PBKDF2) has parameters out of shape: ") + why);
        iterations_of(iterations);
        // hmacWithSHA1 (7, the default) and hmacWithSHA256 (9, keytool's and OpenSSL's): what
        // wolfCrypt's PBES2 derives with.
        if (!prf_oid.value.empty() && !(arc_after(prf_oid.value, hmac_prefix, arc) && (arc == 7 || arc == 9)))
            throw unsupported("PBKDF2 with the pseudorandom function " + oid_name(prf_oid.value));
        der::reader scheme_fields(scheme.value);
        der::element cipher_oid;
        why = scheme_fields.next(der::object_identifier, cipher_oid);
        if (why == nullptr)
            why = scheme_fields.next(der::octet_string, iv);
        if (why == nullptr && !scheme_fields.empty())
            why = "bytes after the IV";
        if (why != nullptr)
            throw malformed(std::string("(PBES2) has no cipher and IV: ") + why);
        // aes128-CBC (2) and aes256-CBC (42), 16-byte IVs; des-ede3-cbc, 8. Not aes192-CBC:
        // wolfCrypt's PBES2 has no AES-192, and no tool writes it by default.
        const bool aes = arc_after(cipher_oid.value, aes_prefix, arc) && (arc == 2 || arc == 42);
        if (!aes && !same_bytes(cipher_oid.value, des_ede3_cbc_oid))
            throw unsupported("PBES2 with the cipher " + oid_name(cipher_oid.value));
        if (iv.value.size() != (aes ? 16u : 8u))
            throw malformed("has an IV of " + std::to_string(iv.value.size()) + " bytes");
        return;
    }
    if (arc_after(oid.value, pkcs12_pbe_prefix, arc)) {
        static constexpr const char* names[] = {"",
                                                "pbeWithSHAAnd128BitRC4",
                                                "pbeWithSHAAnd40BitRC4",
                                                "pbeWithSHAAnd3-KeyTripleDES-CBC",
                                                "pbeWithSHAAnd2-KeyTripleDES-CBC",
                                                "pbeWithSHAAnd128BitRC2-CBC",
                                                "pbeWithSHAAnd40BitRC2-CBC"};
        if (arc < 1 || arc > 6)
            throw unsupported(oid_name(oid.value));
        if (arc != 3)
            throw unsupported(std::string(names[arc]) +
                              (arc == 6 ? " (openssl pkcs12 -legacy, OpenSSL 1.1's default for certificates; "
                                          "export again with OpenSSL 3, or convert with keytool "
                                          "-importkeystore)"
                                        : ""));
        der::element params, salt, iterations;
        why = fields.next(der::sequence, params);
        der::reader values(params.value);
        if (why == nullptr)
            why = values.next(der::octet_string, salt);
        if (why == nullptr)
            why = values.next(der::integer, iterations);
        if (why == nullptr && (!values.empty() || !fields.empty()))
            why = "bytes after its parameters";
        if (why != nullptr)
            throw malformed(std::string("(PKCS#12 PBE) has parameters out of shape: ") + why);
        iterations_of(iterations);
        return;
    }
    if (arc_after(oid.value, pbes1_prefix, arc))
        throw unsupported("PKCS#5 v1.5 (PBES1, " + oid_name(oid.value) + ")");
    throw unsupported(oid_name(oid.value));
}

C8Y_MTLS_DECL void read_bags(pkcs12_store& store, byte_view safe_contents, std::uint64_t iteration_limit, int depth)
{
    const std::string_view source = store.source;
    const auto malformed = [&](const std::string& what) { return failure(errc::keystore_malformed, source, what); };
    der::reader top(safe_contents);
    der::element sequence;
    if (const char* why = top.next(der::sequence, sequence))
        throw malformed(std::string("a SafeContents is not a SEQUENCE of bags: ") + why);
    if (!top.empty())
        throw malformed("bytes after a SafeContents");
    der::reader bags(sequence.value);
    while (!bags.empty()) {
        const std::string which = "bag " + std::to_string(store.bags.size() + 1);
        der::element bag, id, explicit_value, attributes;
        const char* why = bags.next(der::sequence, bag);
        der::reader fields(bag.value);
        if (why == nullptr)
            why = fields.next(der::object_identifier, id);
        if (why == nullptr)
            why = fields.next(der::context_0, explicit_value);
        if (why == nullptr && !fields.empty())
            why = fields.next(der::set, attributes);
        if (why == nullptr && !fields.empty())
            why = "bytes after its attributes";
        if (why != nullptr)
            throw malformed(which + " is not a bag type, a value and attributes: " + why);

        pkcs12_bag out;
        der::reader attribute_list(attributes.value);
        while (!attribute_list.empty()) {
            der::element attribute, attribute_id, values, first;
            why = attribute_list.next(der::sequence, attribute);
            der::reader attribute_fields(attribute.value);
            if (why == nullptr)
                why = attribute_fields.next(der::object_identifier, attribute_id);
            if (why == nullptr)
                why = attribute_fields.next(der::set, values);
            if (why == nullptr && !attribute_fields.empty())
                why = "bytes after its values";
            if (why != nullptr)
                throw malformed(which + " has an attribute that is not a type and values: " + why);
            der::reader value_list(values.value);
            if (same_bytes(attribute_id.value, friendly_name_oid)) {
                std::optional<std::string> text;
                if (value_list.next(der::bmp_string, first) == nullptr)
                    text = name_impl::string_value(first);
                if (!text)
                    throw malformed(which + "'s friendlyName is not a BMPString");
                out.alias = std::move(*text);
            } else if (same_bytes(attribute_id.value, local_key_id_oid)) {
                if (value_list.next(der::octet_string, first) != nullptr)
                    throw malformed(which + "'s localKeyId is not an OCTET STRING");
                out.local_key_id = first.value;
            } else if (same_bytes(attribute_id.value, trusted_key_usage_oid)) {
                out.trusted = true;
            }
        }

        unsigned char type = 0;
        if (!arc_after(id.value, bag_prefix, type))
            throw malformed(which + " is of type " + oid_name(id.value) + ", not a PKCS#12 bag");
        der::reader value(explicit_value.value);
        der::element inner;
        if (type == key_bag || type == shrouded_key_bag) {
            why = value.next(der::sequence, inner);
            if (why == nullptr && !value.empty())
                why = "bytes after the key";
            if (why != nullptr)
                throw malformed(which + " (a private key) holds no key: " + why);
            out.kind = pkcs12_bag_kind::private_key;
            out.shrouded = type == shrouded_key_bag;
            out.value = inner.whole;
            if (out.shrouded) {
                // The algorithm is judged now, as the encrypted SafeContents' are, so that a key
                // a backend could not decrypt is named before it is chosen.
                der::reader info(inner.value);
                der::element algorithm;
                if (const char* bad = info.next(der::sequence, algorithm))
                    throw malformed(which + " (a private key) is not an EncryptedPrivateKeyInfo: " + bad);
                check_pbe(algorithm.whole, source, which, iteration_limit);
            }
            store.bags.push_back(std::move(out));
        } else if (type == cert_bag) {
            der::element certificate_id, explicit_certificate, certificate;
            why = value.next(der::sequence, inner);
            der::reader certificate_fields(inner.value);
            if (why == nullptr)
                why = certificate_fields.next(der::object_identifier, certificate_id);
            if (why == nullptr)
                why = certificate_fields.next(der::context_0, explicit_certificate);
            der::reader certificate_value(explicit_certificate.value);
            if (why == nullptr)
                why = certificate_value.next(der::octet_string, certificate);
            if (why == nullptr && (!value.empty() || !certificate_fields.empty() || !certificate_value.empty()))
                why = "bytes after the certificate";
            if (why != nullptr)
                throw malformed(which + " (a certificate) is not a CertBag: " + why);
            if (!same_bytes(certificate_id.value, x509_certificate_oid))
                continue; // an SDSI certificate: no X.509 to use, as Java skips it
            der::reader check(certificate.value);
            der::element shape;
            why = check.next(der::sequence, shape);
            if (why == nullptr && !check.empty())
                why = "bytes after its SEQUENCE";
            if (why != nullptr)
                throw malformed(which + "'s certificate is not a DER certificate: " + why);
            out.kind = pkcs12_bag_kind::certificate;
            out.value = certificate.value;
            store.bags.push_back(std::move(out));
        } else if (type == safe_contents_bag) {
            if (depth >= max_nesting)
                throw malformed(which + " nests SafeContents more than " + std::to_string(max_nesting) + " deep");
            read_bags(store, explicit_value.value, iteration_limit, depth + 1);
        }
        // CRL and secret bags (Java's secret key entries) hold nothing a device uses.
    }
}

C8Y_MTLS_DECL std::string bag_name(const pkcs12_store& store, const pkcs12_bag& bag)
{
    std::size_t number = 0;
    for (const pkcs12_bag& b : store.bags) {
        if (b.kind == bag.kind)
            ++number;
        if (&b == &bag)
            break;
    }
    return std::string(bag.kind == pkcs12_bag_kind::private_key ? "private key " : "certificate ") +
           std::to_string(number) + " (" + (bag.alias ? detail::quoted(*bag.alias) : std::string("no friendlyName")) +
           ")";
}

C8Y_MTLS_DECL std::string aliases(const pkcs12_store& store, pkcs12_bag_kind kind, bool trusted)
{
    constexpr std::size_t shown = 10;
    std::string out;
    std::size_t count = 0;
    for (const pkcs12_bag& b : store.bags) {
        if (b.kind != kind || (kind == pkcs12_bag_kind::certificate && b.trusted != trusted))
            continue;
        if (count < shown)
            out += (count == 0 ? "" : ", ") + (b.alias ? detail::quoted(*b.alias) : std::string("(no friendlyName)"));
        ++count;
    }
    if (count > shown)
        out += " and " + std::to_string(count - shown) + " more";
    return out;
}

C8Y_MTLS_DECL void check_key(const pkcs12_store& store, const pkcs12_bag& key, byte_view pkcs8)
{
    if (read_pkcs8(pkcs8))
        return;
    // A PrivateKeyInfo of another algorithm, or no PrivateKeyInfo at all?
    der::reader top(pkcs8);
    der::element info, version, algorithm, oid, octets;
    const char* why = top.next(der::sequence, info);
    der::reader fields(info.value);
    if (why == nullptr)
        why = fields.next(der::integer, version);
    if (why == nullptr)
        why = fields.next(der::sequence, algorithm);
    if (why == nullptr)
        why = fields.next(der::octet_string, octets);
    der::reader algorithm_fields(algorithm.value);
    if (why == nullptr)
        why = algorithm_fields.next(der::object_identifier, oid);
    if (why == nullptr)
        throw failure(errc::private_key_malformed, store.source,
                      bag_name(store, key) + " is a key of algorithm " + oid_name(oid.value) +
                          " (or of an unnamed curve), which the SDK cannot use (RSA, and EC on a named curve)");
    if (key.shrouded)
        throw failure(errc::key_password_wrong, store.source,
                      bag_name(store, key) + ": the key password does not decrypt it (what it decrypts to is no "
                                             "PKCS#8 key)");
    throw failure(errc::keystore_malformed, store.source, bag_name(store, key) + " is not a PrivateKeyInfo: " + why);
}

C8Y_MTLS_DECL const pkcs12_bag* certificate_by_key_id(const pkcs12_store& store, const pkcs12_bag& key)
{
    if (key.local_key_id.empty())
        return nullptr;
    for (const pkcs12_bag& b : store.bags)
        if (b.kind == pkcs12_bag_kind::certificate && same_bytes(b.local_key_id, key.local_key_id))
            return &b;
    return nullptr;
}

C8Y_MTLS_DECL keystore_contents key_contents(const pkcs12_store& store, const pkcs12_bag& key, secure_bytes pkcs8,
                                             const pkcs12_bag* certificate)
{
    if (certificate == nullptr)
        throw failure(errc::no_certificate, store.source,
                      bag_name(store, key) + " has no certificate in the file (none shares its localKeyId, none "
                                             "holds its public key)");
    keystore_contents out;
    out.private_key = std::move(pkcs8);
    out.certificate.assign(certificate->value.begin(), certificate->value.end());
    // Java's PKCS12KeyStore: each certificate followed by the one whose subject is its issuer,
    // up to a self-issued one; every certificate of the file may serve, each once.
    std::vector<const pkcs12_bag*> used{certificate};
    const pkcs12_bag* last = certificate;
    for (;;) {
        parsed_certificate current;
        const std::string why = parse_certificate(last->value, current);
        if (!why.empty())
            throw failure(errc::keystore_malformed, store.source,
                          bag_name(store, *last) + " is not an X.509 certificate: " + why);
        if (current.self_issued())
            break;
        const pkcs12_bag* issuer = nullptr;
        for (const pkcs12_bag& b : store.bags) {
            parsed_certificate candidate;
            if (b.kind != pkcs12_bag_kind::certificate || std::find(used.begin(), used.end(), &b) != used.end() ||
                !parse_certificate(b.value, candidate).empty() || !same_name(current.issuer, candidate.subject))
                continue;
            issuer = &b;
            break;
        }
        if (issuer == nullptr)
            break;
        out.others.emplace_back(issuer->value.begin(), issuer->value.end());
        used.push_back(issuer);
        last = issuer;
    }
    return out;
}

} // namespace c8y::mtls::detail::pkcs12_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL bool looks_like_pkcs12(byte_view file) noexcept
{
    if (file.size() < 2 || file[0] != 0x30)
        return false;
    std::size_t header = 2;
    if (file[1] > 0x80 && file[1] <= 0x84)
        header += file[1] & 0x7F;
    else if (file[1] > 0x84)
        return false;
    return file.size() >= header + 3 && file[header] == 0x02 && file[header + 1] == 0x01 && file[header + 2] == 0x03;
}

C8Y_MTLS_DECL const pkcs12_bag& pkcs12_key_entry(const pkcs12_store& store, std::optional<std::string_view> alias)
{
    using pkcs12_impl::failure;
    const std::string keys = pkcs12_impl::aliases(store, pkcs12_bag_kind::private_key);
    const std::string listed = keys.empty() ? "it has no private key entry" : "its private key entries: " + keys;
    const auto folded_equal = [](std::string_view a, std::string_view b) {
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return jks_impl::folded(x) == jks_impl::folded(y);
               });
    };
    if (alias) {
        const pkcs12_bag* found = nullptr;
        const pkcs12_bag* trusted = nullptr;
        for (const pkcs12_bag& b : store.bags) {
            if (!b.alias || !folded_equal(*b.alias, *alias))
                continue;
            if (b.kind == pkcs12_bag_kind::private_key) {
                if (found != nullptr)
                    throw failure(errc::keystore_malformed, store.source,
                                  pkcs12_impl::bag_name(store, *found) + " and " + pkcs12_impl::bag_name(store, b) +
                                      " have the same alias");
                found = &b;
            } else if (b.trusted) {
                trusted = &b;
            }
        }
        if (found != nullptr)
            return *found;
        if (trusted != nullptr)
            throw failure(errc::keystore_alias_missing, store.source,
                          detail::quoted(*alias) + " is a trusted certificate entry, not a private key entry; " +
                              listed);
        throw failure(errc::keystore_alias_missing, store.source, "no entry " + detail::quoted(*alias) + "; " + listed);
    }
    const pkcs12_bag* found = nullptr;
    std::size_t count = 0;
    for (const pkcs12_bag& b : store.bags) {
        if (b.kind == pkcs12_bag_kind::private_key) {
            found = found ? found : &b;
            ++count;
        }
    }
    if (count == 1)
        return *found;
    if (count > 1)
        throw failure(errc::keystore_alias_missing, store.source,
                      std::to_string(count) + " private key entries and no alias to choose one; " + listed);
    const std::string trusted = pkcs12_impl::aliases(store, pkcs12_bag_kind::certificate, true);
    std::size_t certificates = 0;
    for (const pkcs12_bag& b : store.bags)
        certificates += b.kind == pkcs12_bag_kind::certificate ? 1 : 0;
    throw failure(errc::keystore_alias_missing, store.source,
                  "no private key entry" +
                      (!trusted.empty() ? " (trusted certificate entries only: " + trusted + "): a truststore, not a keystore"
                       : certificates > 0
                           ? " (" + std::to_string(certificates) + " certificate" + (certificates == 1 ? "" : "s") +
                                 " only, as openssl pkcs12 -export -nokeys writes): no keystore"
                           : std::string(": the keystore is empty")));
}

C8Y_MTLS_DECL std::vector<der_certificate> pkcs12_trusted_certificates(const pkcs12_store& store)
{
    std::vector<der_certificate> out;
    for (const pkcs12_bag& b : store.bags)
        if (b.kind == pkcs12_bag_kind::certificate && b.trusted)
            out.emplace_back(b.value.begin(), b.value.end());
    return out;
}

C8Y_MTLS_DECL std::string pkcs12_no_trusted_entry(const pkcs12_store& store)
{
    std::string out = store.source + ": no trusted certificate entry (keytool -importcert adds one)";
    const std::string keys = pkcs12_impl::aliases(store, pkcs12_bag_kind::private_key);
    std::size_t certificates = 0;
    for (const pkcs12_bag& b : store.bags)
        certificates += b.kind == pkcs12_bag_kind::certificate ? 1 : 0;
    if (!keys.empty())
        return out + "; it holds the private key entries " + keys + ": a keystore, not a truststore";
    if (certificates > 0)
        return out + "; its " + std::to_string(certificates) + " certificate" + (certificates == 1 ? " lacks" : "s lack") +
               " Java's trusted-key-usage attribute, which keytool -importcert writes and openssl pkcs12 -export "
               "does not, so Java reads no trusted certificate in it either; give the certificates as PEM";
    return out + "; the file is empty";
}

} // namespace c8y::mtls::detail
