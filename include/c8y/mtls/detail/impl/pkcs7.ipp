// c8y-mtls: the definitions pkcs7.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/pkcs7.hpp"

namespace c8y::mtls::detail::pkcs7_impl {

C8Y_MTLS_DECL auto envelope_reader::next(der::element& out) noexcept -> const char*
{
    if (rest_.size() < 2 || rest_[1] != 0x80) {
        der::reader definite(rest_);
        if (const char* why = definite.next(out))
            return why;
        rest_ = rest_.subspan(out.whole.size());
        return nullptr;
    }
    const unsigned char tag = rest_[0];
    if ((tag & 0x1F) == 0x1F)
        return "multi-byte tag (not used by PKCS#7)";
    if ((tag & 0x20) == 0)
        return "indefinite length on a primitive element (BER allows it on constructed ones only)";
    if (depth_ >= max_indefinite_depth)
        return "indefinite lengths nested too deeply";
    // The content ends where a child would start with the end-of-contents octets 00 00.
    envelope_reader children(rest_.subspan(2), depth_ + 1);
    while (children.rest_.size() < 2 || children.rest_[0] != 0 || children.rest_[1] != 0) {
        if (children.rest_.empty())
            return "end-of-contents octets of an indefinite length missing (input ends)";
        der::element child;
        if (const char* why = children.next(child))
            return why;
    }
    const std::size_t content = rest_.size() - 2 - children.rest_.size();
    out.tag = tag;
    out.value = rest_.subspan(2, content);
    out.whole = rest_.first(2 + content + 2);
    rest_ = rest_.subspan(out.whole.size());
    return nullptr;
}

C8Y_MTLS_DECL error malformed(std::string_view source, const std::string& what)
{
    return error(errc::est_answer_malformed, "EST answer: " + std::string(source) + ": " + what);
}

C8Y_MTLS_DECL std::string byte_count(std::size_t n)
{
    return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

C8Y_MTLS_DECL std::string oid_for_people(byte_view oid)
{
    if (oid.size() > 32)
        return "(an OID of " + std::to_string(oid.size()) + " bytes)";
    return der::oid_text(oid);
}

C8Y_MTLS_DECL der::element take(envelope_reader& fields, unsigned char tag, std::string_view what,
                                std::string_view source)
{
    if (fields.empty())
        throw malformed(source, std::string(what) + " missing (its enclosing element ends before it)");
    if (!fields.next_is(tag))
        throw malformed(source, std::string(what) + " expected (tag " + hex_byte(tag) + "), found tag " +
                                    hex_byte(fields.next_tag()));
    der::element e;
    if (const char* why = fields.next(e))
        throw malformed(source, std::string(what) + ": " + why);
    return e;
}

C8Y_MTLS_DECL void expect_end(const envelope_reader& fields, std::string_view what, std::string_view source)
{
    if (!fields.empty())
        throw malformed(source, byte_count(fields.remaining()) + " after the fields of " + std::string(what));
}

C8Y_MTLS_DECL void check_certificate_shape(const der::element& e, std::string_view source, const std::string& which)
{
    if (e.tag != der::sequence)
        throw malformed(source, which + " is not a DER SEQUENCE (tag " + hex_byte(e.tag) + ")");
    der::reader fields(e.value);
    der::element tbs, algorithm, signature;
    const char* why = fields.next(der::sequence, tbs);
    if (why == nullptr)
        why = fields.next(der::sequence, algorithm);
    if (why == nullptr)
        why = fields.next(der::bit_string, signature);
    if (why == nullptr && !fields.empty())
        why = "bytes after the signature";
    if (why != nullptr)
        throw malformed(source, which + " is not an X.509 certificate (signed part, algorithm, signature): " + why);
}

} // namespace c8y::mtls::detail::pkcs7_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::vector<der_certificate> certificates_from_pkcs7(byte_view der, std::string_view source)
{
    using pkcs7_impl::envelope_reader;
    using pkcs7_impl::expect_end;
    using pkcs7_impl::malformed;
    using pkcs7_impl::take;
    if (der.empty())
        throw malformed(source, "no data");

    envelope_reader message(der);
    const der::element content_info = take(message, der::sequence, "ContentInfo", source);
    if (!message.empty())
        throw malformed(source, pkcs7_impl::byte_count(message.remaining()) + " after the ContentInfo");
    envelope_reader info(content_info.value);
    const der::element type = take(info, der::object_identifier, "ContentInfo's content type", source);
    if (!same_bytes(type.value, pkcs7_oid::signed_data))
        throw malformed(source, "not PKCS#7 SignedData (content type " + pkcs7_impl::oid_for_people(type.value) +
                                    ", expected 1.2.840.113549.1.7.2)");
    const der::element content = take(info, der::context_0, "ContentInfo's [0] content", source);
    expect_end(info, "ContentInfo", source);
    envelope_reader explicit_content(content.value);
    const der::element signed_data = take(explicit_content, der::sequence, "SignedData", source);
    expect_end(explicit_content, "ContentInfo's [0] content", source);

    envelope_reader fields(signed_data.value);
    const der::element version = take(fields, der::integer, "SignedData version", source);
    if (version.value.size() != 1 || version.value[0] != 1) {
        const bool small = !version.value.empty() && version.value.size() <= 2 && version.value[0] < 0x80;
        const std::string number = small ? std::to_string(version.value.size() == 1
                                                              ? version.value[0]
                                                              : (version.value[0] << 8) | version.value[1])
                                         : "of " + std::to_string(version.value.size()) + " bytes";
        throw malformed(source, "SignedData version " + number + ", expected 1 (a certs-only message)");
    }
    if (!take(fields, der::set, "SignedData digestAlgorithms", source).value.empty())
        throw malformed(source, "SignedData names digest algorithms: a signed message, not certs-only");
    const der::element encapsulated = take(fields, der::sequence, "SignedData encapContentInfo", source);
    envelope_reader encapsulated_fields(encapsulated.value);
    const der::element encapsulated_type =
        take(encapsulated_fields, der::object_identifier, "encapContentInfo's content type", source);
    if (!same_bytes(encapsulated_type.value, pkcs7_oid::data))
        throw malformed(source, "encapsulated content type " + pkcs7_impl::oid_for_people(encapsulated_type.value) +
                                    ", expected id-data 1.2.840.113549.1.7.1 (a certs-only message)");
    if (!encapsulated_fields.empty())
        throw malformed(source, "encapContentInfo carries content: not a certs-only message");
    if (!fields.next_is(der::context_0))
        throw malformed(source, "no certificate: SignedData has no certificates field");
    const der::element certificates = take(fields, der::context_0, "SignedData certificates", source);
    if (fields.next_is(der::context_1)) {
        // CRLs are not the answer's business, but their encoding must hold together.
        envelope_reader crls(take(fields, der::context_1, "SignedData crls", source).value);
        while (!crls.empty()) {
            der::element crl;
            if (const char* why = crls.next(crl))
                throw malformed(source, std::string("SignedData crls: ") + why);
        }
    }
    if (!take(fields, der::set, "SignedData signerInfos", source).value.empty())
        throw malformed(source, "SignedData has signers: a signed message, not certs-only");
    expect_end(fields, "SignedData", source);

    // Kept in the order of the message: OpenSSL writes this SET OF as given, unsorted, and the
    // EST answer of an enrollment has the device certificate first.
    std::vector<der_certificate> out;
    der::reader set(certificates.value);
    while (!set.empty()) {
        const std::string which = "certificate " + std::to_string(out.size() + 1);
        der::element certificate;
        if (const char* why = set.next(certificate))
            throw malformed(source, which + ": " + why);
        pkcs7_impl::check_certificate_shape(certificate, source, which);
        out.emplace_back(certificate.whole.begin(), certificate.whole.end());
    }
    if (out.empty())
        throw malformed(source, "no certificate: the certificate set is empty");
    return out;
}

C8Y_MTLS_DECL std::vector<der_certificate> certificates_from_est_answer(std::string_view body, std::string_view source)
{
    using pkcs7_impl::malformed;
    const auto bytes = [](std::string_view text) {
        return byte_view(reinterpret_cast<const unsigned char*>(text.data()), text.size());
    };
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };

