// c8y-mtls: one X.509 certificate, read: what a person or a tool asks of it (names, serial,
// validity, key, extensions, fingerprint). Pure DER code; the fingerprint's hash is a backend's.
#pragma once

#include "c8y/mtls/config.hpp"

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
    C8Y_MTLS_DECL static certificate from_der(std::span<const unsigned char> der, std::string_view source = "certificate");
    C8Y_MTLS_DECL static certificate from_der(der_certificate der, std::string_view source = "certificate");

    /// Every CERTIFICATE block of PEM text, in order.
    C8Y_MTLS_DECL static std::vector<certificate> from_pem(std::string_view pem, std::string_view source = "memory");

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
    C8Y_MTLS_DECL std::string serial() const;
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
    C8Y_MTLS_DECL bool named_as_issued_by(const certificate& other) const;

    C8Y_MTLS_DECL std::vector<certificate_extension> extensions() const;

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

    C8Y_MTLS_DECL certificate(der_certificate der, std::string_view source);

    const detail::parsed_certificate& parsed() const noexcept { return read_->parsed; }

    C8Y_MTLS_DECL static std::string extension_name(std::string_view oid);

    // Shared and immutable: the parsed views point into `der`, which never moves.
    std::shared_ptr<const read_certificate> read_;
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/certificate.ipp"
#endif
