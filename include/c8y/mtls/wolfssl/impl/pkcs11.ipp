// c8y-mtls (wolfSSL backend): the definitions wolfssl/pkcs11.hpp declares: included by it when
// header-only, compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/wolfssl/pkcs11.hpp"

#include <dlfcn.h>

#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <utility>

#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/wolfssl/pki.hpp"

namespace c8y::mtls::detail {

// PKCS#11 2.40 values that wolfSSL's pkcs11.h leaves out.
namespace ck {
inline constexpr CK_OBJECT_CLASS o_data = 0x0;
inline constexpr CK_OBJECT_CLASS o_certificate = 0x1;
inline constexpr CK_FLAGS f_login_required = 0x4;
inline constexpr CK_FLAGS f_token_initialized = 0x400;
inline constexpr CK_RV r_attribute_type_invalid = 0x12;
inline constexpr CK_RV r_pin_incorrect = 0xA0;
inline constexpr CK_RV r_pin_invalid = 0xA1;
inline constexpr CK_RV r_pin_len_range = 0xA2;
inline constexpr CK_RV r_pin_expired = 0xA3;
inline constexpr CK_RV r_pin_locked = 0xA4;
inline constexpr CK_RV r_token_not_present = 0xE0;
inline constexpr CK_RV r_token_write_protected = 0xE2;
inline constexpr CK_RV r_user_already_logged_in = 0x100;
inline constexpr CK_RV r_user_pin_not_initialized = 0x102;
inline constexpr CK_RV r_cryptoki_already_initialized = 0x191;
inline constexpr CK_ULONG unavailable_information = ~CK_ULONG{0};
} // namespace ck

// DER OIDs of the named curves a handshake key may be on.
inline constexpr unsigned char p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
inline constexpr unsigned char p384_oid[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};

C8Y_MTLS_DECL std::string pkcs11_return_name(CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case 0x5: return "CKR_GENERAL_ERROR";
    case 0x6: return "CKR_FUNCTION_FAILED";
    case 0x30: return "CKR_DEVICE_ERROR";
    case 0x31: return "CKR_DEVICE_MEMORY";
    case 0x32: return "CKR_DEVICE_REMOVED";
    case 0x63: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case 0xB3: return "CKR_SESSION_HANDLE_INVALID";
    case 0xB5: return "CKR_SESSION_READ_ONLY";
    case ck::r_pin_incorrect: return "CKR_PIN_INCORRECT";
    case ck::r_pin_invalid: return "CKR_PIN_INVALID";
    case ck::r_pin_len_range: return "CKR_PIN_LEN_RANGE";
    case ck::r_pin_expired: return "CKR_PIN_EXPIRED";
    case ck::r_pin_locked: return "CKR_PIN_LOCKED";
    case ck::r_token_not_present: return "CKR_TOKEN_NOT_PRESENT";
    case ck::r_token_write_protected: return "CKR_TOKEN_WRITE_PROTECTED";
    case 0x101: return "CKR_USER_NOT_LOGGED_IN";
    case ck::r_user_pin_not_initialized: return "CKR_USER_PIN_NOT_INITIALIZED";
    case 0x190: return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case 0x150: return "CKR_BUFFER_TOO_SMALL";
    case 0xD0: return "CKR_TEMPLATE_INCOMPLETE";
    case 0xD1: return "CKR_TEMPLATE_INCONSISTENT";
    case 0x13: return "CKR_ATTRIBUTE_VALUE_INVALID";
    }
    char hex[32];
    std::snprintf(hex, sizeof hex, "CKR 0x%lx", static_cast<unsigned long>(rv));
    return hex;
}

