// c8y-mtls: one X.509 certificate, read: what a person or a tool asks of it (names, serial,
// validity, key, extensions, fingerprint). Pure DER code; the fingerprint's hash is a backend's.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/file.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/detail/x509_pem.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

/// One extension of a certificate.
struct certificate_extension {
    std::string oid;  ///< dotted ("2.5.29.19")
    std::string name; ///< "basicConstraints", or the OID when the SDK has no name for it
    bool critical = false;
};

/// A certificate, read once from its DER and immutable; copies share it. Throws
/// error(errc::pem_malformed) naming why bytes are not a certificate.
class certificate {
public:
    static certificate from_der(std::span<const unsigned char> der, std::string_view source = "certificate")
    {
        return certificate(der_certificate(der.begin(), der.end()), source);
    }
    static certificate from_der(der_certificate der, std::string_view source = "certificate")
    {
        return certificate(std::move(der), source);
    }

    /// Every CERTIFICATE block of PEM text, in order.
    static std::vector<certificate> from_pem(std::string_view pem, std::string_view source = "memory")
    {
        std::vector<certificate> out;
        for (auto& der : detail::pem_certificates(pem, source))
            out.push_back(certificate(std::move(der),
                                      std::string(source) + ": certificate " + std::to_string(out.size() + 1)));
        return out;
    }

    /// The same from a regular file of at most `max_file_bytes` (file_unreadable otherwise).
    static std::vector<certificate> from_pem_file(const std::filesystem::path& file,
                                                  std::size_t max_file_bytes = default_max_file_bytes)
    {
        return from_pem(read_file(file, max_file_bytes), file.string());
    }

    const der_certificate& der() const noexcept { return read_->der; }

    /// The subject in one-line form, "/C=DE/O=Acme/CN=device-0001".
    std::string subject() const { return detail::name_text(parsed().subject); }
    std::string issuer() const { return detail::name_text(parsed().issuer); }
    /// The subject's first CN (the platform's device id for a device certificate); empty when none.
    std::string common_name() const { return detail::common_name(parsed().subject).value_or(std::string()); }
    /// The serial number in upper-case hex, as `openssl x509 -serial` prints it.
    std::string serial() const
    {
        return detail::hex(parsed().serial, detail::hex_upper);
    }
    int version() const noexcept { return parsed().version; }
    std::chrono::sys_seconds not_before() const noexcept { return parsed().not_before; }
    std::chrono::sys_seconds not_after() const noexcept { return parsed().not_after; }
    /// The public key: "RSA 2048", "EC P-256", "Ed25519", ...
    std::string key() const { return detail::key_text(parsed().key); }
    /// The key's size in bits (RSA modulus, EC curve); 0 when unknown.
    std::size_t key_bits() const noexcept { return parsed().key.bits; }
    /// "ECDSA with SHA-256", "RSA PKCS#1 v1.5 with SHA-256", ...
    std::string signature_algorithm() const { return detail::signature_text(parsed().signature_algorithm); }
    /// The DER SubjectPublicKeyInfo.
    std::span<const unsigned char> public_key_info() const noexcept { return parsed().public_key_info; }

    /// basicConstraints CA:TRUE.
    bool is_ca() const noexcept { return parsed().is_ca; }
    std::optional<std::uint64_t> path_length() const noexcept { return parsed().path_length; }
    /// Issuer and subject are the same name (a root, or a key rollover).
    bool self_issued() const { return parsed().self_issued(); }
    /// This certificate's issuer is `other`'s subject (RFC 5280 name comparison); says nothing
    /// of the signature, which chain_validator checks.
    bool named_as_issued_by(const certificate& other) const
    {
        return detail::same_name(parsed().issuer, other.parsed().subject);
    }

    std::vector<certificate_extension> extensions() const
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

    /// The hash of the DER in lower-case hex: SHA-256 by default; the platform names uploaded
    /// certificates by their SHA-1 fingerprint. `K` is the Crypto policy that hashes.
    template <class K = default_crypto>
    std::string fingerprint(hash_function hash = hash_function::sha256) const
    {
        return detail::hex(K::digest(hash, read_->der));
    }

private:
    struct read_certificate {
        der_certificate der;
        detail::parsed_certificate parsed;
    };

    certificate(der_certificate der, std::string_view source)
    {
        auto read = std::make_shared<read_certificate>();
        read->der = std::move(der);
        read->parsed = detail::parsed_or_throw(read->der, std::string(source));
        read_ = std::move(read);
    }

    const detail::parsed_certificate& parsed() const noexcept { return read_->parsed; }

    static std::string extension_name(std::string_view oid)
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

    // Shared and immutable: the parsed views point into `der`, which never moves.
    std::shared_ptr<const read_certificate> read_;
};

} // namespace c8y::mtls
