// libFuzzer entry for the HTTP response parser: any bytes, split in two pieces where TLS might
// have cut them, then the end of the stream, must give a complete response or a
// c8y::mtls::error; what comes out must respect the limits and the framing it announced.
#include "c8y/mtls/detail/http_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    namespace http = c8y::mtls::http;
    if (size == 0) {
        return 0;
    }
    // The first byte picks the split, whether the request was HEAD, and small limits half the
    // time so that the limits themselves are reached.
    const std::uint8_t control = data[0];
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t split = input.empty() ? 0 : control % (input.size() + 1);
    http::limits limits;
    if (control & 0x40) {
        limits.max_header_bytes = 256;
        limits.max_header_fields = 4;
        limits.max_body_bytes = 64;
    }
    c8y::mtls::detail::http_impl::response_parser parser(limits, (control & 0x80) != 0);
    std::size_t taken = 0;
    try {
        for (const std::string_view piece : {input.substr(0, split), input.substr(split)}) {
            const std::size_t n = parser.feed(piece);
            if (n > piece.size() || (n < piece.size() && !parser.done())) {
                __builtin_trap(); // it may stop early only at the end of a response
            }
            taken += n;
            if (parser.done()) {
                break;
            }
        }
        parser.feed_end();
        if (parser.consumed() != taken) {
            __builtin_trap();
        }
        const http::response r = parser.take();
        if (r.status < 200 || r.status > 599 || r.body.size() > limits.max_body_bytes ||
            r.fields.size() > limits.max_header_fields || r.trailers.size() > limits.max_header_fields) {
            __builtin_trap();
        }
        if ((control & 0x80) && !r.body.empty()) {
            __builtin_trap(); // a response to HEAD has no body
        }
    } catch (const c8y::mtls::error&) {
        if (!parser.failed()) {
            __builtin_trap(); // every refusal leaves the parser failed
        }
    }
    return 0;
}
