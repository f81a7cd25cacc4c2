// mqtt_bench: the peers under test, each used the way its documentation shows and given its
// best settings: libmosquitto driven by mosquitto_loop() on the calling thread (no extra thread)
// with TCP_NODELAY set; Paho C through MQTTAsync, the API that keeps several publishes in flight,
// without persistence; Paho C++ through async_client with delivery tokens, without persistence.
// Both Paho clients are made anew for every connection, their fastest way: here, reconnecting a
// Paho client that was disconnected took 1.15 s every time, a new one 60 to 165 ms.
#include <MQTTAsync.h>
#include <mosquitto.h>
#include <mqtt/async_client.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>

#include "mqtt_bench.hpp"

namespace bench {
namespace {

constexpr std::chrono::minutes stall_limit{5};

// ---- libmosquitto --------------------------------------------------------------------------

class libmosquitto_library final : public mqtt_library {
public:
    explicit libmosquitto_library(const broker& where) : where_(where)
    {
        mosquitto_lib_init();
        mosq_ = mosquitto_new("bench-libmosquitto", true, this);
        if (mosq_ == nullptr) {
            mosquitto_lib_cleanup();
            throw failure("libmosquitto: mosquitto_new failed");
        }
        try {
            check(mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311), "protocol version");
            check(mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1), "TCP_NODELAY");
            check(mosquitto_tls_set(mosq_, where.cafile.c_str(), nullptr, where.chain.c_str(), where.key.c_str(),
                                    &on_password),
                  "mosquitto_tls_set");
        } catch (...) {
            mosquitto_destroy(mosq_);
            mosquitto_lib_cleanup();
            throw;
        }
        mosquitto_connect_callback_set(mosq_, &on_connect);
        mosquitto_disconnect_callback_set(mosq_, &on_disconnect);
        mosquitto_publish_callback_set(mosq_, &on_publish);
    }

    libmosquitto_library(const libmosquitto_library&) = delete;
    libmosquitto_library& operator=(const libmosquitto_library&) = delete;

    ~libmosquitto_library() override
    {
        mosquitto_destroy(mosq_);
        mosquitto_lib_cleanup();
    }

    std::string_view name() const override { return "libmosquitto"; }

    clock::duration connect() override
    {
        connack_ = -1;
        const auto start = clock::now();
        check(mosquitto_connect(mosq_, where_.host.c_str(), where_.port, where_.keepalive_s), "mosquitto_connect");
        loop_until([this] { return connack_ >= 0; }, "connect");
        const auto took = clock::now() - start;
        if (connack_ != 0)
            throw failure("libmosquitto: connect: " + std::string(mosquitto_connack_string(connack_)));
        connected_ = true;
        return took;
    }

    void disconnect() override
    {
        check(mosquitto_disconnect(mosq_), "mosquitto_disconnect");
        loop_until([this] { return !connected_; }, "disconnect");
    }

    void publish(const std::string& topic, const std::string& payload, int qos, std::size_t count,
                 std::size_t window) override
    {
        check(mosquitto_max_inflight_messages_set(mosq_, static_cast<unsigned>(window)), "max_inflight_messages");
        job_ = {&topic, &payload, qos, count, 0, 0};
        // A QoS 0 publish outside a callback is written at once, and its on_publish starts the
        // next one from inside: the whole window may complete within this loop.
        while (job_.started < std::min(window, count) && failure_.empty())
            publish_next();
        loop_until([this] { return job_.completed == job_.count; }, "publish");
    }

private:
    struct publish_job {
        const std::string* topic = nullptr;
        const std::string* payload = nullptr;
        int qos = 0;
        std::size_t count = 0;
        std::size_t started = 0;
        std::size_t completed = 0;
    };

    void check(int rc, std::string_view what)
    {
        if (rc != MOSQ_ERR_SUCCESS)
            throw failure("libmosquitto: " + std::string(what) + ": " + mosquitto_strerror(rc));
    }

