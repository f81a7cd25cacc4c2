// c8y-mtls: provisioning without the OpenSSL recipe: keys, the CA, intermediate and device
// certificates of the platform guide, CSRs, chain files, PKCS#12 keystores, the bulk
// registration CSV and the proof of possession of an uploaded CA.
#pragma once

#include "c8y/mtls/config.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/csv.hpp"
#include "c8y/mtls/detail/pem.hpp"
#include "c8y/mtls/detail/pkcs8.hpp"
#include "c8y/mtls/detail/secure_memory.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/error.hpp"

// The cryptography (key generation, signing, encryption, PKCS#12) is the Crypto policy's, `K`
// in every template here, wolfSSL's by default (c8y/mtls/wolfssl/crypto.hpp, which c8y/mtls.hpp
// includes); what is written here is neutral: PEM, chain order, the CSV.
namespace c8y::mtls {
namespace detail {
inline std::span<const unsigned char> bytes_of(const secure_bytes& b) noexcept { return {b.data(), b.size()}; }
} // namespace detail

namespace provisioning {

/// The key types the SDK makes (the platform refuses RSA of 1024 bits or fewer).
enum class key_type { rsa2048, rsa3072, rsa4096, ec256, ec384 };

/// A private key, kept as PKCS#8 DER in memory wiped when the key is destroyed. Move-only.
class private_key {
public:
    /// A new key from the backend's random number generator.
    template <class K = default_crypto>
    static private_key generate(key_type type)
    {
        switch (type) {
        case key_type::rsa2048: return private_key(K::generate_private_key(key_algorithm::rsa, 2048));
        case key_type::rsa3072: return private_key(K::generate_private_key(key_algorithm::rsa, 3072));
        case key_type::rsa4096: return private_key(K::generate_private_key(key_algorithm::rsa, 4096));
        case key_type::ec256: return private_key(K::generate_private_key(key_algorithm::ec, 256));
        case key_type::ec384: return private_key(K::generate_private_key(key_algorithm::ec, 384));
        }
        throw error(errc::invalid_argument, "unknown key type");
    }

    /// A PEM key (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1, as the guide's `openssl genrsa
    /// -aes256` or `openssl ecparam -genkey` make them); the password is used once and wiped.
    template <class K = default_crypto>
    static private_key from_pem(std::string_view pem, std::string_view password = {}, std::string_view source = "memory")
    {
        return private_key(detail::private_key_from_pem<K>(pem, password, source));
    }

    /// A new key pair made inside a PKCS#11 token, for a device whose key never leaves it:
    /// `key_uri` (RFC 7512) names the new key's label (`object=`, required) and its id (`id=`, a
    /// random 8 bytes when absent, then written into token_key()->uri); `module` is the token's
    /// PKCS#11 module (empty: the URI's module-path). The private key is sensitive and never
    /// extractable; this object holds its public key and the way to reach it, which certificate
    /// requests (signed in the token) and certificates need. Refused with key_generation_failed
    /// when the token already holds a private key of that label or id (a key is never
    /// replaced), and with the errors of credentials::from_pkcs11().
    template <class K = default_crypto>
    static private_key generate_in_token(const std::filesystem::path& module, std::string_view key_uri,
                                         secret_string pin, key_type type)
    {
        auto key = std::make_shared<pkcs11_key>(pkcs11_key::named(module, key_uri, std::move(pin)));
        const bool rsa = type == key_type::rsa2048 || type == key_type::rsa3072 || type == key_type::rsa4096;
        const int bits = type == key_type::rsa2048 ? 2048 : type == key_type::rsa3072 ? 3072
                       : type == key_type::rsa4096 ? 4096 : type == key_type::ec384 ? 384 : 256;
        K::generate_token_key(*key, rsa ? key_algorithm::rsa : key_algorithm::ec, bits);
        private_key made{secure_bytes()};
        made.token_ = std::move(key);
        made.token_rsa_ = rsa;
        made.token_bits_ = bits;
        return made;
    }

    /// A PKCS#8 DER key, as credentials::private_key() holds it. Throws private_key_malformed.
    C8Y_MTLS_DECL static private_key from_der(std::span<const unsigned char> pkcs8, std::string_view source = "memory");

    /// The key as PEM: `-----BEGIN PRIVATE KEY-----` (PKCS#8), or with a password
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PBES2, PBKDF2, AES-256-CBC). The caller wipes the
    /// text of an unencrypted one when done with it (a secret_string does it).
    template <class K = default_crypto>
    std::string to_pem(std::string_view password = {}) const
    {
        if (token_)
            throw error(errc::invalid_argument, "the key " + token_->uri.text() + " stays in its token: it has no PEM");
        if (password.empty())
            return detail::pem_encode("PRIVATE KEY", {der_.data(), der_.size()});
        const secure_bytes encrypted = K::encrypt_private_key({der_.data(), der_.size()}, password);
        return detail::pem_encode("ENCRYPTED PRIVATE KEY", {encrypted.data(), encrypted.size()});
    }

