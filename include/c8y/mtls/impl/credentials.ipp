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

C8Y_MTLS_DECL std::vector<der_certificate> unprotected_trusted_certificates(byte_view bytes, std::string_view source)
{
    const std::string where(source);
    const store_format format = recognise_store(bytes);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    switch (format) {
    case store_format::jks:
    case store_format::jceks:
    case store_format::pkcs12:
        throw error(errc::keystore_password_wrong,
                    where + ": " + std::string(store_format_name(format)) +
                        " (a truststore?), whose integrity is checked with its store password: give it");
    case store_format::pem: {
        std::vector<der_certificate> certificates = certificates_from_pem(text, where);
        if (certificates.empty())
            throw error(errc::truststore_empty, where + ": a PEM file of " + pem_labels(text, where) + " and no certificate");
        return certificates;
    }
    case store_format::der_certificate: {
        std::vector<der_certificate> certificates{der_certificate(bytes.begin(), bytes.end())};
        parsed_or_throw(certificates.front(), where);
        return certificates;
    }
    case store_format::unknown:
        // Text without PEM armour, as from_pem() has always been given: no certificate in it.
        throw error(errc::truststore_empty, where);
    default:
        throw error(errc::truststore_empty,
                    where + ": " + std::string(store_format_name(format)) + ", not a truststore: it holds no certificate" +
                        (format == store_format::pkcs7 ? " as PEM or DER (openssl pkcs7 -print_certs writes them as PEM)"
                                                       : ""));
    }
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
    if (!std::filesystem::is_directory(path, ec)) {
        const std::string content = read_file(path, max_file_bytes);
        truststore t;
        t.certificates_ = detail::unprotected_trusted_certificates(
            {reinterpret_cast<const unsigned char*>(content.data()), content.size()}, path.string());
        return t;
    }
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
