// Servers an attacker on the path would run, made at test time: `openssl s_server` with
// certificates the OpenSSL CLI made (tests/support/hostile_pki.py), a wolfSSL server for the
// suites Debian's OpenSSL no longer has (tests/support/tls_test_server.cpp), and a peer that
// answers any ClientHello with the suite or version it insists on (tests/support/tls_probe.py).
// Each must be refused by the MQTT client, the HTTPS client and the administrator's HTTPS client
// alike, before a byte of application data is sent, with an error that names the cause. The
// servers record what arrives: an MQTT CONNECT holds "MQTT", an HTTP request "HTTP/1.1"; the
// servers the SDK accepts show that those are seen when they come.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"
#include "support/server_process.hpp"

#ifndef C8Y_TEST_TLS_SERVER
#error "C8Y_TEST_TLS_SERVER must name the tls_test_server program"
#endif

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
using namespace std::chrono_literals;
using mtls::test::failure_of;
using mtls::test::local_platform;
using mtls::test::run_command;
using mtls::test::server_process;
using mtls::test::shell_quote;

namespace {

// The device and the server CA it trusts; the hostile certificates are signed by that CA.
local_platform& platform()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "hostile-platform";
        o.plugin = false;
        return o;
    }());
    return instance;
}

const fs::path support_dir = fs::path(C8Y_TEST_SCRIPT_DIR).parent_path() / "tests" / "support";

const fs::path& hostile_pki()
{
    static const fs::path dir = [] {
        const fs::path d = fs::path(C8Y_TEST_WORK_DIR) / "hostile-pki";
        const fs::path server = platform().dir() / "server";
        run_command("python3 " + shell_quote((support_dir / "hostile_pki.py").string()) + " --dir " +
                    shell_quote(d.string()) + " --ca-cert " + shell_quote((server / "serverCaCert.pem").string()) +
                    " --ca-key " + shell_quote((server / "serverCaKey.pem").string()));
        return d;
    }();
    return dir;
}

fs::path output_file()
{
    static int count = 0;
    return fs::path(C8Y_TEST_WORK_DIR) / ("hostile-server-" + std::to_string(++count) + ".out");
}

using server_factory = std::function<std::unique_ptr<server_process>()>;

// openssl s_server for one connection, echoing what it receives; `variant` names the
// certificate of hostile_pki.py it presents (empty: flags say it all).
server_factory s_server(std::string variant, std::vector<std::string> flags = {})
{
    return [variant = std::move(variant), flags = std::move(flags)] {
        std::vector<std::string> argv = {"openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1"};
        if (!variant.empty()) {
            const fs::path dir = hostile_pki() / variant;
            argv.insert(argv.end(), {"-cert", (dir / "leaf.pem").string(), "-key", (dir / "key.pem").string()});
            if (fs::file_size(dir / "chain.pem") > 0)
                argv.insert(argv.end(), {"-cert_chain", (dir / "chain.pem").string()});
        }
        argv.insert(argv.end(), flags.begin(), flags.end());
        return std::make_unique<server_process>(argv, output_file(), "ACCEPT 127.0.0.1:");
    };
}

// The wolfSSL server offering `suites`, with a certificate of hostile_pki.py or none (--anon);
// it hangs up after the first application data.
server_factory wolfssl_server(std::string suites, std::vector<std::string> flags, std::string variant = "good-rsa")
{
    return [suites = std::move(suites), flags = std::move(flags), variant = std::move(variant)] {
        std::vector<std::string> argv = {C8Y_TEST_TLS_SERVER, "--cipher", suites, "--wait", "3"};
        if (std::find(flags.begin(), flags.end(), "--anon") == flags.end()) {
            const fs::path dir = hostile_pki() / variant;
            argv.insert(argv.end(), {"--cert", (dir / "cert.pem").string(), "--key", (dir / "key.pem").string()});
        }
        argv.insert(argv.end(), flags.begin(), flags.end());
        return std::make_unique<server_process>(argv, output_file());
    };
}

// A peer that answers the ClientHello with a ServerHello of its own choosing.
server_factory insisting_server(const std::string& suite, const std::string& version = "0x0303")
{
    return [=] {
        return std::make_unique<server_process>(
            std::vector<std::string>{"python3", (support_dir / "tls_probe.py").string(), "--wait", "3",
                                     "server-hello", "--suite", suite, "--version", version},
            output_file());
    };
}

bool saw_application_data(const std::string& server_output)
{
    return server_output.find("MQTT") != std::string::npos || server_output.find("HTTP/1.1") != std::string::npos;
}

