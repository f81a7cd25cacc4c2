// c8y-mtls: the definitions chain_validator.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/chain_validator.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL auto chain_report::first_error() const noexcept -> const chain_finding*
{
    for (const chain_finding& f : findings_)
        if (f.severity == finding_severity::error)
            return &f;
    return nullptr;
}

C8Y_MTLS_DECL bool chain_report::has(std::string_view rule, finding_severity severity) const noexcept
{
    return std::any_of(findings_.begin(), findings_.end(),
                       [&](const chain_finding& f) { return f.rule == rule && f.severity == severity; });
}

C8Y_MTLS_DECL auto chain_report::to_error() const -> error
{
    const chain_finding* f = first_error();
    if (!f)
        return error(errc::invalid_argument, "the chain report holds no error");
    std::string detail = std::string(f->rule) + ": ";
    if (f->index)
        detail += "certificate " + std::to_string(*f->index) + " (" + f->subject + "): ";
    else if (!f->subject.empty())
        detail += "uploaded certificate " + f->subject + ": ";
    detail += f->message;
    if (errors_ > 1)
        detail += " (and " + std::to_string(errors_ - 1) + " more error" + (errors_ > 2 ? "s" : "") + ")";
    return error(errc::chain_rejected, std::move(detail));
}

C8Y_MTLS_DECL void chain_report::throw_if_rejected() const
{
    if (!ok())
        throw to_error();
}

C8Y_MTLS_DECL std::string chain_report::to_json() const
{
    std::string out = "{\"ok\":";
    out += ok() ? "true" : "false";
    out += ",\"profile\":";
    out += profile_ == chain_profile::guide ? "\"guide\"" : "\"current\"";
    out += ",\"max_chain_length\":" + std::to_string(max_chain_length_);
    out += ",\"checked_at\":\"" + format_time(at_) + "\"";
    out += ",\"checked_trust\":";
    out += checked_trust_ ? "true" : "false";
    out += ",\"verdict\":";
    out += verdict_ == chain_verdict::guide ? "\"guide\"" : "\"platform\"";
    out += ",\"errors\":" + std::to_string(errors_) + ",\"warnings\":" + std::to_string(warning_count());
    out += ",\"certificates\":[";
    for (std::size_t i = 0; i < certificates_.size(); ++i) {
        const chain_certificate& c = certificates_[i];
        out += i ? ",{" : "{";
        out += "\"index\":" + std::to_string(i) + ",\"parsed\":" + (c.parsed ? "true" : "false");
        out += ",\"subject\":" + detail::json_quote(c.subject);
        if (c.parsed) {
            out += ",\"issuer\":" + detail::json_quote(c.issuer);
            out += ",\"not_before\":\"" + format_time(c.not_before) + "\"";
            out += ",\"not_after\":\"" + format_time(c.not_after) + "\"";
            out += ",\"key\":" + detail::json_quote(c.key) + ",\"signature\":" + detail::json_quote(c.signature);
        }
        out += "}";
    }
    out += "],\"findings\":[";
    for (std::size_t i = 0; i < findings_.size(); ++i) {
        const chain_finding& f = findings_[i];
        out += i ? ",{" : "{";
        out += "\"rule\":" + detail::json_quote(f.rule);
        out += ",\"severity\":";
        out += f.severity == finding_severity::error ? "\"error\"" : "\"warning\"";
        out += ",\"basis\":\"" + std::string(basis_name(f.basis)) + "\"";
        out += ",\"index\":" + (f.index ? std::to_string(*f.index) : std::string("null"));
        out += ",\"subject\":" + detail::json_quote(f.subject) + ",\"message\":" + detail::json_quote(f.message) + "}";
    }
    out += "]}";
    return out;
}

C8Y_MTLS_DECL std::string_view basis_name(finding_basis basis) noexcept
{
    switch (basis) {
    case finding_basis::pkix: return "pkix";
    case finding_basis::platform: return "platform";
    case finding_basis::guide: break;
    }
    return "guide";
}

C8Y_MTLS_DECL std::vector<der_certificate> pem_certificates(std::string_view pem, std::string_view source)
{
    return detail::pem_certificates(pem, source);
}

} // namespace c8y::mtls