namespace pkcs11_impl {

// A fixed-width, space-padded PKCS#11 text field without its padding.
template <std::size_t N>
std::string field(const CK_UTF8CHAR (&text)[N])
{
    std::string out(reinterpret_cast<const char*>(text), N);
    while (!out.empty() && (out.back() == ' ' || out.back() == '\0'))
        out.pop_back();
    return out;
}

// The objects that belong with `key` (its public key, its certificate): those of its id, or of
// its label when it has no id.
inline pkcs11_uri same_key_objects(const pkcs11_object& key)
{
    pkcs11_uri same;
    if (!key.id.empty())
        same.id = key.id;
    else
        same.object = key.label;
    return same;
}

// How the URI names an object, for messages: "object=device-key;id=%01".
inline std::string object_part(const pkcs11_uri& uri)
{
    pkcs11_uri only;
    only.object = uri.object;
    only.id = uri.id;
    only.type = uri.type;
    const std::string text = only.text();
    return text.size() > 7 ? text.substr(7) : std::string("(any object)");
}

inline const char* class_name(CK_OBJECT_CLASS c)
{
    switch (c) {
    case ck::o_data: return "data";
    case ck::o_certificate: return "certificate";
    case CKO_PUBLIC_KEY: return "public key";
    case CKO_PRIVATE_KEY: return "private key";
    case CKO_SECRET_KEY: return "secret key";
    default: return "object";
    }
}

inline CK_ULONG as_ulong(const std::vector<unsigned char>& value)
{
    CK_ULONG out = 0;
    if (value.size() == sizeof out)
        std::memcpy(&out, value.data(), sizeof out);
    return out;
}

// CKA_EC_POINT is a DER OCTET STRING around the point; a few tokens give the bare point.
inline std::vector<unsigned char> bare_point(std::vector<unsigned char> point)
{
    if (point.size() > 2 && point[0] == 0x04 && point[1] < 0x80 && point[1] + 2u == point.size())
        point.erase(point.begin(), point.begin() + 2);
    else if (point.size() > 3 && point[0] == 0x04 && point[1] == 0x81 && point[2] + 3u == point.size())
        point.erase(point.begin(), point.begin() + 3);
    return point;
}

inline std::atomic<int> next_device_id{0x63380001}; // "c8": apart from the small ids applications use

inline std::vector<unsigned char> digest_of(std::string_view pin)
{
    std::vector<unsigned char> out(WC_SHA256_DIGEST_SIZE);
    wc_Sha256Hash(reinterpret_cast<const byte*>(pin.data()), static_cast<word32>(pin.size()), out.data());
    return out;
}

} // namespace pkcs11_impl

C8Y_MTLS_DECL std::shared_ptr<pkcs11_module> pkcs11_module::load(const std::filesystem::path& path)
{
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<pkcs11_module>> loaded;
    const std::lock_guard lock(mutex);
    std::weak_ptr<pkcs11_module>& slot = loaded[path.string()];
    if (auto existing = slot.lock())
        return existing;

    std::shared_ptr<pkcs11_module> m(new pkcs11_module());
    m->path_ = path;
    m->device_.dlHandle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (m->device_.dlHandle == nullptr) {
        const char* why = ::dlerror();
        throw error(errc::pkcs11_module_unloadable, path.string() + ": " + (why ? why : "dlopen failed"));
    }
    using get_function_list = CK_RV (*)(CK_FUNCTION_LIST**);
    const auto get = reinterpret_cast<get_function_list>(::dlsym(m->device_.dlHandle, "C_GetFunctionList"));
    if (get == nullptr)
        throw error(errc::pkcs11_module_unloadable,
                    path.string() + ": not a PKCS#11 module (it has no C_GetFunctionList)");
    if (const CK_RV rv = get(&m->device_.func); rv != CKR_OK || m->device_.func == nullptr)
        throw error(errc::pkcs11_module_unloadable,
                    path.string() + ": C_GetFunctionList failed (" + pkcs11_return_name(rv) + ")");
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK; // the SDK calls it from several threads
    const CK_RV rv = m->device_.func->C_Initialize(&args);
    if (rv != CKR_OK && rv != ck::r_cryptoki_already_initialized)
        throw error(errc::pkcs11_module_unloadable,
                    path.string() + ": C_Initialize failed (" + pkcs11_return_name(rv) +
                        "): the module's own configuration (SOFTHSM2_CONF, TPM2_PKCS11_STORE...) may be missing");
    m->finalize_ = rv == CKR_OK;
    slot = m;
    return m;
}

C8Y_MTLS_DECL pkcs11_module::~pkcs11_module()
{
    if (finalize_ && device_.func != nullptr)
        device_.func->C_Finalize(nullptr);
    if (device_.dlHandle != nullptr)
        ::dlclose(device_.dlHandle);
}

