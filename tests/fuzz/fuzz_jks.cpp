// libFuzzer target: the Java KeyStore reader (detail/jks.hpp) on arbitrary bytes.
//
// Fuzzers are built from this file alone, without wolfSSL: SHA-1 is played by deterministic
// stand-ins (the wolfCrypt side is tested by tests/test_jks.cpp on keytool's keystores). Each
// input is read three ways so that the fuzzer gets past the digests:
// 1. as it is, under a stand-in that folds its input into 20 bytes: the integrity check refuses
//    nearly everything, as SHA-1 would;
// 2. with its last 20 bytes replaced by that stand-in's digest of the rest, so that the entries
//    are judged and the key entries decrypted (their check digest failing, mostly);
// 3. the same under a stand-in whose digest is 20 zero bytes: the keystream is zero and a check
//    of zeros passes, so the decrypted key and the chain are judged too.
// Either a keystore's contents come out, every part no larger than the input, or the error is
// one of the reader's, its detail naming the source; nothing else.
//
// Seeds in tests/fuzz/corpus/jks/ are keytool's (the guide's deviceKeystore.jks: an EC key and a
// chain of two; a truststore of two certificates; that keystore with a trusted certificate added;
// a JCEKS) and one written by hand, zero-keystream.jks: the keystore's key stored as it reads
// under the zero stand-in (salt and check of zeros around the plain PKCS#8).
#include <c8y/mtls/detail/jks.hpp>

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

struct fold_crypto {
    static std::vector<unsigned char> digest(c8y::mtls::hash_function, std::span<const unsigned char> data)
    {
        std::uint64_t h = 0xCBF29CE484222325u;
        for (const unsigned char b : data)
            h = (h ^ b) * 0x100000001B3u;
        std::vector<unsigned char> out(20);
        for (std::size_t i = 0; i < out.size(); ++i) {
            h = (h ^ i) * 0x100000001B3u;
            out[i] = static_cast<unsigned char>(h >> 56);
        }
        return out;
    }
};

struct zero_crypto {
    static std::vector<unsigned char> digest(c8y::mtls::hash_function, std::span<const unsigned char>)
    {
        return std::vector<unsigned char>(20, 0);
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

template <class K>
void read(detail::byte_view file)
{
    constexpr std::string_view password = "storepass1";
    try {
        const detail::jks_store store = detail::open_jks<K>(file, password, "fuzz");
        if (store.entries.size() > file.size() / detail::jks_impl::smallest_entry)
            __builtin_trap();
        std::size_t total = 0;
        for (const c8y::mtls::der_certificate& c : detail::jks_trusted_certificates(store)) {
            if (c.empty() || c[0] != 0x30)
                __builtin_trap();
            total += c.size();
        }
        if (total > file.size())
            __builtin_trap();
        for (const detail::jks_entry& e : store.entries) {
            if (e.kind != detail::jks_entry_kind::private_key)
                continue;
            try {
                const detail::jks_entry& chosen = detail::jks_key_entry(store, e.alias);
                if (chosen.kind != detail::jks_entry_kind::private_key)
                    __builtin_trap();
                const c8y::mtls::keystore_contents contents = detail::jks_private_key<K>(store, chosen, password);
                if (contents.private_key.empty() || contents.certificate.empty() ||
                    contents.private_key.size() > file.size() || contents.certificate.size() > file.size())
                    __builtin_trap();
            } catch (const c8y::mtls::error& error) {
                if (!reader_error(error))
                    __builtin_trap();
            }
        }
        (void)detail::jks_key_entry(store, std::nullopt);
    } catch (const c8y::mtls::error& error) {
        if (!reader_error(error))
            __builtin_trap();
    }
}

template <class K>
void read_resealed(const std::uint8_t* data, std::size_t size)
{
    if (size < 20)
        return;
    std::vector<unsigned char> file(data, data + size);
    // The digest over the password as Java's chars, the whitener and the bytes before it.
    std::vector<unsigned char> input;
    for (const char c : std::string_view("storepass1")) {
        input.push_back(0);
        input.push_back(static_cast<unsigned char>(c));
    }
    const std::string_view whitener = "Mighty Aphrodite";
    input.insert(input.end(), whitener.begin(), whitener.end());
    input.insert(input.end(), file.begin(), file.end() - 20);
    const std::vector<unsigned char> sealed = K::digest(c8y::mtls::hash_function::sha1, input);
    std::copy(sealed.begin(), sealed.end(), file.end() - 20);
    read<K>(file);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const detail::byte_view bytes(data, size);
    const detail::java_keystore_format format = detail::jks_format(bytes);
    if (format == detail::java_keystore_format::jks && (size < 4 || data[0] != 0xFE))
        __builtin_trap();
    read<fold_crypto>(bytes);
    read_resealed<fold_crypto>(data, size);
    read_resealed<zero_crypto>(data, size);
    return 0;
}
