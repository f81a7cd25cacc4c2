// c8y-mtls local platform: a mosquitto 2.0 plugin (interface version 5) that makes a broker with
// a certificate-checking TLS listener behave like Cumulocity IoT towards certificate devices.
//
//  - Identity: the listener requires a client certificate; the plugin then accepts a client only
//    when its ClientId `[connectionType:]deviceIdentifier[:defaultTemplateIdentifier]` names the
//    certificate's CN, and makes that CN the client's username (CONNACK 5 otherwise).
//  - ACL: devices may not publish on s/dat, the platform's answer topic.
//  - Token: a publish on s/uat is answered with `71,<JWT>` on s/dat, delivered only to that
//    device's subscriptions of s/dat; a device gets its current token again until half of the
//    token's lifespan has passed.
//
// Options (plugin_opt_*): lifespan (seconds, >= 300, default 3600), tenant (default t0),
// secret (HMAC key; random per broker start when absent), clock_offset_file (a test hook: a
// file holding whole seconds added to the platform's clock when it issues tokens).
//
// Basic auth is used for the identity check because mosquitto 2.0.11 skips the plugins' basic
// auth when the listener has use_identity_as_username set.

// The entry points must stay visible while everything else is built hidden.
#pragma GCC visibility push(default)
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#pragma GCC visibility pop

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <fstream>
#include <vector>

namespace {

constexpr long long default_lifespan = 3600;
constexpr long long minimum_lifespan = 300; // the platform's documented minimum
constexpr std::string_view issuer = "c8y-mtls-local-platform";

struct issued_token {
    std::string jwt;
    std::time_t iat = 0;
};

// What the platform publishes on s/dat for a token.
std::string answer(const issued_token& token)
{
    return "71," + token.jwt;
}

struct platform {
    mosquitto_plugin_id_t* id = nullptr;
    long long lifespan = default_lifespan;
    std::string tenant = "t0";
    std::string secret;
    std::string clock_offset_file; // test hook: whole seconds to add to the platform's clock
    std::unordered_map<std::string, issued_token> tokens; // by device identifier
};

// The platform's "now": the system clock, moved forward by the seconds written in the clock
// offset file when one is configured (tests drive token lifetimes this way instead of waiting).
std::time_t platform_now(const platform& self)
{
    std::time_t now = std::time(nullptr);
    if (self.clock_offset_file.empty()) {
        return now;
    }
    std::ifstream file(self.clock_offset_file);
    long long offset = 0;
    if (file >> offset) {
        now += static_cast<std::time_t>(offset);
    }
    return now;
}

// ---- identity -------------------------------------------------------------------------------

struct x509_deleter {
    void operator()(X509* cert) const { X509_free(cert); }
};

using certificate_ptr = std::unique_ptr<X509, x509_deleter>;

// The first commonName of the client certificate's subject, or an explanation of its absence.
std::optional<std::string> certificate_cn(const X509* cert, std::string& why)
{
    if (!cert) {
        why = "no client certificate";
        return std::nullopt;
    }
    const X509_NAME* subject = X509_get_subject_name(cert);
    const int index = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    if (index < 0) {
        why = "the certificate's subject has no CN";
        return std::nullopt;
    }
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, data);
    if (length < 0) {
        why = "the certificate's CN is not valid text";
        return std::nullopt;
    }
    std::string cn(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
    OPENSSL_free(utf8);
    if (cn.empty() || cn.find('\0') != std::string::npos) {
        why = "the certificate's CN is empty or holds a NUL character";
        return std::nullopt;
    }
    return cn;
}

// The certificate's serial number in upper-case hex, as `openssl x509 -serial` prints it.
std::string certificate_serial(const X509* cert)
{
    BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* hex = number ? BN_bn2hex(number) : nullptr;
    std::string serial = hex ? hex : "?";
    OPENSSL_free(hex);
    BN_free(number);
    return serial;
}

// The device identifier of `[connectionType:]deviceIdentifier[:defaultTemplateIdentifier]`, or
// why the ClientId has none.
std::optional<std::string_view> device_identifier(std::string_view client_id, std::string& why)
{
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t colon = client_id.find(':', start);
        parts.push_back(client_id.substr(start, colon - start));
        if (colon == std::string_view::npos) {
            break;
        }
        start = colon + 1;
    }
    if (parts.size() > 3) {
        why = "ClientId has more than three ':'-separated parts";
        return std::nullopt;
    }
    const std::string_view device = parts.size() == 1 ? parts[0] : parts[1];
    if (device.empty()) {
        why = "ClientId has an empty device identifier";
        return std::nullopt;
    }
    return device;
}

