// c8y-mtls: the definitions x509_parse.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/x509_parse.hpp"

namespace c8y::mtls::detail::x509_impl {

C8Y_MTLS_DECL std::optional<hash_function> hash_of(byte_view oid)
{
    for (const auto& h : hash_algorithms)
        if (same_bytes(oid, byte_view(h.oid, h.size)))
            return h.hash;
    return std::nullopt;
}

C8Y_MTLS_DECL std::optional<hash_function> hash_algorithm(byte_view algorithm_identifier)
{
    der::reader r(algorithm_identifier);
    der::element seq, oid, null;
    if (r.next(der::sequence, seq) || !r.empty())
        return std::nullopt;
    der::reader fields(seq.value);
    if (fields.next(der::object_identifier, oid))
        return std::nullopt;
    if (!fields.empty() && (fields.next(der::null, null) || !null.value.empty() || !fields.empty()))
        return std::nullopt;
    return hash_of(oid.value);
}

C8Y_MTLS_DECL std::optional<std::uint64_t> small_integer(byte_view value)
{
    if (value.empty() || (value[0] & 0x80) || value.size() > 9 || (value.size() == 9 && value[0] != 0))
        return std::nullopt;
    if (value.size() > 1 && value[0] == 0 && !(value[1] & 0x80))
        return std::nullopt; // not minimal
    std::uint64_t n = 0;
    for (const unsigned char b : value)
        n = (n << 8) | b;
    return n;
}

C8Y_MTLS_DECL void read_pss_parameters(byte_view params, x509_signature_algorithm& out)
{
    hash_function hash = hash_function::sha1;
    std::optional<hash_function> mgf_hash = hash_function::sha1;
    std::uint64_t salt = 20;
    der::reader r(params);
    der::element seq;
    if (r.next(der::sequence, seq) || !r.empty())
        return;
    der::reader fields(seq.value);
    der::element e;
    if (fields.next_is(der::context_0)) {
        const auto h = fields.next(e) ? std::nullopt : hash_algorithm(e.value);
        if (!h)
            return;
        hash = *h;
    }
    if (fields.next_is(der::context_1)) {
        der::element mgf, mgf_oid, mgf_params;
        if (fields.next(e))
            return;
        der::reader m(e.value);
        if (m.next(der::sequence, mgf) || !m.empty())
            return;
        der::reader mf(mgf.value);
        if (mf.next(der::object_identifier, mgf_oid) || !same_bytes(mgf_oid.value, mgf1) || mf.next(mgf_params) ||
            !mf.empty())
            return;
        mgf_hash = hash_algorithm(mgf_params.whole);
    }
    if (fields.next_is(der::context_2)) {
        der::element salt_value;
        if (fields.next(e))
            return;
        der::reader s(e.value);
        const auto n = s.next(der::integer, salt_value) || !s.empty() ? std::nullopt : small_integer(salt_value.value);
        if (!n || *n > 1024)
            return;
        salt = *n;
    }
    if (fields.next_is(der::context_3)) {
        der::element trailer;
        if (fields.next(e))
            return;
        der::reader t(e.value);
        const auto n = t.next(der::integer, trailer) || !t.empty() ? std::nullopt : small_integer(trailer.value);
        if (!n || *n != 1)
            return;
    }
    if (!fields.empty() || !mgf_hash || *mgf_hash != hash)
        return;
    out.known = true;
    out.scheme = signature_scheme::rsa_pss;
    out.hash = hash;
    out.pss_salt_length = static_cast<std::size_t>(salt);
}

C8Y_MTLS_DECL const char* read_signature_algorithm(const der::element& algorithm, x509_signature_algorithm& out)
{
    der::reader fields(algorithm.value);
    der::element oid;
    if (fields.next(der::object_identifier, oid))
        return "signature algorithm without an OID";
    out = {};
    out.oid = oid.value;
    if (same_bytes(oid.value, rsassa_pss)) {
        der::element params;
        if (fields.next(params) || !fields.empty())
            return "RSASSA-PSS without its parameters";
        read_pss_parameters(params.whole, out);
        return nullptr;
    }
    for (const auto& a : signature_algorithms) {
        if (!same_bytes(oid.value, byte_view(a.oid, a.size)))
            continue;
        // RSA algorithms carry NULL parameters, ECDSA none (RFC 4055, RFC 5758).
        der::element params;
        if (a.scheme == signature_scheme::ecdsa ? !fields.empty()
                                                : (!fields.empty() && (fields.next(der::null, params) || !fields.empty())))
            return "signature algorithm parameters malformed";
        out.known = true;
        out.scheme = a.scheme;
        out.hash = a.hash;
        return nullptr;
    }
    return nullptr; // an algorithm the validator does not check; the rules name it
}

C8Y_MTLS_DECL std::size_t bit_length(byte_view unsigned_integer)
{
    std::size_t i = 0;
    while (i < unsigned_integer.size() && unsigned_integer[i] == 0)
        ++i;
    if (i == unsigned_integer.size())
        return 0;
    std::size_t bits = (unsigned_integer.size() - i) * 8;
    for (unsigned char top = unsigned_integer[i]; !(top & 0x80); top = static_cast<unsigned char>(top << 1))
        --bits;
    return bits;
}

C8Y_MTLS_DECL const char* read_public_key(const der::element& spki, x509_public_key& out)
{
    der::reader fields(spki.value);
    der::element algorithm, bits;
    if (fields.next(der::sequence, algorithm) || fields.next(der::bit_string, bits) || !fields.empty())
        return "subjectPublicKeyInfo malformed";
    if (bits.value.empty() || bits.value[0] != 0)
        return "subjectPublicKey is not a whole number of bytes";
    const byte_view key = bits.value.subspan(1);
    der::reader alg(algorithm.value);
    der::element oid;
    if (alg.next(der::object_identifier, oid))
        return "public key algorithm without an OID";
    out = {};
    out.algorithm = oid.value;
    if (same_bytes(oid.value, rsa_encryption) || same_bytes(oid.value, rsassa_pss)) {
        der::reader k(key);
        der::element seq, n, e;
        if (k.next(der::sequence, seq) || !k.empty())
            return "RSA public key malformed";
        der::reader parts(seq.value);
        if (parts.next(der::integer, n) || parts.next(der::integer, e) || !parts.empty() || n.value.empty() ||
            (n.value[0] & 0x80))
            return "RSA public key malformed";
        out.type = x509_key_type::rsa;
        out.bits = bit_length(n.value);
    } else if (same_bytes(oid.value, ec_public_key)) {
        der::element curve;
        if (alg.next(curve) || !alg.empty())
            return "EC public key without its curve";
        out.type = x509_key_type::ec;
        if (curve.tag != der::object_identifier) {
            out.curve = x509_curve::other; // explicit parameters: no named curve
            return nullptr;
        }
        out.parameter = curve.value;
        if (same_bytes(curve.value, p256))
            out.curve = x509_curve::p256, out.bits = 256;
        else if (same_bytes(curve.value, p384))
            out.curve = x509_curve::p384, out.bits = 384;
        else if (same_bytes(curve.value, p521))
            out.curve = x509_curve::p521, out.bits = 521;
        else
            out.curve = x509_curve::other;
        if (key.empty())
            return "EC public key empty";
    } else if (same_bytes(oid.value, ed25519)) {
        out.type = x509_key_type::ed25519;
        out.bits = 256;
    } else if (same_bytes(oid.value, ed448)) {
        out.type = x509_key_type::ed448;
        out.bits = 456;
    }
    return nullptr;
}

C8Y_MTLS_DECL const char* read_extension(byte_view oid, byte_view value, parsed_certificate& c)
{
    der::reader r(value);
    der::element e;
    if (same_bytes(oid, basic_constraints)) {
        if (r.next(der::sequence, e) || !r.empty())
            return "basicConstraints malformed";
        der::reader fields(e.value);
        der::element field;
        c.has_basic_constraints = true;
        if (fields.next_is(der::boolean)) {
            if (fields.next(field) || field.value.size() != 1 || (field.value[0] != 0 && field.value[0] != 0xFF))
                return "basicConstraints cA malformed";
            c.is_ca = field.value[0] == 0xFF;
        }
        if (fields.next_is(der::integer)) {
            const auto n = fields.next(field) ? std::nullopt : small_integer(field.value);
            if (!n)
                return "basicConstraints pathLenConstraint malformed";
            c.path_length = *n;
        }
        if (!fields.empty())
            return "basicConstraints malformed";
    } else if (same_bytes(oid, key_usage)) {
        if (r.next(der::bit_string, e) || !r.empty() || e.value.empty() || e.value[0] > 7)
            return "keyUsage malformed";
        c.has_key_usage = true;
        // Bits count from the top of the first byte: digitalSignature is bit 0, keyCertSign bit 5.
        c.digital_signature = e.value.size() > 1 && (e.value[1] & 0x80);
        c.key_cert_sign = e.value.size() > 1 && (e.value[1] & 0x04);
    } else if (same_bytes(oid, subject_key_id)) {
        if (r.next(der::octet_string, e) || !r.empty())
            return "subjectKeyIdentifier malformed";
        c.subject_key_id = e.value;
    } else if (same_bytes(oid, authority_key_id)) {
        if (r.next(der::sequence, e) || !r.empty())
            return "authorityKeyIdentifier malformed";
        der::reader fields(e.value);
        der::element field;
        if (fields.next_is(der::implicit_0)) {
            if (fields.next(field))
                return "authorityKeyIdentifier malformed";
            c.authority_key_id = field.value;
        }
    } else if (same_bytes(oid, subject_alt_name)) {
        if (r.next(der::sequence, e) || !r.empty() || e.value.empty())
            return "subjectAltName malformed";
        der::reader names(e.value);
        while (!names.empty()) {
            der::element name;
            if (names.next(name))
                return "subjectAltName malformed";
        }
        c.has_subject_alt_name = true;
        c.subject_alt_names = e.value;
    } else if (same_bytes(oid, extended_key_usage)) {
        if (r.next(der::sequence, e) || !r.empty() || e.value.empty())
            return "extendedKeyUsage malformed";
        der::reader purposes(e.value);
        while (!purposes.empty()) {
            der::element purpose;
            if (purposes.next(der::object_identifier, purpose))
                return "extendedKeyUsage malformed";
            c.server_auth = c.server_auth || same_bytes(purpose.value, kp_server_auth);
        }
        c.has_extended_key_usage = true;
    }
    return nullptr;
}

C8Y_MTLS_DECL bool processed_by_pkix(byte_view oid)
{
    for (const auto& known : pkix_processed)
        if (same_bytes(oid, byte_view(known.oid, known.size)))
            return true;
    return false;
}

C8Y_MTLS_DECL bool earlier_extension(byte_view list, const unsigned char* before, byte_view oid)
{
    der::reader extensions(list);
    der::element extension, earlier_oid;
    while (!extensions.next(extension) && extension.whole.data() != before) {
        der::reader fields(extension.value);
        if (!fields.next(der::object_identifier, earlier_oid) && same_bytes(earlier_oid.value, oid))
            return true;
    }
    return false;
}

C8Y_MTLS_DECL bool access_description_list(byte_view value)
{
    der::reader r(value);
    der::element list;
    if (r.next(der::sequence, list) || !r.empty() || list.value.empty())
        return false;
    der::reader descriptions(list.value);
    while (!descriptions.empty()) {
        der::element description, method, location;
        if (descriptions.next(der::sequence, description))
            return false;
        der::reader fields(description.value);
        if (fields.next(der::object_identifier, method) || fields.next(location) || !fields.empty())
            return false;
    }
    return true;
}

C8Y_MTLS_DECL const char* read_extensions(const der::element& explicit_tag, parsed_certificate& c)
{
    der::reader outer(explicit_tag.value);
    der::element list;
    if (outer.next(der::sequence, list) || !outer.empty() || list.value.empty())
        return "extensions malformed";
    c.extensions = list.value;
    der::reader extensions(list.value);
    for (std::size_t count = 0; !extensions.empty(); ++count) {
        if (count == max_extensions)
            return "more than 256 extensions";
        der::element extension, oid, critical, value;
        if (extensions.next(der::sequence, extension))
            return "extension malformed";
        der::reader fields(extension.value);
        if (fields.next(der::object_identifier, oid))
            return "extension without an OID";
        if (fields.next_is(der::boolean) && (fields.next(critical) || critical.value.size() != 1))
            return "extension critical flag malformed";
        const bool is_critical = !critical.value.empty() && critical.value[0] != 0;
        if (fields.next(der::octet_string, value) || !fields.empty())
            return "extension value malformed";
        // A second copy is named, not read: the first one is what the rules see (RFC 5280 4.2).
        if (earlier_extension(list.value, extension.whole.data(), oid.value)) {
            if (c.duplicate_extension.empty())
                c.duplicate_extension = oid.value;
            continue;
        }
        if (same_bytes(oid.value, basic_constraints))
            c.basic_constraints_critical = is_critical;
        if (same_bytes(oid.value, authority_info_access)) {
            c.aia_critical = is_critical;
            c.aia_malformed = !access_description_list(value.value);
        } else if (is_critical && c.critical_unprocessed.empty() && !processed_by_pkix(oid.value)) {
            c.critical_unprocessed = oid.value;
        }
        if (const char* why = read_extension(oid.value, value.value, c))
            return why;
    }
    return nullptr;
}

} // namespace c8y::mtls::detail::x509_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string parse_certificate(byte_view der_bytes, parsed_certificate& out)
{
    using namespace x509_impl;
    out = {};
    out.der = der_bytes;
    const auto fail = [](std::string_view where, const char* why) { return std::string(where) + ": " + why; };

    der::reader top(der_bytes);
    der::element certificate, tbs, outer_algorithm, signature;
    if (const char* why = top.next(der::sequence, certificate))
        return fail("Certificate", why);
    if (!top.empty())
        return "bytes after the certificate";
    der::reader parts(certificate.value);
    if (const char* why = parts.next(der::sequence, tbs))
        return fail("tbsCertificate", why);
    if (const char* why = parts.next(der::sequence, outer_algorithm))
        return fail("signatureAlgorithm", why);
    if (const char* why = parts.next(der::bit_string, signature))
        return fail("signatureValue", why);
    if (!parts.empty())
        return "Certificate has fields after signatureValue";
    if (signature.value.empty() || signature.value[0] != 0)
        return "signatureValue is not a whole number of bytes";
    out.tbs = tbs.whole;
    out.signature = signature.value.subspan(1);

    der::reader fields(tbs.value);
    der::element e;
    if (fields.next_is(der::context_0)) {
        der::element version;
        if (const char* why = fields.next(e))
            return fail("version", why);
        der::reader v(e.value);
        const auto n = v.next(der::integer, version) || !v.empty() ? std::nullopt : small_integer(version.value);
        if (!n || *n > 2)
            return "version malformed or unknown";
        out.version = static_cast<int>(*n) + 1;
    }
    if (const char* why = fields.next(der::integer, e))
        return fail("serialNumber", why);
    if (e.value.empty())
        return "serialNumber empty";
    out.serial = e.value;
    der::element inner_algorithm;
    if (const char* why = fields.next(der::sequence, inner_algorithm))
        return fail("signature", why);
    if (!same_bytes(inner_algorithm.whole, outer_algorithm.whole))
        return "the signature algorithm inside the certificate differs from the one outside";
    if (const char* why = read_signature_algorithm(inner_algorithm, out.signature_algorithm))
        return why;

    der::element issuer, validity, subject, spki;
    if (const char* why = fields.next(der::sequence, issuer))
        return fail("issuer", why);
    if (const char* why = fields.next(der::sequence, validity))
        return fail("validity", why);
    if (const char* why = fields.next(der::sequence, subject))
        return fail("subject", why);
    if (const char* why = fields.next(der::sequence, spki))
        return fail("subjectPublicKeyInfo", why);
    const auto well_formed = [](byte_view name) {
        return name_impl::for_each_attribute(name, [](byte_view, const der::element&) {});
    };
    if (issuer.value.empty())
        return "issuer name is empty";
    if (!well_formed(issuer.value))
        return "issuer name malformed";
    if (!well_formed(subject.value))
        return "subject name malformed";
    out.issuer = issuer.value;
    out.subject = subject.value;

    der::reader times(validity.value);
    der::element not_before, not_after;
    if (times.next(not_before) || times.next(not_after) || !times.empty())
        return "validity malformed";
    const auto nb = der::time_value(not_before);
    const auto na = der::time_value(not_after);
    if (!nb)
        return "validity: notBefore is not a valid time";
    if (!na)
        return "validity: notAfter is not a valid time";
    out.not_before = *nb;
    out.not_after = *na;

    out.public_key_info = spki.whole;
    if (const char* why = read_public_key(spki, out.key))
        return why;

    // issuerUniqueID [1] and subjectUniqueID [2] (v2 and v3) are skipped; extensions [3] are v3 only.
    for (const unsigned char unique_id : {static_cast<unsigned char>(0x81), static_cast<unsigned char>(0x82)})
        if (fields.next_is(unique_id) && fields.next(e))
            return "unique identifier malformed";
    if (fields.next_is(der::context_3)) {
        if (out.version != 3)
            return "extensions in a certificate that is not version 3";
        if (const char* why = fields.next(e))
            return fail("extensions", why);
        if (const char* why = read_extensions(e, out))
            return why;
    }
    if (!fields.empty())
        return "tbsCertificate has unexpected fields";
    return {};
}

