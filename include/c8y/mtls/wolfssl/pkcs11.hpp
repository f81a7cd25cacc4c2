// c8y-mtls (wolfSSL backend): keys in PKCS#11 tokens. The module is loaded and the token found
// and logged in here, with errors that name what is wrong; the signatures themselves go through
// wolfSSL's PKCS#11 crypto device (wc_Pkcs11_CryptoDevCb), so the key never leaves the token.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/wolfssl/config.hpp"

#include <wolfssl/wolfcrypt/cryptocb.h>
#include <wolfssl/wolfcrypt/wc_pkcs11.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/pkcs11.hpp"

namespace c8y::mtls::detail {

/// "CKR_PIN_INCORRECT" for the return values a user can act on, else the number in hex.
C8Y_MTLS_DECL std::string pkcs11_return_name(CK_RV rv);

/// A PKCS#11 module loaded and initialised once per process and path, shared by every token
/// opened through it; finalised and unloaded with its last user (unless the application had
/// initialised it before, which then finalises it itself).
class pkcs11_module {
public:
    /// Throws pkcs11_module_unloadable naming the path and the loader's reason.
    C8Y_MTLS_DECL static std::shared_ptr<pkcs11_module> load(const std::filesystem::path& path);

    C8Y_MTLS_DECL ~pkcs11_module();
    pkcs11_module(const pkcs11_module&) = delete;
    pkcs11_module& operator=(const pkcs11_module&) = delete;

    CK_FUNCTION_LIST* functions() const noexcept { return device_.func; }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    pkcs11_module() = default;
    std::filesystem::path path_;
    Pkcs11Dev device_{};
    bool finalize_ = false;
};

/// An object of a token, as the errors list them.
struct pkcs11_object {
    CK_OBJECT_HANDLE handle = 0;
    CK_OBJECT_CLASS object_class = 0;
    std::string label;
    std::vector<unsigned char> id;
};

/// A token of a module, logged in as its user, and a wolfSSL crypto device whose operations run
/// in it. Shared per module and slot in the process (a token has one login state per
/// application); every use of its session is serialised.
class pkcs11_token {
public:
    /// The one token `uri` names (or the module's only token when the URI names none), logged in
    /// with `pin` when it asks for a login. Throws pkcs11_module_unloadable, pkcs11_token_missing
    /// (listing the tokens there are), pkcs11_pin_wrong (a wrong or locked PIN, a missing one),
    /// pkcs11_failed.
    C8Y_MTLS_DECL static std::shared_ptr<pkcs11_token> open(const std::filesystem::path& module, const pkcs11_uri& uri,
                                                            std::string_view pin);

    C8Y_MTLS_DECL ~pkcs11_token();
    pkcs11_token(const pkcs11_token&) = delete;
    pkcs11_token& operator=(const pkcs11_token&) = delete;

    /// wolfSSL's device id for this token (wolfSSL_CTX_use_PrivateKey_Id, wc_ecc_init_id).
    int device_id() const noexcept { return device_id_; }
    /// "token 'device-keys' (SoftHSM project, serial 0123)".
    const std::string& description() const noexcept { return description_; }

    /// The objects of `object_class` (any: nullopt) whose label and id are those the URI gives
    /// (any when it gives none).
    C8Y_MTLS_DECL std::vector<pkcs11_object> find(std::optional<CK_OBJECT_CLASS> object_class, const pkcs11_uri& uri);
    /// Every object the user can see, one per line for an error message.
    C8Y_MTLS_DECL std::string listing();
    /// An attribute's value; empty when the object has none (or hides it).
    C8Y_MTLS_DECL std::vector<unsigned char> attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
    /// Whether the token does `mechanism` with all of `flags` (CKF_SIGN...).
    C8Y_MTLS_DECL bool has_mechanism(CK_MECHANISM_TYPE mechanism, CK_FLAGS flags);
    /// A key pair made in the token, private, sensitive and never extractable, kept in the token
    /// (CKA_TOKEN), labelled and identified as given; the private key's handle.
    C8Y_MTLS_DECL CK_OBJECT_HANDLE generate_key_pair(key_algorithm algorithm, int bits, std::string_view label,
                                                     const std::vector<unsigned char>& id);

private:
    pkcs11_token() = default;
    C8Y_MTLS_DECL void log_in(std::string_view pin, bool login_required);
    [[noreturn]] C8Y_MTLS_DECL void fail(const char* function, CK_RV rv) const;
    static int on_operation(int device_id, wc_CryptoInfo* info, void* self);

    std::shared_ptr<pkcs11_module> module_;
    CK_FUNCTION_LIST* f_ = nullptr;
    CK_SLOT_ID slot_ = 0;
    CK_SESSION_HANDLE session_ = 0;
    Pkcs11Token token_{}; // wolfSSL's view: this session, already logged in
    int device_id_ = INVALID_DEVID;
    std::string description_;
    std::vector<unsigned char> pin_digest_; // SHA-256 of the PIN it was opened with, never the PIN
    std::mutex mutex_;
};

/// A private key of a token, found as the URI names it and checked usable for a TLS client's
/// signatures, with its public key.
struct pkcs11_found_key {
    std::shared_ptr<pkcs11_token> token;
    pkcs11_object key;
    key_algorithm algorithm = key_algorithm::ec;
    int bits = 0;
    std::vector<unsigned char> public_key_info; ///< DER SubjectPublicKeyInfo
    bool named_by_id = false;                   ///< the id alone names it in the token, else the label
};

/// Finds the private key `key` names: exactly one private key object must match. Throws
/// pkcs11_object_missing (listing the token's objects), pkcs11_key_unusable (a key of another
/// type or curve, one that may not sign, a token without the mechanism the handshake needs),
/// and what pkcs11_token::open throws.
C8Y_MTLS_DECL pkcs11_found_key find_pkcs11_key(const pkcs11_key& key);

/// The token's certificates for the key (same id, else same label), DER, the key's own first.
C8Y_MTLS_DECL std::vector<der_certificate> pkcs11_certificates(pkcs11_found_key& found, const pkcs11_uri& uri);

/// A new key pair in the token under the label and id of `key.uri` (an 8-byte random id when it
/// gives none); refused when the token already holds a private key of that label or id.
C8Y_MTLS_DECL pkcs11_found_key generate_pkcs11_key(const pkcs11_key& key, key_algorithm algorithm, int bits);

/// A PKCS#10 request for CN=`common_name` signed inside the token by the found key.
C8Y_MTLS_DECL std::vector<unsigned char> pkcs11_certificate_request(pkcs11_found_key& found,
                                                                   const std::string& common_name);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/wolfssl/impl/pkcs11.ipp"
#endif