C8Y_MTLS_DECL std::shared_ptr<pkcs11_token> pkcs11_token::open(const std::filesystem::path& path, const pkcs11_uri& uri,
                                                               std::string_view pin)
{
    using pkcs11_impl::field;
    std::shared_ptr<pkcs11_module> module = pkcs11_module::load(path);
    CK_FUNCTION_LIST* f = module->functions();

    CK_INFO library{};
    if (const CK_RV rv = f->C_GetInfo(&library); rv != CKR_OK)
        throw error(errc::pkcs11_failed, path.string() + ": C_GetInfo failed (" + pkcs11_return_name(rv) + ")");
    const bool library_matches =
        (uri.library_manufacturer.empty() || uri.library_manufacturer == field(library.manufacturerID)) &&
        (uri.library_description.empty() || uri.library_description == field(library.libraryDescription));

    CK_ULONG count = 0;
    if (const CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &count); rv != CKR_OK)
        throw error(errc::pkcs11_failed, path.string() + ": C_GetSlotList failed (" + pkcs11_return_name(rv) + ")");
    std::vector<CK_SLOT_ID> slots(count);
    if (count > 0) {
        if (const CK_RV rv = f->C_GetSlotList(CK_TRUE, slots.data(), &count); rv != CKR_OK)
            throw error(errc::pkcs11_failed,
                        path.string() + ": C_GetSlotList failed (" + pkcs11_return_name(rv) + ")");
        slots.resize(count);
    }

    struct candidate {
        CK_SLOT_ID slot;
        CK_TOKEN_INFO info;
        std::string description;
    };
    std::vector<candidate> all, matching;
    for (const CK_SLOT_ID slot : slots) {
        CK_SLOT_INFO slot_info{};
        candidate c{slot, {}, {}};
        if (f->C_GetSlotInfo(slot, &slot_info) != CKR_OK || f->C_GetTokenInfo(slot, &c.info) != CKR_OK ||
            (c.info.flags & ck::f_token_initialized) == 0)
            continue; // an empty slot, or a token nobody initialised (SoftHSM always offers one)
        c.description = "token=" + field(c.info.label) + " (" + field(c.info.manufacturerID) + ", model " +
                        field(c.info.model) + ", serial " + field(c.info.serialNumber) + ", slot-id " +
                        std::to_string(slot) + ")";
        all.push_back(c);
        if (library_matches && (uri.token.empty() || uri.token == field(c.info.label)) &&
            (uri.manufacturer.empty() || uri.manufacturer == field(c.info.manufacturerID)) &&
            (uri.model.empty() || uri.model == field(c.info.model)) &&
            (uri.serial.empty() || uri.serial == field(c.info.serialNumber)) &&
            (!uri.slot_id || *uri.slot_id == slot) &&
            (uri.slot_description.empty() || uri.slot_description == field(slot_info.slotDescription)) &&
            (uri.slot_manufacturer.empty() || uri.slot_manufacturer == field(slot_info.manufacturerID)))
            matching.push_back(c);
    }
    const auto tokens_there = [&] {
        if (all.empty())
            return std::string("the module has no token (an initialised one: softhsm2-util --init-token, "
                               "tpm2_ptool addtoken)");
        std::string out = "the module's tokens: ";
        for (std::size_t i = 0; i < all.size(); ++i)
            out += (i ? "; " : "") + all[i].description;
        return out;
    };
    if (matching.empty())
        throw error(errc::pkcs11_token_missing, path.string() + ": no token matches " + uri.text() + "; " +
                                                    tokens_there());
    if (matching.size() > 1)
        throw error(errc::pkcs11_token_missing, path.string() + ": " + std::to_string(matching.size()) +
                                                    " tokens match " + uri.text() +
                                                    ": name one with token= or serial=; " + tokens_there());
    const candidate& chosen = matching.front();

    static std::mutex mutex;
    static std::map<std::pair<std::string, CK_SLOT_ID>, std::weak_ptr<pkcs11_token>> open_tokens;
    const std::lock_guard lock(mutex);
    std::weak_ptr<pkcs11_token>& registered = open_tokens[{path.string(), chosen.slot}];
    if (auto existing = registered.lock()) {
        // Logged in already (a token has one login state per application): the PIN is not
        // asked again, so it must be the one the token was opened with.
        if (existing->pin_digest_ != pkcs11_impl::digest_of(pin))
            throw error(errc::pkcs11_pin_wrong, existing->description_ +
                                                    " is open in this process with another PIN: give the same one");
        return existing;
    }

    std::shared_ptr<pkcs11_token> t(new pkcs11_token());
    t->module_ = std::move(module);
    t->f_ = f;
    t->slot_ = chosen.slot;
    t->description_ = "token '" + field(chosen.info.label) + "' (" + field(chosen.info.manufacturerID) +
                      ", serial " + field(chosen.info.serialNumber) + ")";
    CK_RV rv = f->C_OpenSession(chosen.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &t->session_);
    if (rv == ck::r_token_write_protected)
        rv = f->C_OpenSession(chosen.slot, CKF_SERIAL_SESSION, nullptr, nullptr, &t->session_);
    if (rv != CKR_OK) {
        t->session_ = 0;
        t->fail("C_OpenSession", rv);
    }
    t->log_in(pin, (chosen.info.flags & ck::f_login_required) != 0);
    t->pin_digest_ = pkcs11_impl::digest_of(pin);

    if (wolfCrypt_Init() != 0)
        throw error(errc::pkcs11_failed, "wolfCrypt cannot be initialised");
    t->token_.func = f;
    t->token_.slotId = chosen.slot;
    t->token_.handle = t->session_; // wolfSSL then neither opens sessions nor logs in itself
    t->device_id_ = pkcs11_impl::next_device_id++;
    if (wc_CryptoCb_RegisterDevice(t->device_id_, &pkcs11_token::on_operation, t.get()) != 0) {
        t->device_id_ = INVALID_DEVID;
        wolfCrypt_Cleanup();
        throw error(errc::pkcs11_failed, t->description_ + ": wolfSSL has no room for another crypto device "
                                                           "(MAX_CRYPTO_DEVID_CALLBACKS tokens are open)");
    }
    registered = t;
    return t;
}

