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
    c.json = std::string(body);
    return c;
}

} // namespace c8y::mtls::provisioning