int on_basic_auth(int, void* event_data, void*)
{
    const auto* event = static_cast<mosquitto_evt_basic_auth*>(event_data);
    const char* raw_id = mosquitto_client_id(event->client);
    const std::string client_id = raw_id ? raw_id : "";
    const char* address = mosquitto_client_address(event->client);
    const auto refuse = [&](const std::string& cause) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "c8y platform: refused client '%s' from %s: %s",
                             client_id.c_str(), address ? address : "?", cause.c_str());
        return MOSQ_ERR_AUTH;
    };

    std::string why;
    const certificate_ptr cert{static_cast<X509*>(mosquitto_client_certificate(event->client))};
    const std::optional<std::string> cn = certificate_cn(cert.get(), why);
    if (!cn) {
        return refuse(why);
    }
    if (cn->find(':') != std::string::npos) {
        return refuse("certificate CN '" + *cn + "' contains ':'");
    }
    const std::optional<std::string_view> device = device_identifier(client_id, why);
    if (!device) {
        return refuse(why);
    }
    if (*device != *cn) {
        return refuse("device identifier '" + std::string(*device) + "' differs from certificate CN '" + *cn +
                      "'");
    }
    // The username carries the device identity to the later events, as on the platform where
    // the certificate names the device user.
    if (mosquitto_set_username(event->client, cn->c_str()) != MOSQ_ERR_SUCCESS) {
        return refuse("could not set the username");
    }
    // Which certificate the device came with: tests see a renewed one here.
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "c8y platform: accepted device '%s' with certificate serial %s as client '%s'",
                         cn->c_str(), certificate_serial(cert.get()).c_str(), client_id.c_str());
    return MOSQ_ERR_SUCCESS;
}

// ---- token ----------------------------------------------------------------------------------

std::string base64url(std::string_view bytes)
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
        out += alphabet[n >> 18 & 63];
        out += alphabet[n >> 12 & 63];
        out += alphabet[n >> 6 & 63];
        out += alphabet[n & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        unsigned n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16;
        if (rest == 2) {
            n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        }
        out += alphabet[n >> 18 & 63];
        out += alphabet[n >> 12 & 63];
        if (rest == 2) {
            out += alphabet[n >> 6 & 63];
        }
    }
    return out; // base64url as JWTs use it: no padding
}

std::string json_string(std::string_view text)
{
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                std::array<char, 7> escaped{};
                std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
                out += escaped.data();
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

std::optional<std::string> random_bytes(std::size_t count)
{
    std::string bytes(count, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
        return std::nullopt;
    }
    return bytes;
}

std::string hex(std::string_view bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        out += digits[static_cast<unsigned char>(c) >> 4];
        out += digits[static_cast<unsigned char>(c) & 15];
    }
    return out;
}

std::optional<std::string> make_jwt(const platform& self, const std::string& device, std::time_t iat)
{
    const std::optional<std::string> jti = random_bytes(16);
    if (!jti) {
        return std::nullopt;
    }
    const std::string header = R"({"alg":"HS256","typ":"JWT"})";
    const std::string claims = "{\"iss\":" + json_string(issuer) + ",\"sub\":" + json_string(device) +
                               ",\"ten\":" + json_string(self.tenant) + ",\"iat\":" + std::to_string(iat) +
                               ",\"nbf\":" + std::to_string(iat) +
                               ",\"exp\":" + std::to_string(iat + self.lifespan) +
                               ",\"jti\":" + json_string(hex(*jti)) + "}";
    const std::string signing_input = base64url(header) + "." + base64url(claims);

    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_length = 0;
    if (!HMAC(EVP_sha256(), self.secret.data(), static_cast<int>(self.secret.size()),
              reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac.data(),
              &mac_length)) {
        return std::nullopt;
    }
    return signing_input + "." +
           base64url(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_length));
}

// ---- ACL ------------------------------------------------------------------------------------

constexpr const char* answer_topic = "s/dat";
constexpr const char* request_topic = "s/uat";

int on_acl_check(int, void* event_data, void* userdata)
{
    const auto* event = static_cast<mosquitto_evt_acl_check*>(event_data);
    const auto& self = *static_cast<const platform*>(userdata);
    if (!event->topic || std::string_view(event->topic) != answer_topic) {
        // Allowed explicitly: mosquitto denies when every plugin defers.
        return MOSQ_ERR_SUCCESS;
    }
    if (event->access == MOSQ_ACL_WRITE) {
        // s/dat carries the platform's answers: a device must not be able to forge one.
        return MOSQ_ERR_ACL_DENIED;
    }
    if (event->access == MOSQ_ACL_READ) {
        // Answers are published to every subscriber of s/dat, so that, as on the platform, only a
        // device that subscribed gets one; each device may read only its own token.
        const char* device = mosquitto_client_username(event->client);
        const auto token = device ? self.tokens.find(device) : self.tokens.end();
        const std::string_view message(static_cast<const char*>(event->payload), event->payloadlen);
        if (token == self.tokens.end() || message != answer(token->second)) {
            return MOSQ_ERR_ACL_DENIED;
        }
    }
    return MOSQ_ERR_SUCCESS;
}

