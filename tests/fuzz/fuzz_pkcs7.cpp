// libFuzzer target: the EST answer reader (detail/pkcs7.hpp) on arbitrary bytes, as a PKCS#7
// message and as an answer's body (base64, binary or PEM).
//
// Either certificates come out, none empty, each a SEQUENCE, together no larger than what they
// were read from, or the error is est_answer_malformed; nothing else. Seeds in
// tests/fuzz/corpus/pkcs7/ are openssl crl2pkcs7's messages (one certificate, a chain with a
// CRL, base64, PEM) and one re-encoded with indefinite lengths as the platform writes it.
#include <c8y/mtls/detail/pkcs7.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace {

template <class F>
void check(F&& read, std::size_t input_size)
{
    try {
        const std::vector<c8y::mtls::der_certificate> certificates = read();
        std::size_t total = 0;
        for (const auto& c : certificates) {
            if (c.empty() || c[0] != 0x30)
                __builtin_trap();
            total += c.size();
        }
        if (certificates.empty() || total > input_size)
            __builtin_trap();
    } catch (const c8y::mtls::error& e) {
        if (e.code() != c8y::mtls::errc::est_answer_malformed || e.detail().rfind("EST answer: fuzz", 0) != 0)
            __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const c8y::mtls::detail::byte_view bytes(data, size);
    check([&] { return c8y::mtls::detail::certificates_from_pkcs7(bytes, "fuzz"); }, size);
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    check([&] { return c8y::mtls::detail::certificates_from_est_answer(body, "fuzz"); }, size);
    return 0;
}
