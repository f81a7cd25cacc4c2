// c8y-mtls: a small owning view of one DER certificate through wolfSSL's X.509 API.
#pragma once

#include "c8y/mtls/config.hpp"

#include <wolfssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

using der_bytes = std::vector<unsigned char>;

class x509_certificate {
public:
    explicit x509_certificate(const der_bytes& der)
        : cert_(wolfSSL_X509_load_certificate_buffer(der.data(), static_cast<int>(der.size()), WOLFSSL_FILETYPE_ASN1))
    {
        if (!cert_)
            throw error(errc::pem_malformed, "certificate cannot be parsed (not DER X.509)");
    }

    std::string subject() const { return name_line(wolfSSL_X509_get_subject_name(cert_.get())); }
    std::string issuer() const { return name_line(wolfSSL_X509_get_issuer_name(cert_.get())); }

    /// The subject's common name, or an empty string when it has none.
    std::string common_name() const
    {
        WOLFSSL_X509_NAME* name = wolfSSL_X509_get_subject_name(cert_.get());
        char buffer[256] = {};
        const int n = wolfSSL_X509_NAME_get_text_by_NID(name, NID_commonName, buffer, sizeof buffer);
        return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
    }

    /// True when this certificate's issuer name is the other's subject name.
    bool named_as_issued_by(const x509_certificate& other) const
    {
        return wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_issuer_name(cert_.get()),
                                     wolfSSL_X509_get_subject_name(other.cert_.get())) == 0;
    }

private:
    static std::string name_line(WOLFSSL_X509_NAME* name)
    {
        if (!name)
            return {};
        char buffer[512] = {};
        const char* line = wolfSSL_X509_NAME_oneline(name, buffer, sizeof buffer);
        return line ? std::string(line) : std::string();
    }

    struct deleter {
        void operator()(WOLFSSL_X509* x) const noexcept { wolfSSL_X509_free(x); }
    };
    std::unique_ptr<WOLFSSL_X509, deleter> cert_;
};

} // namespace c8y::mtls::detail
