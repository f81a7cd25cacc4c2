// libFuzzer entry: the s/dat token answer, from the payload through CSV, base64url and JSON to the claims.
#include "c8y/mtls/device_token.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    try {
        const c8y::mtls::device_token token = c8y::mtls::parse_token_answer(payload);
        // What from_jwt promises of every token it returns.
        if (token.expires_at() <= token.issued_at() || token.lifetime().count() <= 0 ||
            c8y::mtls::format_time(token.expires_at()).size() != 20) {
            __builtin_trap();
        }
    } catch (const c8y::mtls::error&) {
        // Refused inputs are the expected outcome for almost every input.
    }
    return 0;
}
