// libFuzzer target: the certificate loaders of the chain validator (PEM blocks, base64, DER) and
// every rule of the validator, on arbitrary bytes.
//
// Input: one flags byte (bit 0: current profile, bit 1: check a client id, bit 2: check a key,
// bit 3: the platform's verdict),
// then certificates as 2-byte big-endian lengths and DER bytes; the last one is the uploaded
// certificate. The whole input is also read as PEM text.
//
// Fuzzers are built from this file alone, without wolfSSL: signatures and keys are judged by a
// deterministic stand-in, so that the fuzzer reaches the rules after them (the wolfCrypt side is
// tested by tests/test_chain_validator.cpp on real chains).
#include <c8y/mtls/chain_validator.hpp>
#include <c8y/mtls/detail/x509_pem.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace {

struct fuzz_crypto {
    static bool verify_signature(const c8y::mtls::signature_check& check)
    {
        return !check.signature.empty() && !check.signed_data.empty() && !check.public_key.empty() &&
               check.signature[0] == (check.signed_data.back() ^ check.public_key.back());
    }
    static c8y::mtls::key_match private_key_matches(std::span<const unsigned char> key,
                                                    std::span<const unsigned char> public_key_info)
    {
        if (key.empty())
            return c8y::mtls::key_match::unreadable;
        return key.size() == public_key_info.size() ? c8y::mtls::key_match::matches : c8y::mtls::key_match::differs;
    }
};

struct fixed_clock {
    static std::chrono::system_clock::time_point now() { return std::chrono::sys_days(std::chrono::year(2026) / 1 / 1); }
};

using validator = c8y::mtls::basic_chain_validator<fuzz_crypto, fixed_clock>;

void check(const validator& v, const std::vector<c8y::mtls::der_certificate>& chain, std::uint8_t flags)
{
    const std::span<const unsigned char> key =
        (flags & 4) && !chain.empty() ? std::span<const unsigned char>(chain.back()) : std::span<const unsigned char>();
    const std::optional<std::string_view> id = (flags & 2) ? std::optional<std::string_view>("d:device-0001") : std::nullopt;
    const c8y::mtls::chain_report report = v.validate(chain, key, id);
    // Every finding is complete, and the JSON and the error are made without fault; under the
    // platform's verdict only what the platform refuses is an error.
    for (const auto& f : report.findings())
        if (f.message.empty() || (f.index && *f.index >= chain.size()) ||
            (report.verdict() == c8y::mtls::chain_verdict::platform && f.severity == c8y::mtls::finding_severity::error &&
             f.basis == c8y::mtls::finding_basis::guide))
            __builtin_trap();
    (void)report.to_json();
    if (!report.ok() && report.to_error().code() != c8y::mtls::errc::chain_rejected)
        __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::uint8_t flags = data[0];
    std::vector<c8y::mtls::der_certificate> certificates;
    for (std::size_t at = 1; at + 2 <= size && certificates.size() < 16;) {
        const std::size_t length = (std::size_t{data[at]} << 8) | data[at + 1];
        at += 2;
        if (length > size - at)
            break;
        certificates.emplace_back(data + at, data + at + length);
        at += length;
    }

    c8y::mtls::chain_validator_options options;
    options.profile = (flags & 1) ? c8y::mtls::chain_profile::current : c8y::mtls::chain_profile::guide;
    options.verdict = (flags & 8) ? c8y::mtls::chain_verdict::platform : c8y::mtls::chain_verdict::guide;
    const validator no_upload({}, options);
    check(no_upload, certificates, flags);
    if (certificates.size() >= 2) {
        try {
            const validator with_upload({certificates.back()}, options);
            certificates.pop_back();
            check(with_upload, certificates, flags);
        } catch (const c8y::mtls::error& e) {
            if (e.code() != c8y::mtls::errc::trusted_certificate_malformed)
                __builtin_trap();
        }
    }

    try {
        const auto from_pem = c8y::mtls::detail::pem_certificates(
            std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
        check(no_upload, from_pem, flags);
    } catch (const c8y::mtls::error& e) {
        if (e.code() != c8y::mtls::errc::pem_malformed)
            __builtin_trap();
    }
    return 0;
}
