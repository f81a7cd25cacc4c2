// c8y-mtls: the fields of an X.509 certificate (RFC 5280) that the chain validator judges, read
// from DER without copying: names, validity, key, signature, and the path-building extensions.
#pragma once

#include "c8y/mtls/config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

enum class x509_key_type { rsa, ec, ed25519, ed448, other };
enum class x509_curve { none, p256, p384, p521, other };

/// A certificate's signature algorithm. `known` is false for an algorithm the validator cannot
/// check (MD2, DSA, EdDSA, PSS with unusual parameters, ...): `oid` names it then.
struct x509_signature_algorithm {
    bool known = false;
    signature_scheme scheme = signature_scheme::rsa_pkcs1_v1_5;
    hash_function hash = hash_function::sha256;
    std::size_t pss_salt_length = 0;
    byte_view oid;
};

struct x509_public_key {
    x509_key_type type = x509_key_type::other;
    x509_curve curve = x509_curve::none;
    std::size_t bits = 0; ///< RSA modulus or EC field size; 0 when unknown
    byte_view algorithm;  ///< the key's algorithm OID
    byte_view parameter;  ///< the named curve's OID for EC keys
};

/// The parts of one certificate the rules need. Views point into the DER it was read from.
struct parsed_certificate {
    byte_view der;
    byte_view tbs;  ///< the signed part, its encoding whole
    int version = 1; ///< 1, 2 or 3
    x509_signature_algorithm signature_algorithm;
    byte_view serial;  ///< content of the serialNumber INTEGER
    byte_view issuer;  ///< content of the issuer Name
    byte_view subject; ///< content of the subject Name
    std::chrono::sys_seconds not_before{};
    std::chrono::sys_seconds not_after{};
    byte_view public_key_info; ///< the whole SubjectPublicKeyInfo
    x509_public_key key;
    byte_view signature;

    bool has_basic_constraints = false;
    bool is_ca = false;
    std::optional<std::uint64_t> path_length;
    bool has_key_usage = false;
    bool key_cert_sign = false;
    bool digital_signature = false; ///< keyUsage digitalSignature (meaningful when has_key_usage)
    bool has_extended_key_usage = false;
    bool server_auth = false;          ///< extendedKeyUsage id-kp-serverAuth (when has_extended_key_usage)
    bool has_subject_alt_name = false;
    byte_view subject_alt_names; ///< content of the subjectAltName's GeneralNames; see for_each_alt_name
    byte_view subject_key_id;   ///< empty when absent
    byte_view authority_key_id; ///< keyIdentifier of the AKI; empty when absent
    byte_view extensions;       ///< content of the Extensions SEQUENCE; empty when absent
    bool basic_constraints_critical = false;
    /// The OID of the first extension that appears twice (only its first copy is read); empty
    /// when none does.
    byte_view duplicate_extension;
    /// The OID of the first extension marked critical that the JDK's PKIX validator, which the
    /// platform runs, does not process (anything but pkix_processed); empty when none is.
    byte_view critical_unprocessed;
    bool aia_critical = false;  ///< authorityInfoAccess marked critical (RFC 5280 4.2.2.1 forbids it)
    bool aia_malformed = false; ///< authorityInfoAccess is not a list of AccessDescriptions

    bool self_issued() const { return same_name(issuer, subject); }
};

namespace x509_impl {

constexpr unsigned char rsa_encryption[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
constexpr unsigned char rsassa_pss[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A};
constexpr unsigned char mgf1[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08};
constexpr unsigned char ec_public_key[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
constexpr unsigned char p256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
constexpr unsigned char p384[] = {0x2B, 0x81, 0x04, 0x00, 0x22};
constexpr unsigned char p521[] = {0x2B, 0x81, 0x04, 0x00, 0x23};
constexpr unsigned char ed25519[] = {0x2B, 0x65, 0x70};
constexpr unsigned char ed448[] = {0x2B, 0x65, 0x71};
constexpr unsigned char basic_constraints[] = {0x55, 0x1D, 0x13};
constexpr unsigned char key_usage[] = {0x55, 0x1D, 0x0F};
constexpr unsigned char subject_key_id[] = {0x55, 0x1D, 0x0E};
constexpr unsigned char authority_key_id[] = {0x55, 0x1D, 0x23};
constexpr unsigned char subject_alt_name[] = {0x55, 0x1D, 0x11};
constexpr unsigned char extended_key_usage[] = {0x55, 0x1D, 0x25};
constexpr unsigned char authority_info_access[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01};
constexpr unsigned char kp_server_auth[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};

struct algorithm_entry {
    unsigned char oid[9];
    std::size_t size;
    signature_scheme scheme;
    hash_function hash;
};

constexpr algorithm_entry signature_algorithms[] = {
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B}, 9, signature_scheme::rsa_pkcs1_v1_5, hash_function::sha256},
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C}, 9, signature_scheme::rsa_pkcs1_v1_5, hash_function::sha384},
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D}, 9, signature_scheme::rsa_pkcs1_v1_5, hash_function::sha512},
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0E}, 9, signature_scheme::rsa_pkcs1_v1_5, hash_function::sha224},
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05}, 9, signature_scheme::rsa_pkcs1_v1_5, hash_function::sha1},
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x04}, 9, signature_scheme::rsa_pkcs1_v1_5, hash_function::md5},
    {{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02}, 8, signature_scheme::ecdsa, hash_function::sha256},
    {{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03}, 8, signature_scheme::ecdsa, hash_function::sha384},
    {{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04}, 8, signature_scheme::ecdsa, hash_function::sha512},
    {{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x01}, 8, signature_scheme::ecdsa, hash_function::sha224},
    {{0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01}, 7, signature_scheme::ecdsa, hash_function::sha1},
};