    // Binary: a SEQUENCE with a long or indefinite length, never text (base64 is ASCII).
    if (body.size() >= 2 && static_cast<unsigned char>(body[0]) == der::sequence &&
        (static_cast<unsigned char>(body[1]) & 0x80) != 0)
        return certificates_from_pkcs7(bytes(body), source);

    if (body.find("-----BEGIN ") != std::string_view::npos) {
        try {
            std::vector<der_certificate> out = pem_certificates(body, source);
            for (std::size_t i = 0; i < out.size(); ++i) {
                const std::string which = "certificate " + std::to_string(i + 1) + " (PEM)";
                der::reader r(out[i]);
                der::element certificate;
                if (const char* why = r.next(certificate))
                    throw malformed(source, which + ": " + why);
                if (!r.empty())
                    throw malformed(source, which + ": bytes after the certificate");
                pkcs7_impl::check_certificate_shape(certificate, source, which);
            }
            if (!out.empty())
                return out;
            for (const pem_block& block : pem_blocks(body, source)) {
                if (block.label != "PKCS7" && block.label != "CMS")
                    continue;
                const std::string der =
                    pem_decode(block, std::string(source) + ": " + std::string(block.label) + " block");
                auto more = certificates_from_pkcs7(bytes(der), source);
                out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
            }
            if (out.empty())
                throw malformed(source, "PEM without a CERTIFICATE or PKCS7 block");
            return out;
        } catch (const error& e) {
            if (e.code() != errc::pem_malformed)
                throw;
            throw error(errc::est_answer_malformed, "EST answer: " + e.detail());
        }
    }

    std::optional<std::string> der;
    base64_error why;
    {
        std::string text;
        text.reserve(body.size());
        for (const char c : body)
            if (!space(c))
                text += c;
        if (text.empty())
            throw malformed(source, "empty body");
        der = base64_decode(text, &why);
    }
    if (!der) {
        // The offset in the body as received, line breaks counted.
        std::size_t at = 0;
        for (std::size_t seen = 0; at < body.size(); ++at)
            if (!space(body[at]) && seen++ == why.offset)
                break;
        throw malformed(source, "neither PEM, base64 nor binary PKCS#7: base64 broken at byte " + std::to_string(at) +
                                    " (" + why.reason + "); the body begins " + detail::quoted(body, 60));
    }
    return certificates_from_pkcs7(bytes(*der), source);
}

} // namespace c8y::mtls::detail
