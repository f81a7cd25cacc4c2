// c8y-mtls: the definitions platform_admin.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/platform_admin.hpp"

namespace c8y::mtls::provisioning::detail {

C8Y_MTLS_DECL std::string path_segment(std::string_view text)
{
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            mtls::detail::append_hex_byte(out, u, "0123456789ABCDEF");
        }
    }
    return out;
}

C8Y_MTLS_DECL std::string describe_answer(const http::response& answer)
{
    std::string text = "HTTP " + std::to_string(answer.status);
    if (!answer.reason.empty())
        text += " " + answer.reason;
    if (const auto object = mtls::detail::parse_json_object(answer.body)) {
        for (const char* field : {"error", "message"})
            if (const json_value* v = object->find(field); v != nullptr && v->kind == mtls::detail::json_kind::string &&
                                                            !v->text.empty())
                text += ": " + mtls::detail::quoted(v->text, 300);
    } else if (!answer.body.empty()) {
        text += ": " + mtls::detail::quoted(answer.body, 200);
    }
    return text;
}

C8Y_MTLS_DECL mtls::detail::json_object answer_object(std::string_view body, std::string_view what)
{
    mtls::detail::json_error why;
    auto object = mtls::detail::parse_json_object(body, &why);
    if (!object)
        throw error(errc::platform_answer_malformed, std::string(what) + ": not a JSON object (" + why.reason +
                                                         " at byte " + std::to_string(why.offset) + ")");
    return std::move(*object);
}

C8Y_MTLS_DECL bool bool_member(const mtls::detail::json_object& object, std::string_view name, std::string_view what)
{
    const json_value* v = object.find(name);
    if (v == nullptr || v->kind == mtls::detail::json_kind::null)
        return false;
    if (v->raw == "true" || (v->kind == mtls::detail::json_kind::string && v->text == "true"))
        return true;
    if (v->raw == "false" || (v->kind == mtls::detail::json_kind::string && v->text == "false"))
        return false;
    throw error(errc::platform_answer_malformed,
                std::string(what) + ": \"" + std::string(name) + "\" is not a boolean (" + v->raw + ")");
}

C8Y_MTLS_DECL trusted_certificate read_trusted_certificate(std::string_view body, std::string_view what)
{
    const mtls::detail::json_object o = answer_object(body, what);
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

} // namespace c8y::mtls::provisioning::detail
