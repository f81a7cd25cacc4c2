// c8y-mtls: private keys that never leave a PKCS#11 token (a secure element, a TPM 2.0 through
// its PKCS#11 module, an HSM), named by a PKCS#11 URI (RFC 7512).
#pragma once

#include "c8y/mtls/config.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/secret.hpp"

namespace c8y::mtls {

/// A PKCS#11 URI (RFC 7512) read into its attributes: which token (`token`, `manufacturer`,
/// `model`, `serial`, `slot-id`, `slot-description`, `slot-manufacturer`,
/// `library-manufacturer`, `library-description`) and which object (`object`: CKA_LABEL, `id`:
/// CKA_ID, `type`). Empty means "any". `module-path` and `module-name` are read from the query;
/// `pin-value` and `pin-source` are refused: the PIN is given apart, so that it never sits in a
/// command line, a configuration file or a log with the URI.
///
/// Values are percent-decoded. An attribute the RFC does not define, one given twice, a `type`
/// other than those of the RFC and a `slot-id` that is not a number are refused with
/// errc::pkcs11_uri_malformed naming the attribute.
struct pkcs11_uri {
    std::string token;
    std::string manufacturer;
    std::string model;
    std::string serial;
    std::optional<unsigned long> slot_id;
    std::string slot_description;
    std::string slot_manufacturer;
    std::string library_manufacturer;
    std::string library_description;
    std::string object;             ///< CKA_LABEL
    std::vector<unsigned char> id;  ///< CKA_ID
    std::string type;               ///< "private", "public", "cert", "secret-key", "data" or empty
    std::string module_path;        ///< the query's module-path
    std::string module_name;        ///< the query's module-name

    /// Reads `text` ("pkcs11:token=device;object=key?module-path=/usr/lib/softhsm/libsofthsm2.so").
    C8Y_MTLS_DECL static pkcs11_uri parse(std::string_view text);

    /// The URI again, every value percent-encoded where RFC 7512 asks it: for messages and for
    /// telling a user what to pass.
    C8Y_MTLS_DECL std::string text() const;

    /// Whether the URI names an object (by label or id).
    bool names_object() const noexcept { return !object.empty() || !id.empty(); }
};

/// A private key in a token, as credentials hold it: the module that reaches the token, the
/// URI of the key, the user PIN (wiped when the last copy goes) and, once the key was found, its
/// public key (DER SubjectPublicKeyInfo, read from the token) for the chain validator's
/// private-key rule. The key itself is never read: the backend signs inside the token.
struct pkcs11_key {
    std::filesystem::path module;
    pkcs11_uri uri;
    secret_string pin;
    std::vector<unsigned char> public_key_info;

    /// The key `key_uri` names, reached through `module` (empty: the URI's module-path) and
    /// unlocked with `pin`; not looked for yet. Throws pkcs11_uri_malformed, and
    /// pkcs11_module_unloadable when no module is named.
    C8Y_MTLS_DECL static pkcs11_key named(const std::filesystem::path& module, std::string_view key_uri,
                                          secret_string pin);
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/pkcs11.ipp"
#endif
