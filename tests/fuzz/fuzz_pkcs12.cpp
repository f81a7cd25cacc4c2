// libFuzzer target: the PKCS#12 reader (detail/pkcs12.hpp) on arbitrary bytes, as keystore and
// as truststore.
//
// Fuzzers are built from this file alone, without wolfSSL: the Crypto policy is played by
// deterministic stand-ins (the wolfCrypt side is tested by tests/test_pkcs12.cpp on openssl's and
// keytool's files). The stand-in's digest folds its input into the hash's size; its decryption
// gives the ciphertext back, so that what a file "encrypts" is read as bags. Each input is read
// twice so that the fuzzer gets past the MAC:
// 1. as it is: the MAC check refuses nearly everything, as HMAC would;
// 2. with its MAC made again by the stand-in over its authSafe (when it frames and has one), so
//    that the AuthenticatedSafe, the bags and their attributes are judged and the keys chosen.
// Either a keystore's contents or trusted certificates come out, every part no larger than the
// input, or the error is one of the reader's, its detail naming the source; nothing else. The
// iteration limit is low, so that derivations stay quick; the limit itself is tested there too.
//
// Seeds in tests/fuzz/corpus/pkcs12/ are the guide's files (openssl pkcs12 -export, keytool's
// PKCS#12 keystore, truststore and the keystore with the server certificate added; openssl's
// -noiter -nomaciter file) and crafted ones for the stand-in: SafeContents "encrypted" in clear,
// a keyBag and a pkcs8ShroudedKeyBag of an EC key with its certificate and localKeyId, a trusted
// certificate bag, nested SafeContents.
#include <c8y/mtls/detail/pkcs12.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace {

namespace detail = c8y::mtls::detail;
using c8y::mtls::errc;

constexpr std::uint64_t iteration_limit = 64;
constexpr std::string_view password = "storepass1";

struct stand_in_crypto {
    static std::vector<unsigned char> digest(c8y::mtls::hash_function hash, std::span<const unsigned char> data)
    {
        std::uint64_t h = 0xCBF29CE484222325u;
        for (const unsigned char b : data)
            h = (h ^ b) * 0x100000001B3u;
        std::vector<unsigned char> out(detail::pkcs12_impl::output_size(hash));
        for (std::size_t i = 0; i < out.size(); ++i) {
            h = (h ^ i) * 0x100000001B3u;
            out[i] = static_cast<unsigned char>(h >> 56);
        }
        return out;
    }

    static std::optional<c8y::mtls::secure_bytes> decrypt_pbe(std::span<const unsigned char>,
                                                              std::span<const unsigned char> ciphertext,
                                                              std::string_view)
    {
        if (ciphertext.empty())
            return std::nullopt;
        return c8y::mtls::secure_bytes(ciphertext.data(), ciphertext.size());
    }

    static c8y::mtls::key_match private_key_matches(std::span<const unsigned char> pkcs8,
                                                    std::span<const unsigned char> public_key_info)
    {
        return !pkcs8.empty() && !public_key_info.empty() && pkcs8.back() == public_key_info.back()
                   ? c8y::mtls::key_match::matches
                   : c8y::mtls::key_match::differs;
    }
};

bool reader_error(const c8y::mtls::error& e)
{
    const auto code = e.code();
    const bool known = code == errc::keystore_malformed || code == errc::keystore_password_wrong ||
                       code == errc::key_password_wrong || code == errc::keystore_alias_missing ||
                       code == errc::keystore_format_unsupported || code == errc::private_key_malformed ||
                       code == errc::no_certificate || code == errc::truststore_empty;
    return known && e.detail().rfind("fuzz: ", 0) == 0;
}

void read(detail::byte_view file)
{
    using K = stand_in_crypto;
    try {
        const detail::pkcs12_store store = detail::open_pkcs12<K>(file, password, "fuzz", iteration_limit);
        std::size_t total = 0;
        for (const detail::pkcs12_bag& b : store.bags)
            total += b.value.size();
        std::size_t decrypted = 0;
        for (const auto& d : store.decrypted)
            decrypted += d.size();
        if (decrypted > file.size() || store.bags.size() > file.size() / 4)
            __builtin_trap();
        for (const c8y::mtls::der_certificate& c : detail::pkcs12_trusted_certificates(store))
            if (c.empty() || c[0] != 0x30 || c.size() > file.size())
                __builtin_trap();
        for (const detail::pkcs12_bag& b : store.bags) {
            if (b.kind != detail::pkcs12_bag_kind::private_key)
                continue;
            try {
                const c8y::mtls::keystore_contents contents =
                    detail::pkcs12_private_key<K>(store, b, password, iteration_limit);
                std::size_t size = contents.private_key.size() + contents.certificate.size();
                for (const auto& other : contents.others)
                    size += other.size();
                if (contents.private_key.empty() || contents.certificate.empty() || size > 2 * file.size())
                    __builtin_trap();
            } catch (const c8y::mtls::error& error) {
                if (!reader_error(error))
                    __builtin_trap();
            }
        }
        (void)detail::pkcs12_key_entry(store, std::nullopt);
        if (!store.bags.empty() && store.bags.front().alias)
            (void)detail::pkcs12_key_entry(store, *store.bags.front().alias);
    } catch (const c8y::mtls::error& error) {
        if (!reader_error(error))
            __builtin_trap();
    }
}

void read_resealed(detail::byte_view file)
{
    using namespace detail::pkcs12_impl;
    std::optional<framed> f;
    try {
        f = frame(file, "fuzz", iteration_limit);
    } catch (const c8y::mtls::error&) {
        return;
    }
    if (!f->mac)
        return;
    std::vector<unsigned char> sealed(file.begin(), file.end());
    const c8y::mtls::secure_bytes pass = bmp_password(password, "fuzz");
    const c8y::mtls::secure_bytes key = derive_key<stand_in_crypto>(
        f->mac->hash, {pass.data(), pass.size()}, f->mac->salt, 3, f->mac->iterations, output_size(f->mac->hash));
    const std::vector<unsigned char> mac = hmac<stand_in_crypto>(f->mac->hash, {key.data(), key.size()}, f->auth_safe);
    std::copy(mac.begin(), mac.end(), sealed.begin() + (f->mac->digest.data() - file.data()));
    read(sealed);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const detail::byte_view bytes(data, size);
    read(bytes);
    read_resealed(bytes);
    return 0;
}