C8Y_MTLS_DECL void pkcs11_token::log_in(std::string_view pin, bool login_required)
{
    if (pin.empty()) {
        if (login_required)
            throw error(errc::pkcs11_pin_wrong, description_ + " needs its user PIN to use its keys: give it (--pin-env)");
        return;
    }
    std::string copy(pin); // C_Login takes a non-const pointer
    const wipe_on_exit wipe_copy(copy);
    const CK_RV rv = f_->C_Login(session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(copy.data()),
                                 static_cast<CK_ULONG>(copy.size()));
    switch (rv) {
    case CKR_OK:
    case ck::r_user_already_logged_in: // by another part of this application
        return;
    case ck::r_pin_incorrect:
    case ck::r_pin_invalid:
    case ck::r_pin_len_range:
        throw error(errc::pkcs11_pin_wrong, description_ + " refused the user PIN (" + pkcs11_return_name(rv) + ")");
    case ck::r_pin_locked:
        throw error(errc::pkcs11_pin_wrong, description_ +
                                                ": the user PIN is locked after too many wrong ones (CKR_PIN_LOCKED): "
                                                "the token's security officer must unlock it");
    case ck::r_pin_expired:
        throw error(errc::pkcs11_pin_wrong, description_ + ": the user PIN expired (CKR_PIN_EXPIRED): set a new one");
    case ck::r_user_pin_not_initialized:
        throw error(errc::pkcs11_pin_wrong, description_ + " has no user PIN yet (CKR_USER_PIN_NOT_INITIALIZED)");
    default:
        fail("C_Login", rv);
    }
}

C8Y_MTLS_DECL void pkcs11_token::fail(const char* function, CK_RV rv) const
{
    throw error(errc::pkcs11_failed, (description_.empty() ? module_->path().string() : description_) + ": " +
                                         function + " failed (" + pkcs11_return_name(rv) + ")");
}

C8Y_MTLS_DECL pkcs11_token::~pkcs11_token()
{
    if (device_id_ != INVALID_DEVID) {
        wc_CryptoCb_UnRegisterDevice(device_id_);
        wolfCrypt_Cleanup();
    }
    if (session_ != 0)
        f_->C_CloseSession(session_);
}

inline int pkcs11_token::on_operation(int device_id, wc_CryptoInfo* info, void* self)
{
    auto* t = static_cast<pkcs11_token*>(self);
    const std::lock_guard lock(t->mutex_);
    return wc_Pkcs11_CryptoDevCb(device_id, info, &t->token_);
}