enum class client_kind { mqtt, https, admin };
const std::vector<client_kind> every_client = {client_kind::mqtt, client_kind::https, client_kind::admin};

std::string name_of(client_kind kind)
{
    return kind == client_kind::mqtt ? "MQTT client" : kind == client_kind::https ? "HTTPS client" : "admin client";
}

mtls::credentials device_credentials()
{
    return mtls::credentials::from_pem_files(platform().chain("device-0001"), platform().key("device-0001"),
                                             platform().password("device-0001"));
}

struct target {
    std::string host = "localhost";
    mtls::tls_options tls{};
    std::optional<fs::path> trust{}; ///< empty: the server CA of the local platform
    std::chrono::milliseconds timeout = 3s;
};

asio::awaitable<void> connect_and_publish(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    std::string topic = "s/us";
    std::string payload = "200,c8y_Temperature,T,21";
    co_await device.publish(topic, payload);
}

asio::awaitable<void> get(mtls::https_client& rest, std::string url)
{
    mtls::http::request req;
    req.url = std::move(url);
    (void)co_await rest.request(req);
}

// One attempt of `kind` at the server: the error it ended with.
mtls::error attempt(client_kind kind, std::uint16_t port, const target& t)
{
    asio::io_context io;
    const mtls::truststore trust = mtls::truststore::from_path(t.trust.value_or(platform().server_ca()));
    if (kind == client_kind::mqtt) {
        mtls::client device(io.get_executor(), device_credentials(), trust, t.tls);
        mtls::connect_options o;
        o.host = t.host;
        o.port = port;
        o.timeout = t.timeout;
        o.reconnect.enabled = false;
        return failure_of(io, connect_and_publish(device, o));
    }
    mtls::https_options options;
    options.connect_timeout = t.timeout;
    options.request_timeout = t.timeout;
    std::optional<mtls::https_client> rest;
    if (kind == client_kind::https)
        rest.emplace(io.get_executor(), device_credentials(), trust, t.tls, options);
    else
        rest.emplace(io.get_executor(), trust, t.tls, options);
    return failure_of(io, get(*rest, "https://" + t.host + ":" + std::to_string(port) + "/inventory/managedObjects"));
}

// Every client meets its own copy of the server and must be refused with `code`, the detail
// naming the cause, nothing of the application sent, and no secret in the message.
void check_refused(const server_factory& make, const std::error_code& code, const std::string& detail,
                   const target& t = {}, const std::vector<client_kind>& clients = {client_kind::mqtt, client_kind::https})
{
    for (const client_kind kind : clients) {
        const std::string client = name_of(kind);
        CAPTURE(client);
        const std::unique_ptr<server_process> server = make();
        const mtls::error e = attempt(kind, server->port(), t);
        CHECK(e.code() == code);
        CHECK_MESSAGE(mtls::test::contains(e.detail(), detail), "detail: " << e.detail());
        CHECK_FALSE(mtls::test::contains(e.what(), platform().password("device-0001")));
        // Only a server certificate not yet valid is tried again: the device clock may be wrong.
        CHECK(mtls::retry_can_help(e.code()) == (e.code() == mtls::errc::server_certificate_not_yet_valid));
        const std::string seen = server->finish();
        CHECK_MESSAGE(!saw_application_data(seen), "the server received: " << seen);
    }
}

// The server is accepted: the handshake completes and the CONNECT or the request arrives; the
// server hangs up then (the wolfSSL server) or never answers (s_server: the client times out).
void check_accepted(const server_factory& make, target t = {})
{
    t.timeout = 1500ms;
    for (const client_kind kind : {client_kind::mqtt, client_kind::https}) {
        const std::string client = name_of(kind);
        CAPTURE(client);
        const std::unique_ptr<server_process> server = make();
        const mtls::error e = attempt(kind, server->port(), t);
        const std::string what = e.what();
        CAPTURE(what);
        CHECK((e.code() == mtls::errc::connection_closed || e.code() == mtls::errc::connect_timeout ||
               e.code() == mtls::errc::http_request_timeout));
        const std::string seen = server->finish();
        CHECK_MESSAGE(saw_application_data(seen), "the server received: " << seen);
    }
}

// A field of the JSON line tls_probe.py prints, as written there ("[4865, 4866]").
std::string offered(const std::string& json, const std::string& field)
{
    const std::string key = "\"" + field + "\": ";
    const std::size_t at = json.find(key);
    if (at == std::string::npos)
        return "(no " + field + ")";
    const std::size_t start = at + key.size();
    return json.substr(start, json.find(']', start) + 1 - start);
}

