// The smallest program that connects a device with Paho C++ (mqtt::client) and publishes one
// message; its stripped size, memory and run time are what mqtt_bench compares with the other
// libraries'.
//
//   paho-cpp-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS   (password in $DEVICE_KEY_PASSWORD)
//
// Connects, publishes 64 bytes at QoS 1, stays connected and idle for IDLE_MS, disconnects.
// Exit 0 on success, 1 with the cause on stderr otherwise, 2 for bad arguments.
#include <mqtt/client.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv)
{
    if (argc != 7) {
        std::cerr << "usage: paho-cpp-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS\n";
        return 2;
    }
    const char* password = std::getenv("DEVICE_KEY_PASSWORD");
    try {
        mqtt::client client(std::string("ssl://") + argv[1] + ":" + argv[2], "minimal-paho-cpp",
                            static_cast<mqtt::iclient_persistence*>(nullptr));
        auto ssl = mqtt::ssl_options_builder()
                       .trust_store(argv[3])
                       .key_store(argv[4])
                       .private_key(argv[5])
                       .private_keypassword(password ? password : "")
                       .enable_server_cert_auth(true)
                       .verify(true)
                       .finalize();
        auto options = mqtt::connect_options_builder()
                           .keep_alive_interval(std::chrono::seconds(60))
                           .clean_session(true)
                           .mqtt_version(MQTTVERSION_3_1_1)
                           .ssl(std::move(ssl))
                           .finalize();
        client.connect(options);
        client.publish(mqtt::make_message("bench/minimal", std::string(64, 'x'), 1, false));
        std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(argv[6])));
        client.disconnect();
        return 0;
    } catch (const mqtt::exception& e) {
        std::cerr << "paho-cpp-minimal: " << e.what() << "\n";
        return 1;
    }
}