C8Y_MTLS_DECL parsed_certificate parsed_or_throw(byte_view der, const std::string& where)
{
    parsed_certificate parsed;
    if (const std::string why = parse_certificate(der, parsed); !why.empty())
        throw error(errc::pem_malformed, where + " is not DER X.509: " + why);
    return parsed;
}

C8Y_MTLS_DECL const char* hash_text(hash_function h)
{
    switch (h) {
    case hash_function::md5: return "MD5";
    case hash_function::sha1: return "SHA-1";
    case hash_function::sha224: return "SHA-224";
    case hash_function::sha256: return "SHA-256";
    case hash_function::sha384: return "SHA-384";
    case hash_function::sha512: return "SHA-512";
    }
    return "?";
}

C8Y_MTLS_DECL std::string signature_text(const x509_signature_algorithm& alg)
{
    if (!alg.known)
        return "algorithm " + der::oid_text(alg.oid);
    const char* scheme = alg.scheme == signature_scheme::ecdsa     ? "ECDSA"
                         : alg.scheme == signature_scheme::rsa_pss ? "RSASSA-PSS"
                                                                   : "RSA PKCS#1 v1.5";
    return std::string(scheme) + " with " + hash_text(alg.hash);
}

C8Y_MTLS_DECL std::string key_text(const x509_public_key& key)
{
    switch (key.type) {
    case x509_key_type::rsa: return "RSA " + std::to_string(key.bits);
    case x509_key_type::ec:
        switch (key.curve) {
        case x509_curve::p256: return "EC P-256";
        case x509_curve::p384: return "EC P-384";
        case x509_curve::p521: return "EC P-521";
        default:
            return "EC " + (key.parameter.empty() ? std::string("explicit curve") : der::oid_text(key.parameter));
        }
    case x509_key_type::ed25519: return "Ed25519";
    case x509_key_type::ed448: return "Ed448";
    case x509_key_type::other: break;
    }
    return "algorithm " + der::oid_text(key.algorithm);
}

} // namespace c8y::mtls::detail