C8Y_MTLS_DECL std::vector<unsigned char> pkcs11_token::attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type)
{
    const std::lock_guard lock(mutex_);
    CK_ATTRIBUTE a{type, nullptr, 0};
    if (f_->C_GetAttributeValue(session_, object, &a, 1) != CKR_OK || a.ulValueLen == ck::unavailable_information)
        return {};
    std::vector<unsigned char> value(a.ulValueLen);
    a.pValue = value.data();
    if (const CK_RV rv = f_->C_GetAttributeValue(session_, object, &a, 1); rv != CKR_OK)
        fail("C_GetAttributeValue", rv);
    value.resize(a.ulValueLen);
    return value;
}

C8Y_MTLS_DECL std::vector<pkcs11_object> pkcs11_token::find(std::optional<CK_OBJECT_CLASS> object_class,
                                                            const pkcs11_uri& uri)
{
    std::vector<CK_OBJECT_HANDLE> handles;
    {
        const std::lock_guard lock(mutex_);
        CK_ATTRIBUTE search[3];
        CK_ULONG n = 0;
        if (object_class)
            search[n++] = {CKA_CLASS, &*object_class, sizeof *object_class};
        if (!uri.object.empty())
            search[n++] = {CKA_LABEL, const_cast<char*>(uri.object.data()), static_cast<CK_ULONG>(uri.object.size())};
        if (!uri.id.empty())
            search[n++] = {CKA_ID, const_cast<unsigned char*>(uri.id.data()), static_cast<CK_ULONG>(uri.id.size())};
        if (const CK_RV rv = f_->C_FindObjectsInit(session_, search, n); rv != CKR_OK)
            fail("C_FindObjectsInit", rv);
        CK_OBJECT_HANDLE batch[32];
        CK_ULONG got = 0;
        do {
            if (const CK_RV rv = f_->C_FindObjects(session_, batch, 32, &got); rv != CKR_OK) {
                f_->C_FindObjectsFinal(session_);
                fail("C_FindObjects", rv);
            }
            handles.insert(handles.end(), batch, batch + got);
        } while (got == 32 && handles.size() < 4096);
        f_->C_FindObjectsFinal(session_);
    }
    std::vector<pkcs11_object> out;
    for (const CK_OBJECT_HANDLE h : handles) {
        pkcs11_object o;
        o.handle = h;
        o.object_class = pkcs11_impl::as_ulong(attribute(h, CKA_CLASS));
        const std::vector<unsigned char> label = attribute(h, CKA_LABEL);
        o.label.assign(label.begin(), label.end());
        o.id = attribute(h, CKA_ID);
        out.push_back(std::move(o));
    }
    return out;
}

C8Y_MTLS_DECL std::string pkcs11_token::listing()
{
    const std::vector<pkcs11_object> objects = find(std::nullopt, {});
    if (objects.empty())
        return description_ + " holds no object its user can see";
    std::string out = description_ + " holds: ";
    for (std::size_t i = 0; i < objects.size(); ++i) {
        out += i ? "; " : "";
        out += pkcs11_impl::class_name(objects[i].object_class);
        out += " object=" + objects[i].label;
        if (!objects[i].id.empty())
            out += " id=" + hex(objects[i].id);
    }
    return out;
}

C8Y_MTLS_DECL bool pkcs11_token::has_mechanism(CK_MECHANISM_TYPE mechanism, CK_FLAGS flags)
{
    const std::lock_guard lock(mutex_);
    CK_MECHANISM_INFO info{};
    return f_->C_GetMechanismInfo(slot_, mechanism, &info) == CKR_OK && (info.flags & flags) == flags;
}

