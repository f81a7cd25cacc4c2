// c8y-mtls: a consumer program, built against c8y-mtls taken as a Meson subproject.
#include <c8y/mtls.hpp>

#include <cstdio>
#include <exception>
#include <string>

// Prints the device a client id names and the CONNECT a device sends with it, in hex, for
// build_consumer.py to compare with what MQTT 3.1.1 prescribes.
int main()
{
    try {
        const c8y::mtls::client_id id = c8y::mtls::client_id::parse("d:dev-1");
        const std::string wire = c8y::mtls::mqtt::encode(c8y::mtls::mqtt::connect{.client_id = id.str()});
        std::printf("device %s, connection type %s\nCONNECT", id.device_id.c_str(), id.connection_type.c_str());
        for (const char byte : wire)
            std::printf(" %02x", static_cast<unsigned>(static_cast<unsigned char>(byte)));
        std::printf("\n");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
        return 1;
    }
}
