// libFuzzer entry for the MQTT decoder: any bytes, split in two chunks, must either decode or
// fail with c8y::mtls::error; whatever decodes must encode back to exactly the bytes it came from.
#include "c8y/mtls/mqtt.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    namespace mqtt = c8y::mtls::mqtt;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // The first byte picks where TLS would have cut the stream.
    const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);

    mqtt::decoder decoder;
    std::string reencoded;
    std::size_t fed = 0;
    std::size_t decoded_end = 0; // input[0, decoded_end) came out as packets
    try {
        for (const std::string_view chunk : {input.substr(0, split), input.substr(split)}) {
            decoder.feed(chunk);
            fed += chunk.size();
            while (auto packet = decoder.next()) {
                mqtt::encode(*packet, reencoded);
                decoded_end = fed - decoder.buffered();
            }
        }
    } catch (const c8y::mtls::error&) {
        // Malformed input is expected; the decoder must stay failed.
        if (!decoder.failed()) {
            __builtin_trap();
        }
    }
    // Decoding is strict (shortest remaining length, no reserved bits), so it is one-to-one.
    if (reencoded != input.substr(0, decoded_end)) {
        __builtin_trap();
    }
    return 0;
}