C8Y_MTLS_DECL CK_OBJECT_HANDLE pkcs11_token::generate_key_pair(key_algorithm algorithm, int bits,
                                                               std::string_view label,
                                                               const std::vector<unsigned char>& id)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG modulus_bits = static_cast<CK_ULONG>(bits);
    unsigned char exponent[] = {0x01, 0x00, 0x01};
    const unsigned char* curve = bits == 384 ? p384_oid : p256_oid;
    const CK_ULONG curve_size = bits == 384 ? sizeof p384_oid : sizeof p256_oid;
    auto* label_ptr = const_cast<char*>(label.data());
    auto* id_ptr = const_cast<unsigned char*>(id.data());
    std::vector<CK_ATTRIBUTE> public_template = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_LABEL, label_ptr, static_cast<CK_ULONG>(label.size())},
        {CKA_ID, id_ptr, static_cast<CK_ULONG>(id.size())},
    };
    const std::vector<CK_ATTRIBUTE> private_template = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_LABEL, label_ptr, static_cast<CK_ULONG>(label.size())},
        {CKA_ID, id_ptr, static_cast<CK_ULONG>(id.size())},
    };
    CK_MECHANISM mechanism{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    if (algorithm == key_algorithm::rsa) {
        mechanism.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        public_template.push_back({CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits});
        public_template.push_back({CKA_PUBLIC_EXPONENT, exponent, sizeof exponent});
    } else {
        public_template.push_back({CKA_EC_PARAMS, const_cast<unsigned char*>(curve), curve_size});
    }
    const std::lock_guard lock(mutex_);
    CK_OBJECT_HANDLE public_key = 0, private_key = 0;
    const CK_RV rv = f_->C_GenerateKeyPair(session_, &mechanism, public_template.data(),
                                           static_cast<CK_ULONG>(public_template.size()),
                                           const_cast<CK_ATTRIBUTE*>(private_template.data()),
                                           static_cast<CK_ULONG>(private_template.size()), &public_key, &private_key);
    if (rv != CKR_OK)
        throw error(errc::key_generation_failed, description_ + ": C_GenerateKeyPair failed (" +
                                                     pkcs11_return_name(rv) + ")");
    return private_key;
}

namespace pkcs11_impl {

// The public key of a private key object: from the object when it shows it (RSA's modulus),
// else from the public key object of the same id (or label).
inline std::vector<unsigned char> public_attribute(pkcs11_token& token, const pkcs11_object& key,
                                                   CK_ATTRIBUTE_TYPE type)
{
    if (std::vector<unsigned char> value = token.attribute(key.handle, type); !value.empty())
        return value;
    for (const pkcs11_object& pub : token.find(CKO_PUBLIC_KEY, same_key_objects(key)))
        if (std::vector<unsigned char> value = token.attribute(pub.handle, type); !value.empty())
            return value;
    return {};
}

inline std::vector<unsigned char> spki_of_rsa(const std::vector<unsigned char>& n, const std::vector<unsigned char>& e)
{
    RsaKey key{};
    if (wc_InitRsaKey(&key, nullptr) != 0)
        return {};
    std::vector<unsigned char> out(n.size() + e.size() + 64);
    int size = wc_RsaPublicKeyDecodeRaw(n.data(), static_cast<word32>(n.size()), e.data(),
                                        static_cast<word32>(e.size()), &key);
    if (size == 0)
        size = wc_RsaKeyToPublicDer(&key, out.data(), static_cast<word32>(out.size()));
    wc_FreeRsaKey(&key);
    out.resize(size > 0 ? static_cast<std::size_t>(size) : 0);
    return out;
}

inline std::vector<unsigned char> spki_of_ec(const std::vector<unsigned char>& point, int curve)
{
    ecc_key key{};
    if (wc_ecc_init(&key) != 0)
        return {};
    std::vector<unsigned char> out(point.size() + 64);
    int size = wc_ecc_import_x963_ex(point.data(), static_cast<word32>(point.size()), &key, curve);
    if (size == 0)
        size = wc_EccPublicKeyToDer(&key, out.data(), static_cast<word32>(out.size()), 1);
    wc_ecc_free(&key);
    out.resize(size > 0 ? static_cast<std::size_t>(size) : 0);
    return out;
}

} // namespace pkcs11_impl