    // Runs the network loop on this thread until `done`; a callback's failure ends it.
    template <class Done>
    void loop_until(Done done, std::string_view what)
    {
        const auto deadline = clock::now() + stall_limit;
        while (!done()) {
            if (!failure_.empty())
                throw failure("libmosquitto: " + std::string(what) + ": " + failure_);
            if (clock::now() > deadline)
                throw failure("libmosquitto: " + std::string(what) + " did not complete within 5 minutes");
            const int rc = mosquitto_loop(mosq_, 1000, 1);
            if (!failure_.empty())
                throw failure("libmosquitto: " + std::string(what) + ": " + failure_);
            if (rc == MOSQ_ERR_NO_CONN && !connected_ && done())
                break;
            check(rc, what);
        }
    }

    void publish_next()
    {
        ++job_.started;
        const int rc = mosquitto_publish(mosq_, nullptr, job_.topic->c_str(), static_cast<int>(job_.payload->size()),
                                         job_.payload->data(), job_.qos, false);
        if (rc != MOSQ_ERR_SUCCESS && failure_.empty())
            failure_ = std::string("mosquitto_publish: ") + mosquitto_strerror(rc);
    }

    static libmosquitto_library& self(void* userdata) { return *static_cast<libmosquitto_library*>(userdata); }

    // OpenSSL asks for the key's password; libmosquitto passes its instance as userdata.
    static int on_password(char* buffer, int size, int, void* userdata)
    {
        const std::string& password = self(mosquitto_userdata(static_cast<mosquitto*>(userdata))).where_.key_password;
        if (password.size() >= static_cast<std::size_t>(size))
            return 0;
        std::memcpy(buffer, password.data(), password.size());
        return static_cast<int>(password.size());
    }

    static void on_connect(mosquitto*, void* userdata, int rc) { self(userdata).connack_ = rc; }

    static void on_disconnect(mosquitto*, void* userdata, int rc)
    {
        auto& me = self(userdata);
        if (rc != 0 && me.connected_ && me.failure_.empty())
            me.failure_ = std::string("connection lost: ") + mosquitto_strerror(rc);
        me.connected_ = false;
    }

    static void on_publish(mosquitto*, void* userdata, int)
    {
        auto& me = self(userdata);
        ++me.job_.completed;
        if (me.job_.started < me.job_.count && me.failure_.empty())
            me.publish_next();
    }

    broker where_;
    mosquitto* mosq_ = nullptr;
    int connack_ = -1;
    bool connected_ = false;
    publish_job job_;
    std::string failure_;
};

// ---- Paho C (MQTTAsync) --------------------------------------------------------------------

// MQTTAsync calls back on its own threads; the driver waits for a signal.
class completion {
public:
    void reset()
    {
        const std::lock_guard lock(mutex_);
        done_ = false;
        failure_.clear();
    }

    void succeed()
    {
        {
            const std::lock_guard lock(mutex_);
            done_ = true;
        }
        changed_.notify_all();
    }

    void fail(std::string why)
    {
        {
            const std::lock_guard lock(mutex_);
            if (failure_.empty())
                failure_ = std::move(why);
            done_ = true;
        }
        changed_.notify_all();
    }

    /// Waits for succeed() or fail(); throws what fail() said.
    void wait(std::string_view who)
    {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, stall_limit, [this] { return done_; }))
            throw failure(std::string(who) + " did not complete within 5 minutes");
        if (!failure_.empty())
            throw failure(std::string(who) + ": " + failure_);
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool done_ = false;
    std::string failure_;
};

std::string paho_failure_text(const MQTTAsync_failureData* response)
{
    if (response == nullptr)
        return "failed";
    std::string text = "code " + std::to_string(response->code);
    if (response->message != nullptr)
        text += ": " + std::string(response->message);
    else if (const char* meaning = MQTTAsync_strerror(response->code))
        text += ": " + std::string(meaning);
    return text;
}