int on_message(int, void* event_data, void* userdata)
{
    const auto* event = static_cast<mosquitto_evt_message*>(event_data);
    auto& self = *static_cast<platform*>(userdata);
    if (!event->topic || std::string_view(event->topic) != request_topic) {
        return MOSQ_ERR_SUCCESS;
    }
    const char* device = mosquitto_client_username(event->client);
    if (!device) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "c8y platform: token request from a client without device identity ignored");
        return MOSQ_ERR_SUCCESS;
    }

    // The platform hands out the current token again until half of its lifespan has passed.
    const std::time_t now = platform_now(self);
    issued_token& current = self.tokens[device];
    if (current.jwt.empty() || now >= current.iat + self.lifespan / 2) {
        std::optional<std::string> jwt = make_jwt(self, device, now);
        if (!jwt) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "c8y platform: could not sign a token for device '%s'",
                                 device);
            return MOSQ_ERR_SUCCESS;
        }
        current = {std::move(*jwt), now};
        mosquitto_log_printf(MOSQ_LOG_INFO, "c8y platform: new token for device '%s', expires at %lld",
                             device, static_cast<long long>(now + self.lifespan));
    } else {
        mosquitto_log_printf(MOSQ_LOG_INFO, "c8y platform: current token sent again to device '%s'", device);
    }

    // QoS 1, lowered by mosquitto to each subscription's QoS.
    const std::string message = answer(current);
    if (mosquitto_broker_publish_copy(nullptr, answer_topic, static_cast<int>(message.size()), message.data(),
                                      1, false, nullptr) != MOSQ_ERR_SUCCESS) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "c8y platform: could not queue the token for device '%s'", device);
    }
    return MOSQ_ERR_SUCCESS;
}

// ---- options --------------------------------------------------------------------------------

bool configure(platform& self, const mosquitto_opt* options, int option_count)
{
    bool have_secret = false;
    for (int i = 0; i < option_count; ++i) {
        const std::string_view key = options[i].key ? options[i].key : "";
        const std::string_view value = options[i].value ? options[i].value : "";
        if (key == "lifespan") {
            long long seconds = 0;
            const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
            if (error != std::errc{} || end != value.data() + value.size() || seconds < minimum_lifespan) {
                mosquitto_log_printf(MOSQ_LOG_ERR,
                                     "c8y platform: plugin_opt_lifespan '%s' refused: a whole number of "
                                     "seconds, at least %lld "
                                     "(the platform's minimum), is required",
                                     std::string(value).c_str(), minimum_lifespan);
                return false;
            }
            self.lifespan = seconds;
        } else if (key == "tenant") {
            if (value.empty()) {
                mosquitto_log_printf(MOSQ_LOG_ERR, "c8y platform: plugin_opt_tenant must not be empty");
                return false;
            }
            self.tenant = value;
        } else if (key == "secret") {
            if (value.empty()) {
                mosquitto_log_printf(MOSQ_LOG_ERR, "c8y platform: plugin_opt_secret must not be empty");
                return false;
            }
            self.secret = value;
            have_secret = true;
        } else if (key == "clock_offset_file") {
            self.clock_offset_file = value;
        } else {
            mosquitto_log_printf(
                MOSQ_LOG_ERR, "c8y platform: unknown option plugin_opt_%s (known: lifespan, tenant, secret, clock_offset_file)",
                std::string(key).c_str());
            return false;
        }
    }
    if (!have_secret) {
        std::optional<std::string> secret = random_bytes(32);
        if (!secret) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "c8y platform: no random bytes for the token secret");
            return false;
        }
        self.secret = std::move(*secret);
    }
    return true;
}

struct registration {
    int event;
    MOSQ_FUNC_generic_callback callback;
};

constexpr std::array<registration, 3> registrations{{
    {MOSQ_EVT_BASIC_AUTH, on_basic_auth},
    {MOSQ_EVT_ACL_CHECK, on_acl_check},
    {MOSQ_EVT_MESSAGE, on_message},
}};

void unregister_all(const platform& self)
{
    for (const registration& r : registrations) {
        mosquitto_callback_unregister(self.id, r.event, r.callback, nullptr);
    }
}

} // namespace

extern "C" {

int mosquitto_plugin_version(int supported_version_count, const int* supported_versions)
{
    for (int i = 0; i < supported_version_count; ++i) {
        if (supported_versions[i] == MOSQ_PLUGIN_VERSION) {
            return MOSQ_PLUGIN_VERSION;
        }
    }
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata, mosquitto_opt* options,
                          int option_count)
{
    auto self = std::make_unique<platform>();
    self->id = identifier;
    if (!configure(*self, options, option_count)) {
        return MOSQ_ERR_INVAL;
    }
    for (const registration& r : registrations) {
        const int rc = mosquitto_callback_register(identifier, r.event, r.callback, nullptr, self.get());
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "c8y platform: could not register for event %d (error %d)",
                                 r.event, rc);
            unregister_all(*self);
            return rc;
        }
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, "c8y platform: tenant %s, token lifespan %lld s",
                         self->tenant.c_str(), self->lifespan);
    *userdata = self.release();
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void* userdata, mosquitto_opt*, int)
{
    std::unique_ptr<platform> self{static_cast<platform*>(userdata)};
    if (self) {
        unregister_all(*self);
        OPENSSL_cleanse(self->secret.data(), self->secret.size());
    }
    return MOSQ_ERR_SUCCESS;
}

} // extern "C"