C8Y_MTLS_DECL pkcs11_found_key find_pkcs11_key(const pkcs11_key& key)
{
    using namespace pkcs11_impl;
    pkcs11_found_key found;
    found.token = pkcs11_token::open(key.module, key.uri, key.pin.view());
    pkcs11_token& token = *found.token;
    const std::string named = object_part(key.uri);
    if (!key.uri.type.empty() && key.uri.type != "private")
        throw error(errc::pkcs11_key_unusable,
                    key.uri.text() + " names a " + key.uri.type + " object: the key URI names the private key (type=private)");
    const std::vector<pkcs11_object> keys = token.find(CKO_PRIVATE_KEY, key.uri);
    if (keys.empty())
        throw error(errc::pkcs11_object_missing, token.description() + " holds no private key " + named + "; " +
                                                     token.listing());
    if (keys.size() > 1)
        throw error(errc::pkcs11_object_missing, token.description() + ": " + std::to_string(keys.size()) +
                                                     " private keys match " + named +
                                                     ": name one with object= and id=; " + token.listing());
    found.key = keys.front();
    const std::string what = "the private key object=" + found.key.label + " of " + token.description();

    if (const std::vector<unsigned char> sign = token.attribute(found.key.handle, CKA_SIGN);
        sign.size() == 1 && sign[0] == CK_FALSE)
        throw error(errc::pkcs11_key_unusable, what + " may not sign (CKA_SIGN is false)");
    const CK_ULONG type = as_ulong(token.attribute(found.key.handle, CKA_KEY_TYPE));
    if (type == CKK_EC) {
        found.algorithm = key_algorithm::ec;
        const std::vector<unsigned char> params = public_attribute(token, found.key, CKA_EC_PARAMS);
        int curve = 0;
        if (std::equal(params.begin(), params.end(), std::begin(p256_oid), std::end(p256_oid))) {
            curve = ECC_SECP256R1;
            found.bits = 256;
        } else if (std::equal(params.begin(), params.end(), std::begin(p384_oid), std::end(p384_oid))) {
            curve = ECC_SECP384R1;
            found.bits = 384;
        } else {
            throw error(errc::pkcs11_key_unusable, what + " is an EC key on a curve other than P-256 and P-384");
        }
        if (!token.has_mechanism(CKM_ECDSA, CKF_SIGN))
            throw error(errc::pkcs11_key_unusable, token.description() + " cannot sign with ECDSA (CKM_ECDSA)");
        const std::vector<unsigned char> point = bare_point(public_attribute(token, found.key, CKA_EC_POINT));
        if (point.empty())
            throw error(errc::pkcs11_object_missing,
                        what + " has no public key object (same id) to read its point from; " + token.listing());
        found.public_key_info = spki_of_ec(point, curve);
    } else if (type == CKK_RSA) {
        found.algorithm = key_algorithm::rsa;
        const std::vector<unsigned char> n = public_attribute(token, found.key, CKA_MODULUS);
        const std::vector<unsigned char> e = public_attribute(token, found.key, CKA_PUBLIC_EXPONENT);
        if (n.empty() || e.empty())
            throw error(errc::pkcs11_object_missing,
                        what + " shows no modulus and has no public key object (same id); " + token.listing());
        found.bits = static_cast<int>(x509_impl::bit_length(n));
        if (found.bits < 2048)
            throw error(errc::pkcs11_key_unusable,
                        what + " is an RSA key of " + std::to_string(found.bits) + " bits: 2048 at least");
        // wolfSSL pads RSA signatures itself (PKCS#1 v1.5 for TLS 1.2, PSS for TLS 1.3) and has
        // the token do the raw RSA operation.
        if (!token.has_mechanism(CKM_RSA_X_509, CKF_SIGN))
            throw error(errc::pkcs11_key_unusable, token.description() +
                                                       " cannot sign with raw RSA (CKM_RSA_X_509), which the "
                                                       "handshake's RSA signatures need: use an EC key");
        found.public_key_info = spki_of_rsa(n, e);
    } else {
        throw error(errc::pkcs11_key_unusable,
                    what + " is neither an RSA nor an EC key (CKA_KEY_TYPE " + std::to_string(type) + ")");
    }
    if (found.public_key_info.empty())
        throw error(errc::pkcs11_key_unusable, what + ": its public key cannot be read");

    // wolfSSL finds the key again by its id or by its label: one of them must name it alone.
    pkcs11_uri by;
    by.id = found.key.id;
    if (!found.key.id.empty() && token.find(CKO_PRIVATE_KEY, by).size() == 1) {
        found.named_by_id = true;
    } else {
        by = {};
        by.object = found.key.label;
        if (found.key.label.empty() || token.find(CKO_PRIVATE_KEY, by).size() != 1)
            throw error(errc::pkcs11_key_unusable,
                        what + " shares its id and its label with other private keys: give it a unique id or label");
    }
    return found;
}

