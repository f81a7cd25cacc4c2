// c8y-mtls: the definitions provisioning.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/provisioning.hpp"

namespace c8y::mtls::provisioning {

C8Y_MTLS_DECL auto private_key::from_der(std::span<const unsigned char> pkcs8, std::string_view source) -> private_key
{
    return private_key(detail::pkcs8_from("PRIVATE KEY", pkcs8, std::string(source)));
}

C8Y_MTLS_DECL auto private_key::info() const -> detail::pkcs8_key
{
    const auto key = detail::read_pkcs8({der_.data(), der_.size()});
    if (!key)
        throw error(errc::private_key_malformed, "the key is not PKCS#8 RSA or EC");
    return *key;
}

C8Y_MTLS_DECL void check_common_name(std::string_view cn)
{
    if (cn.empty())
        throw error(errc::common_name_invalid, "the CN is empty");
    if (cn.find(':') != std::string_view::npos)
        throw error(errc::common_name_invalid, "CN '" + std::string(cn) +
                                                   "' contains ':', which the platform reads as the ClientId's separator");
}

C8Y_MTLS_DECL std::vector<unsigned char> certificate_request_from_pem(std::string_view pem, std::string_view source)
{
    for (const detail::pem_block& block : detail::pem_blocks(pem, source)) {
        if (block.label != "CERTIFICATE REQUEST" && block.label != "NEW CERTIFICATE REQUEST")
            continue;
        const std::string der = detail::pem_decode(block, std::string(source) + ": the CERTIFICATE REQUEST block");
        return {der.begin(), der.end()};
    }
    throw error(errc::pem_malformed, std::string(source) + ": no CERTIFICATE REQUEST block");
}

C8Y_MTLS_DECL std::string certificate_request_pem(std::span<const unsigned char> der)
{
    return detail::pem_encode("CERTIFICATE REQUEST", der);
}

C8Y_MTLS_DECL std::string chain_pem(std::span<const der_certificate> leaf_first)
{
    if (leaf_first.empty())
        throw error(errc::invalid_argument, "an empty chain");
    std::string out;
    for (std::size_t i = 0; i < leaf_first.size(); ++i) {
        if (i + 1 < leaf_first.size()) {
            const auto subject = detail::parsed_or_throw(leaf_first[i], "certificate " + std::to_string(i + 1));
            const auto issuer = detail::parsed_or_throw(leaf_first[i + 1], "certificate " + std::to_string(i + 2));
            if (!detail::same_name(subject.issuer, issuer.subject))
                throw error(errc::invalid_argument, "chain order: certificate " + std::to_string(i + 2) +
                                                        " is not the issuer of certificate " + std::to_string(i + 1) +
                                                        " (the guide's order is leaf first, then each signer)");
        }
        out += certificate_pem(leaf_first[i]);
    }
    return out;
}

C8Y_MTLS_DECL std::string bulk_registration_csv(std::span<const bulk_device> devices, char separator)
{
    if (separator != ',' && separator != ';' && separator != '\t')
        throw error(errc::invalid_argument, "the separator must be ',', ';' or a tab");
    if (devices.empty())
        throw error(errc::bulk_registration_invalid, "no device to register");
    constexpr std::array<std::string_view, 11> header{"ID",     "AUTH_TYPE", "CREDENTIALS", "TENANT",
                                                      "TYPE",   "NAME",      "ICCID",       "IDTYPE",
                                                      "PATH",   "SHELL",     "ENROLLMENT_OTP"};
    constexpr std::array<bool, 11> always{true, true, false, false, false, false, false, false, false, false, false};
    std::vector<std::array<std::string, 11>> rows;
    std::string problems;
    for (std::size_t i = 0; i < devices.size(); ++i) {
        const bulk_device& d = devices[i];
        const std::string_view otp = d.enrollment_otp.view();
        std::string why;
        if (d.id.empty())
            why = "ID is required";
        else if (d.id.find(':') != std::string::npos)
            why = "ID '" + d.id + "' contains ':' (it must equal the certificate's CN, which cannot)";
        else if ((!d.iccid.empty() || !d.idtype.empty() || !d.path.empty() || !d.shell.empty()) &&
                 (d.type.empty() || d.name.empty()))
            why = "ICCID, IDTYPE, PATH and SHELL need TYPE and NAME too";
        else if (otp.size() > max_one_time_password_length)
            why = "ENROLLMENT_OTP has " + std::to_string(otp.size()) + " characters, more than the platform's " +
                  std::to_string(max_one_time_password_length);
        else if (std::any_of(otp.begin(), otp.end(), [](char c) { return c <= ' ' || c > '~'; }))
            why = "ENROLLMENT_OTP holds a character that is not printable ASCII";
        if (!why.empty()) {
            problems += problems.empty() ? "" : "; ";
            problems += "row " + std::to_string(i + 1) + (d.id.empty() ? "" : " (" + d.id + ")") + ": " + why;
            continue;
        }
        rows.push_back({d.id, "CERTIFICATES", "", d.tenant, d.type, d.name, d.iccid, d.idtype, d.path, d.shell,
                        std::string(otp)});
    }
    if (!problems.empty())
        throw error(errc::bulk_registration_invalid, problems);
    std::string table = detail::csv_table(header, rows, always, separator);
    for (auto& row : rows)
        wipe(row.back());
    return table;
}

} // namespace c8y::mtls::provisioning
