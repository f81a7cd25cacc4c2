// fleet_bench: libmosquitto under test, the way a fleet simulator on one thread uses it: N
// clients, each with its own TLS context (mosquitto_tls_set with its own certificate and key),
// connected with mosquitto_connect_async and driven by one external loop on the calling thread
// (poll() over every socket, then mosquitto_loop_read/write/misc), the loop its documentation
// describes for applications with their own event loop. No thread per client.
#include <mosquitto.h>
#include <poll.h>

#include <algorithm>
#include <memory>

#include "fleet_bench.hpp"

namespace fleet {
namespace {

constexpr std::chrono::minutes stall_limit{5};

struct session {
    mosquitto* mosq = nullptr;
    int connack = -1; // -1 until the CONNACK came
    bool lost = false;
    ~session() { mosquitto_destroy(mosq); }
};

void check(int rc, const std::string& what)
{
    if (rc != MOSQ_ERR_SUCCESS)
        throw failure("libmosquitto: " + what + ": " + mosquitto_strerror(rc));
}

void on_connect(mosquitto*, void* userdata, int rc) { static_cast<session*>(userdata)->connack = rc; }
void on_disconnect(mosquitto*, void* userdata, int) { static_cast<session*>(userdata)->lost = true; }

struct library {
    library() { mosquitto_lib_init(); }
    library(const library&) = delete;
    library& operator=(const library&) = delete;
    ~library() { mosquitto_lib_cleanup(); }
};

// One turn of the external loop: poll() every open socket for up to `timeout_ms`, read and
// write where it is ready, and the keepalive's housekeeping for all.
void turn(std::vector<std::unique_ptr<session>>& sessions, std::size_t open, std::vector<pollfd>& fds, int timeout_ms)
{
    fds.clear();
    for (std::size_t i = 0; i < open; ++i) {
        const int fd = mosquitto_socket(sessions[i]->mosq);
        fds.push_back({fd, static_cast<short>(POLLIN | (mosquitto_want_write(sessions[i]->mosq) ? POLLOUT : 0)), 0});
    }
    if (poll(fds.data(), fds.size(), timeout_ms) < 0)
        throw failure("libmosquitto: poll failed");
    for (std::size_t i = 0; i < open; ++i) {
        mosquitto* m = sessions[i]->mosq;
        if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLERR | POLLHUP)))
            mosquitto_loop_read(m, 1);
        if (fds[i].fd >= 0 && (fds[i].revents & POLLOUT))
            mosquitto_loop_write(m, 1);
        mosquitto_loop_misc(m);
    }
}

} // namespace

result run_libmosquitto(const setup& where, const std::vector<device>& devices)
{
    const library lib;
    result r;
    r.before = footprint::now();
    std::vector<std::unique_ptr<session>> sessions;
    sessions.reserve(devices.size());
    for (const device& d : devices) {
        auto s = std::make_unique<session>();
        s->mosq = mosquitto_new(d.name.c_str(), true, s.get());
        if (s->mosq == nullptr)
            throw failure("libmosquitto: mosquitto_new failed");
        check(mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311), "protocol version");
        check(mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1), "TCP_NODELAY");
        check(mosquitto_tls_set(s->mosq, where.cafile.c_str(), nullptr, d.chain.c_str(), d.key.c_str(), nullptr),
              "mosquitto_tls_set");
        mosquitto_connect_callback_set(s->mosq, &on_connect);
        mosquitto_disconnect_callback_set(s->mosq, &on_disconnect);
        sessions.push_back(std::move(s));
    }

    // Connects start in order, at most `window` without a CONNACK at any time.
    std::vector<pollfd> fds;
    std::size_t started = 0, connected = 0;
    const auto deadline = clock::now() + stall_limit;
    while (connected < sessions.size()) {
        while (started < sessions.size() && started - connected < where.window) {
            check(mosquitto_connect_async(sessions[started]->mosq, where.host.c_str(), where.port, 60),
                  "mosquitto_connect_async");
            ++started;
        }
        turn(sessions, started, fds, 100);
        connected = 0;
        for (std::size_t i = 0; i < started; ++i) {
            const session& s = *sessions[i];
            if (s.lost || s.connack > 0)
                throw failure("libmosquitto: " + std::string(s.lost ? "connection lost while connecting"
                                                                     : mosquitto_connack_string(s.connack)));
            connected += s.connack == 0 ? 1 : 0;
        }
        if (clock::now() > deadline)
            throw failure("libmosquitto: " + std::to_string(connected) + " of " + std::to_string(sessions.size()) +
                          " connected within 5 minutes");
    }
    r.connected = footprint::now();

    const auto idle_until = clock::now() + where.idle;
    while (clock::now() < idle_until)
        turn(sessions, sessions.size(), fds, 100);
    if (std::any_of(sessions.begin(), sessions.end(), [](const auto& s) { return s->lost; }))
        throw failure("libmosquitto: a client lost its connection while idle");
    r.idle = footprint::now();
    return r;
}

} // namespace fleet