C8Y_MTLS_DECL std::vector<der_certificate> pkcs11_certificates(pkcs11_found_key& found, const pkcs11_uri& uri)
{
    pkcs11_token& token = *found.token;
    std::vector<der_certificate> out;
    for (const pkcs11_object& c : token.find(ck::o_certificate, pkcs11_impl::same_key_objects(found.key)))
        if (std::vector<unsigned char> der = token.attribute(c.handle, CKA_VALUE); !der.empty())
            out.push_back(std::move(der));
    if (out.empty())
        throw error(errc::no_certificate, token.description() + " holds no certificate with the id (or label) of " +
                                              pkcs11_impl::object_part(uri) +
                                              ": give the chain as a file (--cert); " + token.listing());
    out.resize(1);
    for (const pkcs11_object& c : token.find(ck::o_certificate, {}))
        if (std::vector<unsigned char> der = token.attribute(c.handle, CKA_VALUE); !der.empty() && der != out.front())
            out.push_back(std::move(der));
    return out;
}

C8Y_MTLS_DECL pkcs11_found_key generate_pkcs11_key(const pkcs11_key& key, key_algorithm algorithm, int bits)
{
    std::shared_ptr<pkcs11_token> token = pkcs11_token::open(key.module, key.uri, key.pin.view());
    if (key.uri.object.empty())
        throw error(errc::pkcs11_uri_malformed,
                    key.uri.text() + ": name the new key with object= (its label in the token)");
    pkcs11_uri label_only;
    label_only.object = key.uri.object;
    pkcs11_uri id_only;
    id_only.id = key.uri.id;
    if (!token->find(CKO_PRIVATE_KEY, label_only).empty() ||
        (!key.uri.id.empty() && !token->find(CKO_PRIVATE_KEY, id_only).empty()))
        throw error(errc::key_generation_failed, token->description() + " already holds a private key " +
                                                     pkcs11_impl::object_part(key.uri) +
                                                     ": choose another object= (the SDK never replaces a key)");
    const CK_MECHANISM_TYPE mechanism = algorithm == key_algorithm::rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;
    if (!token->has_mechanism(mechanism, CKF_GENERATE_KEY_PAIR))
        throw error(errc::key_generation_failed, token->description() + " cannot generate " +
                                                     (algorithm == key_algorithm::rsa ? "RSA" : "EC") + " key pairs");
    std::vector<unsigned char> id = key.uri.id;
    if (id.empty()) {
        id.resize(8);
        pki_rng rng;
        rng.fill(id.data(), id.size());
    }
    token->generate_key_pair(algorithm, bits, key.uri.object, id);
    pkcs11_key made;
    made.module = key.module;
    made.uri = key.uri;
    made.uri.id = id;
    made.pin = secret_string(key.pin.view());
    return find_pkcs11_key(made);
}

// A token's key in wolfCrypt's structures: its public half read from the token; its signatures
// made in the token. An RSA signer stays without its public numbers: wolfSSL's PKCS#11 device
// reads them from the token itself, over any it had (which would then leak).
class pki_token_key : public pki_key {
public:
    explicit pki_token_key(const pkcs11_found_key& found)
    {
        algorithm_ = found.algorithm;
        const byte_view id = found.named_by_id ? byte_view(found.key.id.data(), found.key.id.size()) : byte_view{};
        const byte_view spki(found.public_key_info.data(), found.public_key_info.size());
        const bool ready =
            algorithm_ == key_algorithm::rsa
                ? rsa_.public_from(spki) && rsa_signer_.in_device(id, found.key.label, found.token->device_id())
                : ecc_.in_device(id, found.key.label, found.token->device_id()) && ecc_.public_from(spki);
        if (!ready)
            throw error(errc::pkcs11_failed, found.token->description() + ": wolfCrypt cannot use the key object=" +
                                                 found.key.label);
    }

    void* signer() noexcept { return algorithm_ == key_algorithm::rsa ? static_cast<void*>(rsa_signer_.get()) : key(); }

private:
    wolfcrypt_impl::rsa_key rsa_signer_;
};

C8Y_MTLS_DECL std::vector<unsigned char> pkcs11_certificate_request(pkcs11_found_key& found,
                                                                   const std::string& common_name)
{
    pki_token_key key(found);
    return pki_make_request(key, common_name, key.signer());
}

} // namespace c8y::mtls::detail