struct oid_entry {
    unsigned char oid[3];
    std::size_t size;
};

// The extensions the JDK's PKIX validator processes, so that they may be critical: keyUsage,
// subjectAltName, basicConstraints, nameConstraints, certificatePolicies, policyMappings,
// extendedKeyUsage, policyConstraints, inhibitAnyPolicy (sun.security.provider.certpath's
// KeyChecker, ConstraintsChecker and PolicyChecker). A critical one of any other kind ends the
// JDK's validation.
constexpr oid_entry pkix_processed[] = {
    {{0x55, 0x1D, 0x0F}, 3}, {{0x55, 0x1D, 0x11}, 3}, {{0x55, 0x1D, 0x13}, 3},
    {{0x55, 0x1D, 0x1E}, 3}, {{0x55, 0x1D, 0x20}, 3}, {{0x55, 0x1D, 0x21}, 3},
    {{0x55, 0x1D, 0x25}, 3}, {{0x55, 0x1D, 0x24}, 3}, {{0x55, 0x1D, 0x36}, 3},
};

// Real certificates carry a dozen; the bound keeps the duplicate search small on hostile input.
inline constexpr std::size_t max_extensions = 256;

struct hash_entry {
    unsigned char oid[9];
    std::size_t size;
    hash_function hash;
};

constexpr hash_entry hash_algorithms[] = {
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}, 9, hash_function::sha256},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}, 9, hash_function::sha384},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03}, 9, hash_function::sha512},
    {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04}, 9, hash_function::sha224},
    {{0x2B, 0x0E, 0x03, 0x02, 0x1A}, 5, hash_function::sha1},
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05}, 8, hash_function::md5},
};

C8Y_MTLS_DECL std::optional<hash_function> hash_of(byte_view oid);

// AlgorithmIdentifier of a hash: SEQUENCE { OID, NULL OPTIONAL }.
C8Y_MTLS_DECL std::optional<hash_function> hash_algorithm(byte_view algorithm_identifier);

// Non-negative DER INTEGER content as a number, when it fits.
C8Y_MTLS_DECL std::optional<std::uint64_t> small_integer(byte_view value);

// RSASSA-PSS-params (RFC 4055): the same hash for the message and MGF1, trailer field 1.
C8Y_MTLS_DECL void read_pss_parameters(byte_view params, x509_signature_algorithm& out);

// The AlgorithmIdentifier of a signature.
C8Y_MTLS_DECL const char* read_signature_algorithm(const der::element& algorithm, x509_signature_algorithm& out);

C8Y_MTLS_DECL std::size_t bit_length(byte_view unsigned_integer);

C8Y_MTLS_DECL const char* read_public_key(const der::element& spki, x509_public_key& out);

C8Y_MTLS_DECL const char* read_extension(byte_view oid, byte_view value, parsed_certificate& c);

C8Y_MTLS_DECL bool processed_by_pkix(byte_view oid);

// True when an extension before `before` in the Extensions content `list` has `oid`.
C8Y_MTLS_DECL bool earlier_extension(byte_view list, const unsigned char* before, byte_view oid);

// AuthorityInfoAccessSyntax: SEQUENCE SIZE (1..MAX) OF SEQUENCE { OID, GeneralName }.
C8Y_MTLS_DECL bool access_description_list(byte_view value);

C8Y_MTLS_DECL const char* read_extensions(const der::element& explicit_tag, parsed_certificate& c);

} // namespace x509_impl

/// Reads a DER certificate into `out`. Returns an empty string on success, otherwise why the
/// bytes are not an X.509 certificate, in words ("validity: notAfter is not a valid time").
C8Y_MTLS_DECL std::string parse_certificate(byte_view der_bytes, parsed_certificate& out);


/// subjectAltName entries by their GeneralName tag (RFC 5280 4.2.1.6, implicit context tags).
/// A certificate read, or pem_malformed naming `where` and why it is none.
C8Y_MTLS_DECL parsed_certificate parsed_or_throw(byte_view der, const std::string& where);

namespace alt_name {
inline constexpr unsigned char dns = 0x82;        ///< dNSName, an IA5String
inline constexpr unsigned char ip_address = 0x87; ///< iPAddress, 4 or 16 octets
} // namespace alt_name

/// Calls f(tag, value) for every entry of the certificate's subjectAltName, in order (the
/// parser has checked that the entries are DER elements).
template <class F>
void for_each_alt_name(const parsed_certificate& c, F&& f)
{
    der::reader names(c.subject_alt_names);
    der::element name;
    while (!names.empty() && !names.next(name))
        f(name.tag, name.value);
}

C8Y_MTLS_DECL const char* hash_text(hash_function h);

/// "ECDSA with SHA-256", "RSA PKCS#1 v1.5 with SHA-1", or "algorithm 1.3.101.112".
C8Y_MTLS_DECL std::string signature_text(const x509_signature_algorithm& alg);

/// "RSA 2048", "EC P-256", "Ed25519", "EC 1.3.132.0.10".
C8Y_MTLS_DECL std::string key_text(const x509_public_key& key);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/x509_parse.ipp"
#endif
