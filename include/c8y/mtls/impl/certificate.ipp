// c8y-mtls: the definitions certificate.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/certificate.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL auto certificate::from_der(std::span<const unsigned char> der, std::string_view source) -> certificate
{
    return certificate(der_certificate(der.begin(), der.end()), source);
}

C8Y_MTLS_DECL auto certificate::from_der(der_certificate der, std::string_view source) -> certificate
{
    return certificate(std::move(der), source);
}

C8Y_MTLS_DECL auto certificate::from_pem(std::string_view pem, std::string_view source) -> std::vector<certificate>
{
    std::vector<certificate> out;
    for (auto& der : detail::pem_certificates(pem, source))
        out.push_back(certificate(std::move(der),
                                  std::string(source) + ": certificate " + std::to_string(out.size() + 1)));
    return out;
}

C8Y_MTLS_DECL std::string certificate::serial() const
{
    return detail::hex(parsed().serial, detail::hex_upper);
}

C8Y_MTLS_DECL bool certificate::named_as_issued_by(const certificate& other) const
{
    return detail::same_name(parsed().issuer, other.parsed().subject);
}

C8Y_MTLS_DECL auto certificate::extensions() const -> std::vector<certificate_extension>
{
    std::vector<certificate_extension> out;
    detail::der::reader list(parsed().extensions);
    detail::der::element extension, oid, critical;
    while (!list.empty() && !list.next(detail::der::sequence, extension)) {
        detail::der::reader fields(extension.value);
        if (fields.next(detail::der::object_identifier, oid))
            break;
        certificate_extension e;
        e.oid = detail::der::oid_text(oid.value);
        e.name = extension_name(e.oid);
        e.critical = fields.next_is(detail::der::boolean) && !fields.next(critical) && critical.value.size() == 1 &&
                     critical.value[0] != 0;
        out.push_back(std::move(e));
    }
    return out;
}

C8Y_MTLS_DECL certificate::certificate(der_certificate der, std::string_view source)
{
    auto read = std::make_shared<read_certificate>();
    read->der = std::move(der);
    read->parsed = detail::parsed_or_throw(read->der, std::string(source));
    read_ = std::move(read);
}

C8Y_MTLS_DECL std::string certificate::extension_name(std::string_view oid)
{
    static constexpr std::pair<std::string_view, std::string_view> names[] = {
        {"2.5.29.14", "subjectKeyIdentifier"},   {"2.5.29.15", "keyUsage"},
        {"2.5.29.17", "subjectAltName"},         {"2.5.29.18", "issuerAltName"},
        {"2.5.29.19", "basicConstraints"},       {"2.5.29.30", "nameConstraints"},
        {"2.5.29.31", "cRLDistributionPoints"},  {"2.5.29.32", "certificatePolicies"},
        {"2.5.29.35", "authorityKeyIdentifier"}, {"2.5.29.36", "policyConstraints"},
        {"2.5.29.37", "extendedKeyUsage"},       {"2.5.29.54", "inhibitAnyPolicy"},
        {"1.3.6.1.5.5.7.1.1", "authorityInfoAccess"},
    };
    for (const auto& [known, name] : names)
        if (known == oid)
            return std::string(name);
    return std::string(oid);
}

} // namespace c8y::mtls
