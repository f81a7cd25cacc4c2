// mqtt_bench: what every MQTT library under test offers the benchmark driver (mqtt_bench.cpp).
// Each library has its own translation unit so that their headers never meet: c8y-mtls brings
// wolfSSL's, the peers OpenSSL's through their own.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bench {

using clock = std::chrono::steady_clock;

/// The broker and the device identity every library connects with.
struct broker {
    std::string host;
    unsigned short port = 0;
    std::string cafile;       ///< the CA that signed the broker's certificate
    std::string chain;        ///< the device certificate followed by its CA, PEM
    std::string key;          ///< the device's encrypted private key, PEM
    std::string key_password; ///< its password
    int keepalive_s = 60;
};

/// A library's failure: which library, which step, and the library's own words.
struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// One MQTT 3.1.1 client of one library, connected over mutual TLS with clean session, TCP_NODELAY
/// and keepalive as configured in `broker`: the server certificate checked against the CA and its
/// name against the host, the device's whole chain sent. Operations block until done and throw
/// bench::failure.
class mqtt_library {
public:
    virtual ~mqtt_library() = default;

    virtual std::string_view name() const = 0;

    /// Connects: TCP, TLS handshake, CONNECT and CONNACK 0. Returns how long that took, timed
    /// from the library's connect call to the moment it reports the CONNACK.
    virtual clock::duration connect() = 0;

    /// Sends DISCONNECT and closes; returns once the library reports the connection closed.
    virtual void disconnect() = 0;

    /// Publishes `count` messages of `payload` on `topic` at `qos` (0 or 1), keeping at most
    /// `window` of them incomplete at any time, and returns once all completed: for QoS 1 when
    /// the PUBACK came, for QoS 0 when the library reports the message written.
    virtual void publish(const std::string& topic, const std::string& payload, int qos, std::size_t count,
                         std::size_t window) = 0;
};

std::unique_ptr<mqtt_library> make_c8y_mtls(const broker& where);
std::unique_ptr<mqtt_library> make_libmosquitto(const broker& where);
std::unique_ptr<mqtt_library> make_paho_c(const broker& where);
std::unique_ptr<mqtt_library> make_paho_cpp(const broker& where);

} // namespace bench