    /// The key as PKCS#8 DER, in the form the credentials loaders give (`credentials::private_key()`);
    /// empty for a key in a token.
    const secure_bytes& der() const noexcept { return der_; }
    /// The key in a token (generate_in_token()), or null.
    const pkcs11_key* token_key() const noexcept { return token_.get(); }
    /// True for RSA keys, false for EC keys.
    bool is_rsa() const { return token_ ? token_rsa_ : info().algorithm == key_algorithm::rsa; }
    /// The key's size in bits (RSA modulus, EC curve).
    int bits() const { return token_ ? token_bits_ : static_cast<int>(info().bits); }
    /// The public key as a DER SubjectPublicKeyInfo.
    template <class K = default_crypto>
    std::vector<unsigned char> public_key_info() const
    {
        if (token_)
            return token_->public_key_info;
        return K::public_key_info({der_.data(), der_.size()});
    }

private:
    explicit private_key(secure_bytes der) : der_(std::move(der)) {}
    C8Y_MTLS_DECL detail::pkcs8_key info() const;
    secure_bytes der_;
    std::shared_ptr<pkcs11_key> token_;
    bool token_rsa_ = false;
    int token_bits_ = 0;
};

/// Throws common_name_invalid unless `cn` can be a device identifier: not empty, no ':' (the
/// platform reads it as the client id's separator).
C8Y_MTLS_DECL void check_common_name(std::string_view cn);

/// What a new certificate says: the CN, and a validity from `not_before` for `days` days.
struct certificate_options {
    std::string common_name;
    std::chrono::sys_seconds not_before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    int days = 365;
};

/// A certificate and the private key that signs with it: a CA, or an intermediate CA.
struct signing_authority {
    der_certificate certificate;
    private_key key;
};


/// A self-signed CA certificate with the guide's v3_ca extensions: subject and authority key
/// ids, critical basicConstraints CA:TRUE (with `pathlen` when given), keyUsage
/// digitalSignature, cRLSign, keyCertSign; SHA-256, a random 16-byte serial.
/// Throws common_name_invalid for a CN with ':', validity_invalid for days <= 0.
template <class K = default_crypto>
der_certificate make_ca_certificate(const private_key& key, const certificate_options& options,
                                    std::optional<int> pathlen = std::nullopt)
{
    check_common_name(options.common_name);
    return K::make_certificate(certificate_template{options.common_name, options.not_before, options.days, true, pathlen}, {},
                               detail::bytes_of(key.der()), {});
}

/// An intermediate CA certificate for `key`, signed by `issuer`, with the v3_ca extensions.
template <class K = default_crypto>
der_certificate make_intermediate_certificate(const private_key& key, const certificate_options& options,
                                              const signing_authority& issuer, std::optional<int> pathlen = std::nullopt)
{
    check_common_name(options.common_name);
    return K::make_certificate(certificate_template{options.common_name, options.not_before, options.days, true, pathlen}, key.public_key_info<K>(),
                               detail::bytes_of(issuer.key.der()), issuer.certificate);
}

/// A device certificate for `key` (CN = the device identifier), signed by `issuer`, with the
/// guide's v3_signed extensions: critical basicConstraints CA:FALSE, keyUsage nonRepudiation,
/// digitalSignature, keyEncipherment; key ids; SHA-256.
template <class K = default_crypto>
der_certificate make_device_certificate(const private_key& key, const certificate_options& options,
                                        const signing_authority& issuer)
{
    check_common_name(options.common_name);
    return K::make_certificate(certificate_template{options.common_name, options.not_before, options.days, false, std::nullopt}, key.public_key_info<K>(),
                               detail::bytes_of(issuer.key.der()), issuer.certificate);
}

/// A PKCS#10 certificate signing request (DER) for the device's key, subject CN=`common_name`:
/// the device keeps its private key and sends only this. SHA-256.
template <class K = default_crypto>
std::vector<unsigned char> make_certificate_request(const private_key& key, const std::string& common_name)
{
    check_common_name(common_name);
    if (const pkcs11_key* in_token = key.token_key())
        return K::make_certificate_request(*in_token, common_name);
    return K::make_certificate_request(detail::bytes_of(key.der()), common_name);
}

/// On the CA side: the device certificate for a request (DER or PEM `CERTIFICATE REQUEST`),
/// with the request's CN and the v3_signed extensions. `options.common_name` is ignored: the
/// CN is the request's. Throws certificate_request_invalid when the request's signature does not
/// verify with its own key, common_name_invalid for a CN with ':'.
template <class K = default_crypto>
der_certificate sign_certificate_request(std::span<const unsigned char> request_der, const certificate_options& options,
                                         const signing_authority& issuer)
{
    const certificate_request_contents request = K::read_certificate_request(request_der);
    certificate_template what = certificate_template{options.common_name, options.not_before, options.days, false, std::nullopt};
    what.common_name = request.common_name;
    check_common_name(what.common_name);
    return K::make_certificate(what, request.public_key_info, detail::bytes_of(issuer.key.der()),
                               issuer.certificate);
}

/// A PEM `CERTIFICATE REQUEST` as DER.
C8Y_MTLS_DECL std::vector<unsigned char> certificate_request_from_pem(std::string_view pem, std::string_view source = "memory");

/// A certificate as PEM (`-----BEGIN CERTIFICATE-----`).
inline std::string certificate_pem(std::span<const unsigned char> der) { return detail::pem_encode("CERTIFICATE", der); }

/// A CSR as PEM (`-----BEGIN CERTIFICATE REQUEST-----`).
C8Y_MTLS_DECL std::string certificate_request_pem(std::span<const unsigned char> der);

/// The chain file the device sends: the certificates in the order given, which must be the
/// guide's (leaf first, each followed by its signer, the uploaded CA included). Throws
/// invalid_argument when a certificate is not followed by its issuer.
C8Y_MTLS_DECL std::string chain_pem(std::span<const der_certificate> leaf_first);

/// A PKCS#12 keystore (DER) of the device key and its chain (leaf first) under `password`,
/// readable by `openssl pkcs12` and by credentials::from_pkcs12.
template <class K = default_crypto>
std::vector<unsigned char> make_pkcs12(const private_key& key, std::span<const der_certificate> leaf_first,
                                       std::string_view password, const std::string& friendly_name = "device")
{
    if (password.empty())
        throw error(errc::keystore_creation_failed, "give a password: the keystore holds the private key");
    if (key.token_key())
        throw error(errc::keystore_creation_failed, "the key stays in its token: a keystore cannot hold it");
    return K::make_keystore(detail::bytes_of(key.der()), leaf_first, password, friendly_name);
}

/// The proof of possession of an uploaded CA: the SHA-256 signature of the platform's
/// verification code (its bytes as given) with the CA's private key, in standard base64 as
/// `openssl dgst -sha256 -sign ca.key | openssl base64 -A` prints it.
template <class K = default_crypto>
std::string sign_verification_code(const private_key& ca_key, std::string_view verification_code)
{
    if (verification_code.empty())
        throw error(errc::invalid_argument, "the verification code is empty");
    const std::vector<unsigned char> signature = K::sign_sha256(detail::bytes_of(ca_key.der()), verification_code);
    return detail::base64_encode({reinterpret_cast<const char*>(signature.data()), signature.size()});
}

/// The platform's limit on an enrollment one-time password (ENROLLMENT_OTP).
inline constexpr std::size_t max_one_time_password_length = 32;

/// A one-time password for enrollment with the platform's certificate authority: `length`
/// characters (1 to 32, the platform's limit) drawn uniformly from A-Z, a-z and 0-9 by the
/// backend's cryptographic random number generator, as thin-edge.io makes them. Throws
/// invalid_argument for another length.
template <class K = default_crypto>
secret_string make_one_time_password(std::size_t length = max_one_time_password_length)
{
    static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // The largest multiple of the alphabet's size a byte holds: bytes above it are drawn again,
    // so that every character is equally likely.
    constexpr unsigned limit = 256 - 256 % alphabet.size();
    if (length == 0 || length > max_one_time_password_length)
        throw error(errc::invalid_argument, "a one-time password has 1 to " +
                                                std::to_string(max_one_time_password_length) + " characters, not " +
                                                std::to_string(length));
    std::string out;
    out.reserve(length);
    secure_bytes random(64);
    while (out.size() < length) {
        K::random_bytes(std::span<unsigned char>(random.data(), random.size()));
        for (std::size_t i = 0; i < random.size() && out.size() < length; ++i)
            if (random.data()[i] < limit)
                out += alphabet[random.data()[i] % alphabet.size()];
    }
    return secret_string(std::move(out));
}

/// One device of a bulk registration (PLATFORM.md's columns; AUTH_TYPE is CERTIFICATES and
/// CREDENTIALS empty for every row).
struct bulk_device {
    std::string id; ///< required: the certificate's CN
    std::string tenant;
    std::string type;
    std::string name;
    std::string iccid;
    std::string idtype; ///< empty: the platform's default, c8y_Serial
    std::string path;
    std::string shell;
    /// The one-time password the device enrolls with (make_one_time_password); empty: none.
    /// The column ENROLLMENT_OTP is written when a device has one.
    secret_string enrollment_otp;
};

/// The CSV file of POST /devicecontrol/bulkNewDeviceRequests: a header line, one row a device,
/// `separator` ',' ';' or tab; with the column ENROLLMENT_OTP when a device has a one-time
/// password (the text then holds secrets: keep it as such). Throws bulk_registration_invalid
/// listing each invalid row by its number (1 = the first device) and the cause: ID missing or
/// with ':', ICCID, IDTYPE, PATH or SHELL without both TYPE and NAME, a one-time password over
/// 32 characters or with a character that is not printable ASCII (a space included).
C8Y_MTLS_DECL std::string bulk_registration_csv(std::span<const bulk_device> devices, char separator = ',');

} // namespace provisioning
} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/provisioning.ipp"
#endif
