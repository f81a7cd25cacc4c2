// c8y-mtls: the definitions credentials.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/credentials.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::vector<der_certificate> certificates_from_pem(std::string_view pem, std::string_view source)
{
    std::vector<der_certificate> certificates = pem_certificates(pem, source);
    for (std::size_t i = 0; i < certificates.size(); ++i)
        parsed_or_throw(certificates[i], std::string(source) + ": certificate " + std::to_string(i + 1));
    return certificates;
}

C8Y_MTLS_DECL bool is_private_key_label(std::string_view label)
{
    return label == "PRIVATE KEY" || label == "ENCRYPTED PRIVATE KEY" || label == "RSA PRIVATE KEY" ||
           label == "EC PRIVATE KEY";
}

} // namespace c8y::mtls::detail

namespace c8y::mtls {

C8Y_MTLS_DECL std::string credentials::device_common_name() const
{
    if (chain_.empty())
        throw error(errc::no_certificate, "credentials::none() has no device certificate, and the MQTT client "
                                          "needs one: load the device's chain and key");
    const auto parsed = detail::parsed_or_throw(chain_.front(), "the device certificate");
    return detail::common_name(parsed.subject).value_or(std::string());
}

C8Y_MTLS_DECL auto truststore::from_pem(std::string_view pem, std::string_view source) -> truststore
{
    truststore t;
    t.certificates_ = detail::certificates_from_pem(pem, source);
    if (t.certificates_.empty())
        throw error(errc::truststore_empty, std::string(source));
    return t;
}

C8Y_MTLS_DECL auto truststore::from_path(const std::filesystem::path& path, std::size_t max_file_bytes) -> truststore
{
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec))
        return from_pem(read_file(path, max_file_bytes), path.string());
    truststore t;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec))
        if (entry.is_regular_file())
            files.push_back(entry.path());
    if (ec)
        throw error(errc::file_unreadable, path.string() + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& file : files)
        for (auto& der : detail::certificates_from_pem(read_file(file, max_file_bytes), file.string()))
            t.certificates_.push_back(std::move(der));
    if (t.certificates_.empty())
        throw error(errc::truststore_empty, path.string() + ": no PEM certificate in the directory");
    return t;
}

} // namespace c8y::mtls
