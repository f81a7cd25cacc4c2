// c8y-mtls: the definitions platform_admin.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/platform_admin.hpp"

namespace c8y::mtls::provisioning {

C8Y_MTLS_DECL trusted_certificate read_trusted_certificate(std::string_view body, std::string_view what)
{
    using mtls::detail::bool_member;
    using mtls::detail::string_member;
    const mtls::detail::json_object o = mtls::detail::answer_object(body, what);
    trusted_certificate c;
    c.fingerprint = string_member(o, "fingerprint", what, true);
    c.name = string_member(o, "name", what);
    c.status = string_member(o, "status", what);
    c.auto_registration_enabled = bool_member(o, "autoRegistrationEnabled", what);
    c.certificate_pem = string_member(o, "certInPemFormat", what);
    c.subject = string_member(o, "subject", what);
    c.issuer = string_member(o, "issuer", what);
    c.serial_number = string_member(o, "serialNumber", what);
    c.not_before = string_member(o, "notBefore", what);
    c.not_after = string_member(o, "notAfter", what);
    c.algorithm_name = string_member(o, "algorithmName", what);
    c.proof_of_possession_valid = bool_member(o, "proofOfPossessionValid", what);
    c.verification_code = string_member(o, "proofOfPossessionUnsignedVerificationCode", what);
    c.verification_code_usable_until = string_member(o, "proofOfPossessionVerificationCodeUsableUntil", what);
    c.tenant_certificate_authority = bool_member(o, "tenantCertificateAuthority", what);
    c.json = std::string(body);
    return c;
}

C8Y_MTLS_DECL bulk_registration_result read_bulk_registration_result(std::string_view body, std::string_view what)
{
    using mtls::detail::count_member;
    using mtls::detail::string_member;
    const mtls::detail::json_object o = mtls::detail::answer_object(body, what);
    bulk_registration_result r;
    r.all = count_member(o, "numberOfAll", what);
    r.created = count_member(o, "numberOfCreated", what);
    r.failed = count_member(o, "numberOfFailed", what);
    r.successful = count_member(o, "numberOfSuccessful", what);
    for (const mtls::detail::json_object& row : mtls::detail::object_list_member(o, "credentialUpdatedList", what))
        r.credentials_updated.push_back(string_member(row, "deviceId", what));
    for (const mtls::detail::json_object& row : mtls::detail::object_list_member(o, "failedCreationList", what))
        r.failures.push_back({string_member(row, "deviceId", what), string_member(row, "failureReason", what),
                              string_member(row, "line", what)});
    r.json = std::string(body);
    return r;
}

C8Y_MTLS_DECL std::pair<std::string, std::string> multipart_file(std::string_view field, std::string_view file_name,
                                                                 std::string_view content)
{
    // RFC 2046 5.1.1: the boundary must not occur in the content.
    std::string boundary = "c8y-mtls-form-boundary";
    while (content.find(boundary) != std::string_view::npos)
        boundary += "-x";
    std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=" + mtls::detail::quoted(field) +
                       "; filename=" + mtls::detail::quoted(file_name) + "\r\nContent-Type: text/csv\r\n\r\n";
    body += content;
    body += "\r\n--" + boundary + "--\r\n";
    return {std::move(body), "multipart/form-data; boundary=" + boundary};
}

} // namespace c8y::mtls::provisioning