std::string client_hello_of(client_kind kind, const mtls::tls_options& tls = {})
{
    server_process probe({"python3", (support_dir / "tls_probe.py").string(), "client-hello"}, output_file());
    target t;
    t.tls = tls;
    (void)attempt(kind, probe.port(), t);
    return probe.finish();
}

} // namespace

TEST_CASE("the ClientHello offers exactly the SDK's suites, groups and signature algorithms")
{
    for (const client_kind kind : every_client) {
        const std::string client = name_of(kind);
        CAPTURE(client);
        const std::string hello = client_hello_of(kind);
        // TLS 1.3: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; TLS 1.2: ECDHE-ECDSA and
        // ECDHE-RSA with AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305. Nothing else.
        CHECK(offered(hello, "suites") == "[4865, 4866, 4867, 49195, 49199, 49196, 49200, 52393, 52392]");
        CHECK(offered(hello, "versions") == "[772, 771]");
        CHECK(offered(hello, "groups") == "[29, 23, 24]"); // x25519, secp256r1, secp384r1
        CHECK(offered(hello, "key_shares") == "[29]");
        // RSA-PSS, ECDSA and RSA PKCS#1 with SHA-256, -384, -512: no SHA-1, no MD5.
        CHECK(offered(hello, "signature_algorithms") == "[2052, 2057, 2053, 2058, 2054, 2059, 1027, 1283, 1539, 1025, 1281, 1537]");
    }
}

TEST_CASE("an installation narrows the suites and groups offered, and cannot widen them")
{
    mtls::tls_options narrow;
    narrow.cipher_suites = {mtls::tls_cipher_suite::tls13_aes_256_gcm_sha384,
                            mtls::tls_cipher_suite::ecdhe_ecdsa_aes_256_gcm_sha384};
    narrow.groups = {mtls::tls_group::secp384r1};
    const std::string hello = client_hello_of(client_kind::mqtt, narrow);
    CHECK(offered(hello, "suites") == "[4866, 49196]");
    CHECK(offered(hello, "groups") == "[24]");
    CHECK(offered(hello, "key_shares") == "[24]");

    asio::io_context io;
    const auto trust = mtls::truststore::from_path(platform().server_ca());
    mtls::tls_options anonymous;
    anonymous.cipher_suites = {static_cast<mtls::tls_cipher_suite>(0x00A6)}; // TLS_DH_anon_WITH_AES_128_GCM_SHA256
    CHECK_ERROR(mtls::client(io.get_executor(), device_credentials(), trust, anonymous), mtls::errc::invalid_argument,
                "tls_options::cipher_suites: TLS_DH_anon_WITH_AES_128_GCM_SHA256 is not one the SDK offers");
    CHECK_ERROR(mtls::https_client(io.get_executor(), trust, anonymous), mtls::errc::invalid_argument,
                "TLS_DH_anon_WITH_AES_128_GCM_SHA256 is not one the SDK offers");
    mtls::tls_options weak_group;
    weak_group.groups = {static_cast<mtls::tls_group>(21)}; // secp224r1
    CHECK_ERROR(mtls::client(io.get_executor(), device_credentials(), trust, weak_group), mtls::errc::invalid_argument,
                "tls_options::groups: group 21 is not one the SDK offers");
}

TEST_CASE("a server with only anonymous, NULL, RC4, 3DES, CBC, static-RSA or integrity-only suites is refused")
{
    const std::error_code handshake_failure = mtls::make_tls_alert_error(40);
    SUBCASE("anonymous Diffie-Hellman without a certificate: a fake broker and a fake HTTPS server (OpenSSL)")
    {
        check_refused(s_server("", {"-nocert", "-tls1_2", "-cipher", "ADH-AES256-GCM-SHA384:ADH-AES128-SHA@SECLEVEL=0"}),
                      handshake_failure, "from localhost", {}, every_client);
    }
    SUBCASE("anonymous Diffie-Hellman (wolfSSL)")
    {
        check_refused(wolfssl_server("ADH-AES128-SHA", {"--anon", "--tls12"}), handshake_failure, "from localhost");
    }
    SUBCASE("NULL encryption")
    {
        check_refused(s_server("good-ec", {"-tls1_2", "-cipher", "ECDHE-ECDSA-NULL-SHA@SECLEVEL=0"}), handshake_failure,
                      "from localhost");
    }
    SUBCASE("RC4")
    {
        check_refused(wolfssl_server("ECDHE-RSA-RC4-SHA", {"--tls12"}), handshake_failure, "from localhost");
    }
    SUBCASE("3DES")
    {
        check_refused(wolfssl_server("ECDHE-RSA-DES-CBC3-SHA", {"--tls12"}), handshake_failure, "from localhost");
    }
    SUBCASE("CBC with SHA-1, and static RSA key exchange")
    {
        check_refused(wolfssl_server("ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256:AES256-SHA", {"--tls12"}),
                      handshake_failure, "from localhost");
    }
    SUBCASE("TLS 1.3 integrity-only suites")
    {
        check_refused(wolfssl_server("TLS13-SHA256-SHA256:TLS13-SHA384-SHA384", {"--tls13"}), handshake_failure,
                      "from localhost");
    }
}