class paho_c_library final : public mqtt_library {
public:
    explicit paho_c_library(const broker& where) : where_(where) {}

    paho_c_library(const paho_c_library&) = delete;
    paho_c_library& operator=(const paho_c_library&) = delete;

    ~paho_c_library() override
    {
        if (client_ != nullptr)
            MQTTAsync_destroy(&client_);
    }

    std::string_view name() const override { return "Paho C"; }

    clock::duration connect() override
    {
        create();
        MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
        ssl.trustStore = where_.cafile.c_str();
        ssl.keyStore = where_.chain.c_str();
        ssl.privateKey = where_.key.c_str();
        ssl.privateKeyPassword = where_.key_password.c_str();
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1; // the host name too
        MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
        options.keepAliveInterval = where_.keepalive_s;
        options.cleansession = 1;
        options.MQTTVersion = MQTTVERSION_3_1_1;
        options.ssl = &ssl;
        options.onSuccess = &on_done;
        options.onFailure = &on_failed;
        options.context = this;
        done_.reset();
        const auto start = clock::now();
        check(MQTTAsync_connect(client_, &options), "MQTTAsync_connect");
        done_.wait("Paho C: connect");
        return clock::now() - start;
    }

    void disconnect() override
    {
        MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
        options.onSuccess = &on_done;
        options.onFailure = &on_failed;
        options.context = this;
        done_.reset();
        check(MQTTAsync_disconnect(client_, &options), "MQTTAsync_disconnect");
        done_.wait("Paho C: disconnect");
        MQTTAsync_destroy(&client_);
    }

    void publish(const std::string& topic, const std::string& payload, int qos, std::size_t count,
                 std::size_t window) override
    {
        done_.reset();
        const std::size_t first = std::min(window, count);
        {
            const std::lock_guard lock(mutex_);
            job_ = {&topic, &payload, qos, count, first, 0};
        }
        for (std::size_t i = 0; i < first; ++i)
            send_one();
        done_.wait("Paho C: publish");
    }

private:
    struct publish_job {
        const std::string* topic = nullptr;
        const std::string* payload = nullptr;
        int qos = 0;
        std::size_t count = 0;
        std::size_t started = 0;
        std::size_t completed = 0;
    };

    void check(int rc, std::string_view what)
    {
        if (rc != MQTTASYNC_SUCCESS)
            throw failure("Paho C: " + std::string(what) + ": " + MQTTAsync_strerror(rc));
    }

    void create()
    {
        if (client_ != nullptr)
            MQTTAsync_destroy(&client_);
        const std::string uri = "ssl://" + where_.host + ":" + std::to_string(where_.port);
        MQTTAsync_createOptions options = MQTTAsync_createOptions_initializer;
        options.MQTTVersion = MQTTVERSION_3_1_1;
        check(MQTTAsync_createWithOptions(&client_, uri.c_str(), "bench-paho-c", MQTTCLIENT_PERSISTENCE_NONE, nullptr,
                                          &options),
              "MQTTAsync_createWithOptions");
        check(MQTTAsync_setConnectionLostCallback(client_, this, &on_connection_lost),
              "MQTTAsync_setConnectionLostCallback");
    }

    void send_one()
    {
        MQTTAsync_message message = MQTTAsync_message_initializer;
        message.payload = const_cast<char*>(job_.payload->data()); // MQTTAsync copies it
        message.payloadlen = static_cast<int>(job_.payload->size());
        message.qos = job_.qos;
        MQTTAsync_responseOptions response = MQTTAsync_responseOptions_initializer;
        response.onSuccess = &on_sent;
        response.onFailure = &on_failed;
        response.context = this;
        const int rc = MQTTAsync_sendMessage(client_, job_.topic->c_str(), &message, &response);
        if (rc != MQTTASYNC_SUCCESS)
            done_.fail(std::string("MQTTAsync_sendMessage: ") + MQTTAsync_strerror(rc));
    }

    static void on_done(void* context, MQTTAsync_successData*) { static_cast<paho_c_library*>(context)->done_.succeed(); }

