// libFuzzer entry: the s/dat token answer, from the payload through CSV, base64url and JSON to the
// claims; and the same bytes straight into the JSON reader, as the platform's REST answers reach it.
#include "c8y/mtls/detail/json.hpp"
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

    // An array the reader accepts hands out elements that are each valid on their own; an
    // element object read as a document is refused only for a duplicate member name (checked at
    // the top level only, where members are looked up).
    namespace json = c8y::mtls::detail;
    if (const auto elements = json::parse_json_array(payload)) {
        for (const json::json_value& element : *elements) {
            json::json_error why;
            if (element.kind == json::json_kind::object && !json::parse_json_object(element.raw, &why) &&
                std::string_view(why.reason) != "duplicate member name") {
                __builtin_trap();
            }
            if (element.kind == json::json_kind::array && !json::parse_json_array(element.raw)) {
                __builtin_trap();
            }
        }
    }
    return 0;
}