TEST_CASE("a server that insists on a suite the client did not offer is refused, naming the suite")
{
    struct insisted {
        const char* suite;
        const char* version;
        const char* name;
    };
    const insisted cases[] = {
        {"0x00A6", "0x0303", "TLS_DH_anon_WITH_AES_128_GCM_SHA256 (0x00A6)"},
        {"0x0034", "0x0303", "TLS_DH_anon_WITH_AES_128_CBC_SHA (0x0034)"},
        {"0xC006", "0x0303", "TLS_ECDHE_ECDSA_WITH_NULL_SHA (0xC006)"},
        {"0xC011", "0x0303", "TLS_ECDHE_RSA_WITH_RC4_128_SHA (0xC011)"},
        {"0xC012", "0x0303", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA (0xC012)"},
        {"0xC013", "0x0303", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA (0xC013)"},
        {"0x009C", "0x0303", "TLS_RSA_WITH_AES_128_GCM_SHA256 (0x009C)"},
        {"0xC0B4", "0x0304", "TLS_SHA256_SHA256 (0xC0B4)"},
    };
    SUBCASE("anonymous, NULL, RC4, 3DES, CBC, static RSA, integrity-only")
    {
        for (const insisted& c : cases) {
            const std::string name = c.name;
            CAPTURE(name);
            check_refused(insisting_server(c.suite, c.version), mtls::errc::tls_cipher_suite_refused,
                          std::string("the server chose ") + c.name);
        }
    }
    SUBCASE("or on a protocol older than TLS 1.2")
    {
        check_refused(insisting_server("0xC02F", "0x0302"), mtls::errc::tls_protocol_version,
                      "the server chose TLS 1.1");
        check_refused(insisting_server("0xC02F", "0x0301"), mtls::errc::tls_protocol_version,
                      "the server chose TLS 1.0");
    }
}

TEST_CASE("server certificates the SDK refuses, each named")
{
    struct refused_certificate {
        const char* variant;
        std::vector<std::string> flags;
        std::error_code code;
        const char* detail;
        const char* host = "localhost";
    };
    const mtls::errc weak_key = mtls::errc::server_key_too_weak;
    const mtls::errc mismatch = mtls::errc::server_name_mismatch;
    const mtls::errc usage = mtls::errc::server_certificate_usage;
    const mtls::errc untrusted = mtls::errc::server_not_trusted;
    const std::vector<std::string> legacy = {"-cipher", "DEFAULT@SECLEVEL=0"};
    const refused_certificate cases[] = {
        {"rsa1024", legacy, weak_key, "/CN=localhost (the server certificate) has an RSA key of 1024 bits"},
        {"weak-intermediate", legacy, weak_key, "/CN=c8y-mtls test weak intermediate has an RSA key of 1024 bits"},
        {"sha1", legacy, mtls::errc::server_signature_too_weak,
         "/CN=localhost (the server certificate) is signed with RSA PKCS#1 v1.5 with SHA-1"},
        {"san-star", {}, mismatch, "names DNS:* ('*' alone matches no host)"},
        {"san-partial-suffix", {}, mismatch, "DNS:local* is a partial wildcard"},
        {"san-partial-prefix", {}, mismatch, "DNS:*host is a partial wildcard"},
        {"san-ip-as-dns", {}, mismatch, "an IP address matches iPAddress entries only, not DNS:127.0.0.1", "127.0.0.1"},
        {"good-rsa", {}, mismatch, "host \"127.0.0.1\", certificate /CN=localhost names DNS:localhost", "127.0.0.1"},
        {"wildcard-localhost", {}, mismatch, "DNS:*.localhost is too broad"},
        {"wildcard-com", {}, mismatch, "DNS:*.com is too broad"},
        {"other-name", {}, mismatch, "names DNS:localhost.evil.com"},
        {"san-over-cn", {}, mismatch, "names DNS:other.example (its CN is not used: the certificate has a subjectAltName)"},
        {"ku-no-digital-signature", {"-tls1_2"}, usage, "keyUsage without digitalSignature"},
        {"ku-no-digital-signature", {"-tls1_3"}, usage, "keyUsage without digitalSignature"},
        {"eku-client-only", {"-tls1_2"}, usage, "extendedKeyUsage without serverAuth"},
        {"eku-client-only", {"-tls1_3"}, usage, "extendedKeyUsage without serverAuth"},
        {"expired", {}, mtls::errc::server_certificate_expired, "/CN=localhost expired on 2021-01-01T00:00:00Z"},
        {"not-yet-valid", {}, mtls::errc::server_certificate_not_yet_valid,
         "/CN=localhost is not valid before 2090-01-01T00:00:00Z"},
        {"signer-not-ca", {}, untrusted, "which is not a CA (basicConstraints CA:FALSE)"},
        {"signer-v1", {}, untrusted, "an X.509 v1 certificate, which cannot be a CA"},
        {"signer-no-basic-constraints", {}, untrusted, "without basicConstraints, so not a CA"},
        {"fake-ca", {}, untrusted,
         "the server sent its own /CN=c8y-mtls local platform server CA as its signer, not the truststore's CA"},
        {"good-rsa", {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, mtls::make_tls_alert_error(70), "from localhost"},
        {"good-rsa", {"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}, mtls::make_tls_alert_error(70), "from localhost"},
    };
    SUBCASE("keys, signatures, names, usage, dates and signers")
    {
        for (const refused_certificate& c : cases) {
            const std::string variant = c.variant;
            const std::string flags = c.flags.empty() ? "" : c.flags.front();
            CAPTURE(variant);
            CAPTURE(flags);
            target t;
            t.host = c.host;
            check_refused(s_server(c.variant, c.flags), c.code, c.detail, t);
        }
    }
    SUBCASE("a CA of the truststore whose own key is too weak vouches for nothing")
    {
        target t;
        t.trust = hostile_pki() / "weak-ca" / "ca.pem";
        check_refused(s_server("weak-ca", legacy), weak_key,
                      "the truststore's /CN=c8y-mtls test weak CA has an RSA key of 1024 bits (at least 2048 are "
                      "needed), so it does not vouch for /CN=localhost",
                      t, every_client);
    }
    SUBCASE("a wildcard stands for one label")
    {
        target t;
        t.tls.server_name = "a.b.example.test";
        check_refused(s_server("wildcard"), mismatch, "names DNS:*.example.test", t);
    }
}

TEST_CASE("server certificates the SDK accepts: the application data arrives")
{
    const std::string sdk_suites = "TLS13-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
    SUBCASE("RSA over TLS 1.2 and 1.3, EC; openssl s_server's echo shows what arrives too")
    {
        check_accepted(wolfssl_server("ECDHE-RSA-AES128-GCM-SHA256", {"--tls12"}));
        check_accepted(wolfssl_server("TLS13-CHACHA20-POLY1305-SHA256", {"--tls13"}));
        check_accepted(wolfssl_server(sdk_suites, {}, "good-ec"));
        check_accepted(s_server("good-rsa"));
    }
    SUBCASE("the CN when there is no subjectAltName")
    {
        check_accepted(wolfssl_server(sdk_suites, {}, "cn-only"));
    }
    SUBCASE("an IP address against an iPAddress entry")
    {
        target t;
        t.host = "127.0.0.1";
        check_accepted(wolfssl_server(sdk_suites, {}, "ip-san"), t);
    }
    SUBCASE("a wildcard for one leftmost label")
    {
        target t;
        t.tls.server_name = "mqtt.example.test";
        check_accepted(wolfssl_server(sdk_suites, {}, "wildcard"), t);
    }
}

TEST_CASE("c8y-mtls-connect refuses the anonymous fake broker: exit 1, the cause named, nothing published")
{
    const std::unique_ptr<server_process> broker =
        s_server("", {"-nocert", "-tls1_2", "-cipher", "ADH-AES256-GCM-SHA384:ADH-AES128-SHA@SECLEVEL=0"})();
    int code = -1;
    const std::string out = run_command(
        "DEVICE_PW=" + shell_quote(platform().password("device-0001")) + " " + C8Y_TEST_CONNECT_CLI +
            " --host localhost --port " + std::to_string(broker->port()) + " --cafile " +
            shell_quote(platform().server_ca().string()) + " --cert " +
            shell_quote(platform().chain("device-0001").string()) + " --key " +
            shell_quote(platform().key("device-0001").string()) +
            " --key-password-env DEVICE_PW --publish s/us --message '200,c8y_Temperature,T,21' 2>&1",
        &code);
    CHECK(code == 1);
    CHECK(mtls::test::contains(out, "handshake_failure (40)"));
    CHECK_FALSE(saw_application_data(broker->finish()));
}