    static void on_failed(void* context, MQTTAsync_failureData* response)
    {
        static_cast<paho_c_library*>(context)->done_.fail(paho_failure_text(response));
    }

    // QoS 0: written; QoS 1: PUBACK. Starts the next message of the window.
    static void on_sent(void* context, MQTTAsync_successData*)
    {
        auto* self = static_cast<paho_c_library*>(context);
        bool next = false;
        bool finished = false;
        {
            const std::lock_guard lock(self->mutex_);
            ++self->job_.completed;
            if (self->job_.started < self->job_.count) {
                ++self->job_.started;
                next = true;
            }
            finished = self->job_.completed == self->job_.count;
        }
        if (next)
            self->send_one();
        if (finished)
            self->done_.succeed();
    }

    static void on_connection_lost(void* context, char* cause)
    {
        static_cast<paho_c_library*>(context)->done_.fail(std::string("connection lost") +
                                                          (cause ? std::string(": ") + cause : std::string()));
    }

    broker where_;
    MQTTAsync client_ = nullptr;
    completion done_;
    std::mutex mutex_;
    publish_job job_;
};

// ---- Paho C++ (async_client) ---------------------------------------------------------------

class paho_cpp_library final : public mqtt_library {
public:
    explicit paho_cpp_library(const broker& where) : where_(where) {}

    std::string_view name() const override { return "Paho C++"; }

    clock::duration connect() override
    {
        auto ssl = mqtt::ssl_options_builder()
                       .trust_store(where_.cafile)
                       .key_store(where_.chain)
                       .private_key(where_.key)
                       .private_keypassword(where_.key_password)
                       .enable_server_cert_auth(true)
                       .verify(true)
                       .finalize();
        auto options = mqtt::connect_options_builder()
                           .keep_alive_interval(std::chrono::seconds(where_.keepalive_s))
                           .clean_session(true)
                           .mqtt_version(MQTTVERSION_3_1_1)
                           .ssl(std::move(ssl))
                           .finalize();
        try {
            client_.emplace("ssl://" + where_.host + ":" + std::to_string(where_.port), "bench-paho-cpp",
                            static_cast<mqtt::iclient_persistence*>(nullptr));
            const auto start = clock::now();
            client_->connect(options)->wait();
            return clock::now() - start;
        } catch (const mqtt::exception& e) {
            throw failure(std::string("Paho C++: connect: ") + e.what());
        }
    }

    void disconnect() override
    {
        try {
            client_->disconnect()->wait();
            client_.reset();
        } catch (const mqtt::exception& e) {
            throw failure(std::string("Paho C++: disconnect: ") + e.what());
        }
    }

    void publish(const std::string& topic, const std::string& payload, int qos, std::size_t count,
                 std::size_t window) override
    {
        // Tokens complete in the order of the messages: waiting for the oldest keeps the window.
        std::deque<mqtt::delivery_token_ptr> in_flight;
        try {
            for (std::size_t i = 0; i < count; ++i) {
                if (in_flight.size() == window) {
                    in_flight.front()->wait();
                    in_flight.pop_front();
                }
                in_flight.push_back(client_->publish(topic, payload.data(), payload.size(), qos, false));
            }
            for (const auto& token : in_flight)
                token->wait();
        } catch (const mqtt::exception& e) {
            throw failure(std::string("Paho C++: publish: ") + e.what());
        }
    }

private:
    broker where_;
    std::optional<mqtt::async_client> client_;
};

} // namespace

std::unique_ptr<mqtt_library> make_libmosquitto(const broker& where)
{
    return std::make_unique<libmosquitto_library>(where);
}

std::unique_ptr<mqtt_library> make_paho_c(const broker& where)
{
    return std::make_unique<paho_c_library>(where);
}

std::unique_ptr<mqtt_library> make_paho_cpp(const broker& where)
{
    return std::make_unique<paho_cpp_library>(where);
}

} // namespace bench
