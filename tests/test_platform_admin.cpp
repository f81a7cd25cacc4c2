// The platform's trust steps and c8y-mtls-pki: platform_admin against a local HTTPS server that
// plays the platform's provisioning endpoints (scripts/platform_https.py, PLATFORM.md's
// status codes and JSON), and devices made by c8y-mtls-pki connecting to the local platform.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <asio/io_context.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/https_server.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace http = c8y::mtls::http;
namespace prov = c8y::mtls::provisioning;
using namespace std::chrono_literals;
using mtls::test::failure_of;
using mtls::test::https_server;
using mtls::test::local_platform;
using mtls::test::random_secret;
using mtls::test::run;
using mtls::test::run_command;
using mtls::test::shell_quote;

namespace {

constexpr const char* tenant_id = "t4711";

struct environment {
    std::string secret = random_secret();
    local_platform platform{[this] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "admin-platform";
        o.secret = secret;
        return o;
    }()};
    https_server server{platform, secret, std::string("--tenant ") + tenant_id};
};

environment& env()
{
    static environment instance;
    return instance;
}

mtls::truststore server_trust() { return mtls::truststore::from_path(env().platform.server_ca()); }

mtls::basic_credentials admin_login() { return mtls::basic_credentials("admin", "admin-password"); }

std::string q(const fs::path& p) { return shell_quote(p.string()); }

std::string read_text(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

fs::path scratch(const std::string& name)
{
    fs::path p = fs::path(C8Y_TEST_WORK_DIR) / "pki-cli" / name;
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

// A CA made by the SDK, as PEM, with its key.
struct made_ca {
    std::string pem;
    prov::private_key key;
};

made_ca make_ca(const std::string& cn, prov::key_type type = prov::key_type::ec256)
{
    prov::private_key key = prov::private_key::generate(type);
    prov::certificate_options o;
    o.common_name = cn;
    const mtls::der_certificate der = prov::make_ca_certificate(key, o);
    return {prov::certificate_pem(der), std::move(key)};
}

// How many requests the server saw on `path` (its /stats).
int requests_on(const std::string& path)
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    http::request req;
    req.url = env().server.url("/stats");
    const http::response stats = run(io, rest.request(req));
    const auto object = mtls::detail::parse_json_object(stats.body);
    REQUIRE(object);
    const auto requests = mtls::detail::json_member_of(object->find("requests")->raw, path);
    return requests ? std::stoi(requests->raw) : 0;
}

std::string sh(const std::string& cmd, int& code) { return run_command(cmd + " 2>&1", &code); }

std::string pki(const std::string& args, int& code) { return sh(std::string(C8Y_TEST_PKI_CLI) + " " + args, code); }

// c8y-mtls-pki ARGS, which must succeed.
void pki_ok(const std::string& args)
{
    int code = -1;
    const std::string output = pki(args, code);
    REQUIRE_MESSAGE(code == 0, "c8y-mtls-pki " << args << ":\n" << output);
}

} // namespace

TEST_CASE("credentials::none(): HTTPS without a client certificate; the MQTT client refuses it")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    http::request req;
    req.url = env().server.url("/whoami");
    const http::response answer = run(io, rest.request(req));
    CHECK(answer.body == "none"); // the server asked, nothing was sent

    try {
        mtls::client device(io.get_executor(), mtls::credentials::none(), server_trust());
        FAIL("the MQTT client took credentials without a certificate");
    } catch (const mtls::error& e) {
        CHECK(e.code() == mtls::errc::no_certificate);
        CHECK_MESSAGE(std::string(e.what()).find("credentials::none()") != std::string::npos, e.what());
    }
}

TEST_CASE("platform_admin: tenant, upload, get, update, every page of the list, delete")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login());

    const std::string tenant = run(io, admin.tenant());
    CHECK(tenant == tenant_id); // asked of GET /tenant/currentTenant

    made_ca rsa = make_ca("admin-flow RSA CA", prov::key_type::rsa2048);
    const prov::certificate_upload upload{"admin-flow RSA CA", rsa.pem, true, true};
    const prov::trusted_certificate uploaded = run(io, admin.upload_certificate(upload));
    CHECK(uploaded.fingerprint.size() == 40);
    CHECK(uploaded.name == "admin-flow RSA CA");
    CHECK(uploaded.status == "ENABLED");
    CHECK(uploaded.auto_registration_enabled);
    CHECK_FALSE(uploaded.proof_of_possession_valid);
    CHECK(uploaded.subject.find("admin-flow RSA CA") != std::string::npos);

    // The same certificate again: the platform's 409, named.
    const mtls::error duplicate = failure_of(io, admin.upload_certificate(upload));
    CHECK(duplicate.code() == mtls::errc::certificate_already_uploaded);
    CHECK_MESSAGE(duplicate.detail().find("409") != std::string::npos, duplicate.what());
    CHECK_MESSAGE(duplicate.detail().find(uploaded.fingerprint) != std::string::npos, duplicate.what());

    const prov::trusted_certificate got = run(io, admin.certificate(uploaded.fingerprint));
    CHECK(got.fingerprint == uploaded.fingerprint);
    CHECK(got.certificate_pem.find("MII") != std::string::npos);

    // Renamed, disabled, auto-registration off; an update that changes nothing is not sent.
    prov::certificate_update update;
    update.name = "renamed RSA CA";
    update.enabled = false;
    update.auto_registration = false;
    const prov::trusted_certificate updated = run(io, admin.update_certificate(uploaded.fingerprint, update));
    CHECK(updated.name == "renamed RSA CA");
    CHECK(updated.status == "DISABLED");
    CHECK_FALSE(updated.auto_registration_enabled);
    CHECK_FALSE(run(io, admin.certificate(uploaded.fingerprint)).auto_registration_enabled);
    CHECK(failure_of(io, admin.update_certificate(uploaded.fingerprint, prov::certificate_update{})).code() ==
          mtls::errc::invalid_argument);

    // More certificates than the platform's default page of 5: the list reads every page.
    std::vector<std::string> fingerprints{uploaded.fingerprint};
    for (int i = 0; i < 6; ++i) {
        made_ca ec = make_ca("admin-flow EC CA " + std::to_string(i));
        const prov::certificate_upload more{"EC CA " + std::to_string(i), ec.pem, i % 2 == 0, false};
        fingerprints.push_back(run(io, admin.upload_certificate(more)).fingerprint);
    }
    std::vector<prov::trusted_certificate> listed = run(io, admin.list_certificates());
    std::vector<std::string> listed_fingerprints;
    for (const auto& c : listed)
        listed_fingerprints.push_back(c.fingerprint);
    for (const std::string& f : fingerprints)
        CHECK_MESSAGE(std::count(listed_fingerprints.begin(), listed_fingerprints.end(), f) == 1, f);
    CHECK(std::count_if(listed.begin(), listed.end(), [](const auto& c) { return c.status == "DISABLED"; }) >= 4);

    for (const std::string& f : fingerprints)
        run(io, admin.delete_certificate(f));
    const mtls::error gone = failure_of(io, admin.certificate(uploaded.fingerprint));
    CHECK(gone.code() == mtls::errc::platform_refused);
    CHECK_MESSAGE(gone.detail().find("404") != std::string::npos, gone.what());
    CHECK(run(io, admin.list_certificates()).size() == listed.size() - fingerprints.size());
}

TEST_CASE("platform_admin: the platform's refusals name its answer")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login(), tenant_id);

    SUBCASE("422: a certificate that is not a CA's, with the platform's message")
    {
        made_ca ca = make_ca("refusal CA");
        const prov::signing_authority issuer{mtls::detail::certificates_from_pem(ca.pem, "ca").front(),
                                             std::move(ca.key)};
        prov::private_key device_key = prov::private_key::generate(prov::key_type::ec256);
        prov::certificate_options o;
        o.common_name = "refusal-device";
        const prov::certificate_upload upload{"a device", prov::certificate_pem(prov::make_device_certificate(
                                                              device_key, o, issuer)),
                                              true, false};
        const mtls::error e = failure_of(io, admin.upload_certificate(upload));
        CHECK(e.code() == mtls::errc::platform_refused);
        CHECK_MESSAGE(e.detail().find("422") != std::string::npos, e.what());
        CHECK_MESSAGE(e.detail().find("CA:TRUE") != std::string::npos, e.what());
    }
    SUBCASE("401: a wrong password")
    {
        prov::platform_admin intruder(rest, env().server.url(""), mtls::basic_credentials("admin", "guess"), tenant_id);
        const mtls::error e = failure_of(io, intruder.list_certificates());
        CHECK(e.code() == mtls::errc::platform_refused);
        CHECK_MESSAGE(e.detail().find("401") != std::string::npos, e.what());
    }
    SUBCASE("404: another tenant")
    {
        prov::platform_admin elsewhere(rest, env().server.url(""), admin_login(), "t-other");
        const mtls::error e = failure_of(io, elsewhere.list_certificates());
        CHECK(e.code() == mtls::errc::platform_refused);
        CHECK_MESSAGE(e.detail().find("404") != std::string::npos, e.what());
    }
    SUBCASE("arguments refused before anything is sent")
    {
        const prov::certificate_upload nameless{"", "pem", true, false};
        CHECK(failure_of(io, admin.upload_certificate(nameless)).code() == mtls::errc::invalid_argument);
        CHECK(failure_of(io, admin.certificate("")).code() == mtls::errc::invalid_argument);
        CHECK(failure_of(io, admin.submit_proof_of_possession("ab", "")).code() == mtls::errc::invalid_argument);
    }
}

TEST_CASE("platform_admin: proof of possession with RSA and EC CAs; a wrong signature is the platform's 400")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login(), tenant_id);

    for (const prov::key_type type : {prov::key_type::rsa2048, prov::key_type::ec256, prov::key_type::ec384}) {
        CAPTURE(static_cast<int>(type));
        made_ca ca = make_ca("pop CA " + std::to_string(static_cast<int>(type)), type);
        const prov::certificate_upload upload{"pop CA", ca.pem, true, true};
        const std::string fingerprint = run(io, admin.upload_certificate(upload)).fingerprint;

        // No code asked for yet: the platform's 422.
        const mtls::error early = failure_of(io, admin.submit_proof_of_possession(fingerprint, "c2lnbmF0dXJl"));
        CHECK(early.code() == mtls::errc::platform_refused);
        CHECK_MESSAGE(early.detail().find("422") != std::string::npos, early.what());

        // Signed with another key: 400.
        const std::string code = run(io, admin.new_verification_code(fingerprint));
        CHECK_FALSE(code.empty());
        const prov::private_key other = prov::private_key::generate(type);
        const mtls::error wrong =
            failure_of(io, admin.submit_proof_of_possession(fingerprint, prov::sign_verification_code(other, code)));
        CHECK(wrong.code() == mtls::errc::proof_of_possession_rejected);
        CHECK_MESSAGE(wrong.detail().find("400") != std::string::npos, wrong.what());

        const prov::trusted_certificate proven = run(io, admin.prove_possession(fingerprint, ca.key));
        CHECK(proven.proof_of_possession_valid);
        CHECK(run(io, admin.certificate(fingerprint)).proof_of_possession_valid);
        run(io, admin.delete_certificate(fingerprint));
    }
}

TEST_CASE("platform_admin: the device token's lifespan is set, and under 300 s refused before sending")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login(), tenant_id);

    const int before = requests_on("/tenant/options");
    const mtls::error low = failure_of(io, admin.set_device_token_lifespan(299s));
    CHECK(low.code() == mtls::errc::invalid_argument);
    CHECK_MESSAGE(low.detail().find("300") != std::string::npos, low.what());
    CHECK(requests_on("/tenant/options") == before);

    run(io, admin.set_device_token_lifespan(900s));
    CHECK(requests_on("/tenant/options") == before + 1);
    http::request read_back;
    read_back.url = env().server.url("/tenant/options/oauth.internal/device-token.lifespan.seconds");
    const http::response option = run(io, rest.request(read_back, admin_login()));
    CHECK(option.status == 200);
    CHECK(mtls::detail::json_member_of(option.body, "value")->text == "900");
}

TEST_CASE("platform_admin: answers that break the API's contract are named, not guessed at")
{
    using prov::read_trusted_certificate;
    const auto code_of = [](std::string_view body) {
        try {
            read_trusted_certificate(body, "test answer");
        } catch (const mtls::error& e) {
            return e.code();
        }
        return std::error_code{};
    };
    CHECK(code_of("not json") == mtls::errc::platform_answer_malformed);
    CHECK(code_of("{\"name\":\"no fingerprint\"}") == mtls::errc::platform_answer_malformed);
    CHECK(code_of("{\"fingerprint\":42}") == mtls::errc::platform_answer_malformed);
    CHECK(code_of("{\"fingerprint\":\"ab\",\"fingerprint\":\"cd\"}") == mtls::errc::platform_answer_malformed);
    CHECK(code_of("{\"fingerprint\":\"ab\",\"proofOfPossessionValid\":\"maybe\"}") ==
          mtls::errc::platform_answer_malformed);
    // The guide's own example writes booleans as strings: both are read.
    CHECK(read_trusted_certificate("{\"fingerprint\":\"ab\",\"autoRegistrationEnabled\":\"true\"}", "t")
              .auto_registration_enabled);
    CHECK(read_trusted_certificate("{\"fingerprint\":\"ab\",\"autoRegistrationEnabled\":true}", "t")
              .auto_registration_enabled);
}

TEST_CASE("platform_admin: the certificate-authority feature, the tenant CA it creates, and reading it")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login());

    // Off by default, as on the platform: creating a CA is refused with the platform's words.
    CHECK_FALSE(run(io, admin.certificate_authority_feature()));
    const mtls::error off = failure_of(io, admin.create_certificate_authority());
    CHECK(off.code() == mtls::errc::platform_refused);
    CHECK_MESSAGE(off.detail().find("403") != std::string::npos, off.what());
    CHECK_MESSAGE(off.detail().find("not active") != std::string::npos, off.what());
    CHECK_FALSE(run(io, admin.certificate_authority()).has_value());

    run(io, admin.set_certificate_authority_feature(true));
    CHECK(run(io, admin.certificate_authority_feature()));
    const prov::trusted_certificate ca = run(io, admin.create_certificate_authority());
    CHECK(ca.tenant_certificate_authority);
    CHECK(ca.fingerprint.size() == 40);
    // What the platform made: a self-signed CA named after the tenant, as the OpenSSL CLI reads it.
    const fs::path dir = scratch("tenant-ca");
    const mtls::der_certificate der = mtls::detail::pem_certificates(
        "-----BEGIN CERTIFICATE-----\n" + ca.certificate_pem + "\n-----END CERTIFICATE-----\n", "ca")[0];
    write_text(dir / "ca.pem", prov::certificate_pem(der));
    int code = -1;
    const std::string text = sh("openssl x509 -in " + q(dir / "ca.pem") + " -noout -subject -issuer -ext basicConstraints", code);
    CHECK(code == 0);
    CHECK_MESSAGE(text.find("subject=O = Cumulocity, CN = " + std::string(tenant_id)) != std::string::npos, text);
    CHECK_MESSAGE(text.find("issuer=O = Cumulocity, CN = " + std::string(tenant_id)) != std::string::npos, text);
    CHECK_MESSAGE(text.find("CA:TRUE") != std::string::npos, text);

    const mtls::error again = failure_of(io, admin.create_certificate_authority());
    CHECK(again.code() == mtls::errc::platform_refused);
    CHECK_MESSAGE(again.detail().find("409") != std::string::npos, again.what());
    const std::optional<prov::trusted_certificate> found = run(io, admin.certificate_authority());
    REQUIRE(found.has_value());
    CHECK(found->fingerprint == ca.fingerprint);
}

TEST_CASE("platform_admin: the bulk registration with one-time passwords, uploaded; the platform's answer row by row")
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login());

    std::vector<prov::bulk_device> devices(2);
    devices[0].id = "bulk-otp-1";
    devices[1].id = "bulk-otp-2";
    for (auto& d : devices)
        d.enrollment_otp = prov::make_one_time_password();
    const std::string csv = prov::bulk_registration_csv(devices, ';');
    const prov::bulk_registration_result first = run(io, admin.upload_bulk_registration(csv));
    CHECK(first.all == 2);
    CHECK(first.created == 2);
    CHECK(first.failed == 0);
    CHECK(first.failures.empty());

    // The same devices again: their passwords replaced. Rows the SDK would not write, sent as a
    // hand-made file, come back as the platform's refusals with their lines.
    const std::string mixed = "ID,AUTH_TYPE,ENROLLMENT_OTP\r\nbulk-otp-1,CERTIFICATES,NewPassword1\r\n"
                              ",CERTIFICATES,abc\r\nbulk-otp-3,CERTIFICATES," + std::string(33, 'p') + "\r\n";
    const prov::bulk_registration_result second = run(io, admin.upload_bulk_registration(mixed));
    CHECK(second.all == 3);
    CHECK(second.created == 0);
    CHECK(second.successful == 1);
    CHECK(second.credentials_updated == std::vector<std::string>{"bulk-otp-1"});
    REQUIRE(second.failures.size() == 2);
    CHECK(second.failures[0].device_id.empty());
    CHECK(second.failures[0].reason == "The device ID is missing");
    CHECK(second.failures[0].line == ",CERTIFICATES,abc");
    CHECK(second.failures[1].device_id == "bulk-otp-3");
    CHECK(second.failures[1].reason.find("longer than 32") != std::string::npos);

    // Nothing is sent for an empty file.
    const int before = requests_on("/devicecontrol/bulkNewDeviceRequests");
    CHECK(failure_of(io, admin.upload_bulk_registration("")).code() == mtls::errc::invalid_argument);
    CHECK(requests_on("/devicecontrol/bulkNewDeviceRequests") == before);
}

TEST_CASE("c8y-mtls-pki: a device it makes connects to the local platform and gets its token")
{
    const fs::path dir = scratch("connect");
    int code = -1;
    const std::string ca_dir = q(dir / "ca");
    const std::string made_ca = pki("ca --cn " + shell_quote("pki test CA") + " --out " + ca_dir, code);
    REQUIRE_MESSAGE(code == 0, made_ca);
    const std::string device = "pki-device-0001";
    const std::string made_device = pki("device --cn " + device + " --ca " + ca_dir + " --out " + q(dir / device) +
                                            " --key-type rsa2048",
                                        code);
    REQUIRE_MESSAGE(code == 0, made_device);
    for (const char* file : {"key.pem", "cert.pem", "chain.pem"})
        CHECK_MESSAGE(fs::exists(dir / device / file), file);

    // The CA "uploaded to the platform": a second local platform trusts it.
    local_platform::options o;
    o.dir = fs::path(C8Y_TEST_WORK_DIR) / "pki-platform";
    o.trusted_cas = {dir / "ca" / "ca.pem"};
    local_platform platform(o);
    const std::string token = sh(std::string(C8Y_TEST_CONNECT_CLI) + " --host localhost --port " +
                                     std::to_string(platform.port()) + " --cafile " + q(platform.server_ca()) +
                                     " --cert " + q(dir / device / "chain.pem") + " --key " +
                                     q(dir / device / "key.pem") + " --token --timeout 10",
                                 code);
    CHECK_MESSAGE(code == 0, token);
    CHECK_MESSAGE(token.find("\"sub\":\"" + device + "\"") != std::string::npos, token);
}

TEST_CASE("c8y-mtls-pki: intermediate, device keystore, bulk CSV and pop-sign, checked by the OpenSSL CLI")
{
    const fs::path dir = scratch("tools");
    int code = -1;
    pki_ok("ca --cn Root --out " + q(dir / "root") + " --key-type rsa2048 --pathlen 1");
    const std::string inter = pki("intermediate --cn Intermediate --ca " + q(dir / "root") + " --out " +
                                      q(dir / "inter") + " --key-type ec384",
                                  code);
    REQUIRE_MESSAGE(code == 0, inter);
    const std::string made = sh("P12_PASSWORD=keystore-secret " + std::string(C8Y_TEST_PKI_CLI) +
                                    " device --cn dev-1 --ca " + q(dir / "inter") + " --out " + q(dir / "dev-1") +
                                    " --p12-password-env P12_PASSWORD",
                                code);
    REQUIRE_MESSAGE(code == 0, made);
    pki_ok("device --cn dev-2 --ca " + q(dir / "inter") + " --out " + q(dir / "dev-2"));

    const std::string verified = sh("openssl verify -CAfile " + q(dir / "root" / "ca.pem") + " -untrusted " +
                                        q(dir / "inter" / "ca.pem") + " " + q(dir / "dev-1" / "cert.pem"),
                                    code);
    CHECK_MESSAGE(code == 0, verified);
    // The chain file in the guide's order: device, intermediate, root.
    const std::string subjects = sh("openssl crl2pkcs7 -nocrl -certfile " + q(dir / "dev-1" / "chain.pem") +
                                        " | openssl pkcs7 -print_certs -noout | grep '^subject'",
                                    code);
    CHECK_MESSAGE(subjects.find("dev-1") < subjects.find("Intermediate"), subjects);
    CHECK_MESSAGE(subjects.find("Intermediate") < subjects.find("Root"), subjects);
    const std::string p12 = sh("openssl pkcs12 -in " + q(dir / "dev-1" / "keystore.p12") +
                                   " -passin pass:keystore-secret -nokeys | grep -c 'BEGIN CERTIFICATE'",
                               code);
    CHECK_MESSAGE(p12.find('3') == 0, p12);

    // The SDK's own loader reads the keystore, and the validator accepts what it holds.
    const mtls::credentials loaded =
        mtls::credentials::from_pkcs12_file(dir / "dev-1" / "keystore.p12", "keystore-secret");
    CHECK(loaded.device_common_name() == "dev-1");
    CHECK(loaded.chain().size() == 3);

    const std::string csv = pki("bulk-csv --out " + q(dir / "devices.csv") + " " + q(dir / "dev-1") + " " +
                                    q(dir / "dev-2"),
                                code);
    CHECK_MESSAGE(code == 0, csv);
    // Columns empty in every row are left out (CREDENTIALS "absent or empty", PLATFORM.md).
    CHECK(read_text(dir / "devices.csv") == "ID,AUTH_TYPE\r\ndev-1,CERTIFICATES\r\ndev-2,CERTIFICATES\r\n");
    pki("bulk-csv --type c8y_Device --out " + q(dir / "typed.csv") + " " + q(dir / "dev-1"), code);
    CHECK(code == 0);
    CHECK(read_text(dir / "typed.csv") == "ID,AUTH_TYPE,TYPE,NAME\r\ndev-1,CERTIFICATES,c8y_Device,dev-1\r\n");

    // pop-sign: byte for byte what the guide's openssl pipeline prints for an RSA CA.
    const std::string signed_code = pki("pop-sign --ca " + q(dir / "root") + " --code c0de-1234", code);
    CHECK(code == 0);
    const std::string expected = sh("printf %s c0de-1234 | openssl dgst -sha256 -sign " + q(dir / "root" / "ca.key") +
                                        " | openssl base64 -A",
                                    code);
    CHECK(signed_code == expected + "\n");
}

TEST_CASE("c8y-mtls-pki: exit 2 for bad arguments, 1 for refusals, and no key overwritten")
{
    const fs::path dir = scratch("errors");
    int code = -1;
    pki("", code);
    CHECK(code == 2);
    pki("frobnicate", code);
    CHECK(code == 2);
    pki("ca --out " + q(dir / "ca"), code); // --cn missing
    CHECK(code == 2);
    pki("ca --cn X --out " + q(dir / "ca") + " --key-type rsa1024", code);
    CHECK(code == 2);
    pki("ca --cn X --out " + q(dir / "ca") + " --days zero", code);
    CHECK(code == 2);
    const std::string colon = pki("ca --cn a:b --out " + q(dir / "colon"), code);
    CHECK(code == 1); // a check that refuses
    CHECK_MESSAGE(colon.find(':') != std::string::npos, colon);
    write_text(dir / "a-file", "not a directory");
    const std::string file_out = pki("ca --cn X --out " + q(dir / "a-file"), code);
    CHECK(code == 2); // a bad argument
    CHECK_MESSAGE(file_out.find("is a file, not a directory") != std::string::npos, file_out);
    pki("device --cn d --ca " + q(dir / "nowhere") + " --out " + q(dir / "d"), code);
    CHECK(code == 2);

    pki_ok("ca --cn Kept --out " + q(dir / "ca"));
    const std::string key_before = read_text(dir / "ca" / "ca.key");
    const std::string again = pki("ca --cn Other --out " + q(dir / "ca"), code);
    CHECK(code == 1);
    CHECK_MESSAGE(again.find("ca.key") != std::string::npos, again);
    CHECK(read_text(dir / "ca" / "ca.key") == key_before);

    // A CA key that is not ca.pem's: refused by a check (1).
    pki_ok("ca --cn Other --out " + q(dir / "other"));
    fs::copy_file(dir / "other" / "ca.key", dir / "ca" / "ca.key", fs::copy_options::overwrite_existing);
    const std::string mismatch = pki("device --cn d1 --ca " + q(dir / "ca") + " --out " + q(dir / "d1"), code);
    CHECK(code == 1);
    CHECK_MESSAGE(mismatch.find("is not the private key of") != std::string::npos, mismatch);
}

TEST_CASE("c8y-mtls-pki upload --pop: uploads the CA and proves possession; again, the platform's 409")
{
    const fs::path dir = scratch("upload");
    int code = -1;
    pki_ok("ca --cn " + shell_quote("Upload CA") + " --out " + q(dir / "ca") + " --key-type rsa3072");
    const std::string upload = "C8Y_PASSWORD=admin-password " + std::string(C8Y_TEST_PKI_CLI) + " upload --url " +
                               shell_quote(env().server.url("")) + " --tenant " + tenant_id +
                               " --user admin --password-env C8Y_PASSWORD --ca " + q(dir / "ca") + " --cafile " +
                               q(env().platform.server_ca()) + " --auto-register";
    const std::string first = sh(upload + " --pop", code);
    CHECK_MESSAGE(code == 0, first);

    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login(), tenant_id);
    const std::vector<prov::trusted_certificate> all = run(io, admin.list_certificates());
    const auto uploaded = std::find_if(all.begin(), all.end(), [](const auto& c) { return c.name == "Upload CA"; });
    REQUIRE(uploaded != all.end());
    CHECK(uploaded->auto_registration_enabled);
    CHECK(uploaded->proof_of_possession_valid);
    CHECK_MESSAGE(first.find(uploaded->fingerprint) != std::string::npos, first);

    const std::string second = sh(upload, code);
    CHECK(code == 1);
    CHECK_MESSAGE(second.find("409") != std::string::npos, second);

    const std::string wrong = sh("C8Y_PASSWORD=wrong " + upload.substr(upload.find(' ') + 1), code);
    CHECK(code == 1);
    CHECK_MESSAGE(wrong.find("401") != std::string::npos, wrong);
    run(io, admin.delete_certificate(uploaded->fingerprint));
}

TEST_CASE("c8y-mtls-pki bulk-csv --otp and bulk-upload: one-time passwords printed once, the file kept private, "
          "the platform's result row by row")
{
    const fs::path dir = scratch("bulk-otp");
    int code = -1;
    pki_ok("ca --cn " + shell_quote("Bulk CA") + " --out " + q(dir / "ca"));
    pki_ok("device --cn bulk-cli-1 --ca " + q(dir / "ca") + " --out " + q(dir / "d1"));
    pki_ok("device --cn bulk-cli-2 --ca " + q(dir / "ca") + " --out " + q(dir / "d2"));
    const std::string printed = pki("bulk-csv --otp --out " + q(dir / "otp.csv") + " " + q(dir / "d1") + " " +
                                        q(dir / "d2"),
                                    code);
    REQUIRE_MESSAGE(code == 0, printed);
    const std::string csv = read_text(dir / "otp.csv");
    CHECK(csv.rfind("ID,AUTH_TYPE,ENROLLMENT_OTP\r\n", 0) == 0);
    for (const std::string id : {"bulk-cli-1", "bulk-cli-2"}) {
        const auto at = printed.find(id + "\t");
        REQUIRE_MESSAGE(at != std::string::npos, printed);
        const std::string password = printed.substr(at + id.size() + 1, 32);
        CHECK(password.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
              std::string::npos);
        CHECK(csv.find(id + ",CERTIFICATES," + password + "\r\n") != std::string::npos);
    }
    CHECK((fs::status(dir / "otp.csv").permissions() & fs::perms::others_read) == fs::perms::none);
    // The file holds secrets: never overwritten.
    pki("bulk-csv --otp --out " + q(dir / "otp.csv") + " " + q(dir / "d1"), code);
    CHECK(code == 1);

    // Devices that will enroll have no certificate: --ids names them, beside DEVICE_DIRs.
    const std::string by_id = pki("bulk-csv --otp --out " + q(dir / "ids.csv") + " --ids bulk-id-1,bulk-id-2 " +
                                      q(dir / "d1"),
                                  code);
    REQUIRE_MESSAGE(code == 0, by_id);
    const std::string ids_csv = read_text(dir / "ids.csv");
    for (const std::string id : {"bulk-cli-1", "bulk-id-1", "bulk-id-2"}) {
        CHECK_MESSAGE(by_id.find(id + "\t") != std::string::npos, by_id);
        CHECK(ids_csv.find("\r\n" + id + ",CERTIFICATES,") != std::string::npos);
    }
    pki("bulk-csv --out " + q(dir / "ids-bad.csv") + " --ids a,,b", code);
    CHECK(code == 2);
    const std::string colon = pki("bulk-csv --out " + q(dir / "ids-bad.csv") + " --ids a:b", code);
    CHECK(code == 1);
    CHECK(colon.find("contains ':'") != std::string::npos);
    const std::string twice = pki("bulk-csv --out " + q(dir / "ids-bad.csv") + " --ids bulk-cli-1 " + q(dir / "d1"), code);
    CHECK(code == 1);
    CHECK(twice.find("given twice") != std::string::npos);
    pki("bulk-csv --out " + q(dir / "ids-bad.csv"), code);
    CHECK(code == 2);

    const std::string upload = "C8Y_PASSWORD=admin-password " + std::string(C8Y_TEST_PKI_CLI) + " bulk-upload --url " +
                               shell_quote(env().server.url("")) + " --user admin --password-env C8Y_PASSWORD" +
                               " --cafile " + q(env().platform.server_ca()) + " ";
    const std::string created = sh(upload + q(dir / "otp.csv"), code);
    CHECK_MESSAGE(code == 0, created);
    CHECK_MESSAGE(created.find("rows 2, created 2, updated 0, failed 0") != std::string::npos, created);
    const std::string again = sh(upload + q(dir / "otp.csv"), code);
    CHECK_MESSAGE(again.find("updated\tbulk-cli-1") != std::string::npos, again);

    write_text(dir / "bad.csv", "ID,AUTH_TYPE\r\nbad:id,CERTIFICATES\r\n");
    const std::string refused = sh(upload + q(dir / "bad.csv"), code);
    CHECK(code == 1);
    CHECK_MESSAGE(refused.find("failed\tbad:id\tThe device ID bad:id contains ':'") != std::string::npos, refused);
    sh(upload, code); // no file
    CHECK(code == 2);
}

namespace {

// The tenant CA of the test server, made once (the feature switched on first), as DER and as a
// PEM file for openssl.
struct tenant_authority {
    mtls::der_certificate der;
    fs::path pem;
};

const tenant_authority& tenant_ca()
{
    static const tenant_authority ca = [] {
        asio::io_context io;
        mtls::https_client rest(io.get_executor(), server_trust());
        prov::platform_admin admin(rest, env().server.url(""), admin_login());
        run(io, admin.set_certificate_authority_feature(true));
        std::optional<prov::trusted_certificate> c = run(io, admin.certificate_authority());
        if (!c)
            c = run(io, admin.create_certificate_authority());
        tenant_authority out;
        out.der = mtls::detail::pem_certificates(
            "-----BEGIN CERTIFICATE-----\n" + c->certificate_pem + "\n-----END CERTIFICATE-----\n", "tenant CA")[0];
        out.pem = scratch("tenant-ca-file") / "ca.pem";
        write_text(out.pem, prov::certificate_pem(out.der));
        return out;
    }();
    return ca;
}

// Registers devices for enrollment with the given one-time passwords, as an operator would.
void register_devices(const std::vector<std::pair<std::string, std::string>>& devices)
{
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    prov::platform_admin admin(rest, env().server.url(""), admin_login());
    std::vector<prov::bulk_device> rows(devices.size());
    for (std::size_t i = 0; i < devices.size(); ++i) {
        rows[i].id = devices[i].first;
        rows[i].enrollment_otp = mtls::secret_string(devices[i].second);
    }
    const prov::bulk_registration_result r = run(io, admin.upload_bulk_registration(prov::bulk_registration_csv(rows)));
    REQUIRE(r.failed == 0);
}

mtls::secret_string secret(std::string_view text) { return mtls::secret_string(text); }

prov::enrollment_options enrollment_of(const std::string& device)
{
    prov::enrollment_options o;
    o.device_id = device;
    o.tenant_ca = tenant_ca().der;
    o.max_wait = std::chrono::seconds(0);
    return o;
}

} // namespace

TEST_CASE("enroll: a key made here, a request openssl accepts, the tenant CA's certificate, checked and verified")
{
    (void)tenant_ca();
    register_devices({{"enroll-ec", "Otp-ec-1"}, {"enroll-rsa", "Otp-rsa-1"}});
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust()); // no client certificate
    for (const auto& [device, type] : {std::pair{std::string("enroll-ec"), prov::key_type::ec256},
                                       std::pair{std::string("enroll-rsa"), prov::key_type::rsa2048}}) {
        INFO(device);
        prov::enrollment_options o = enrollment_of(device);
        o.key = type;
        if (device == "enroll-rsa")
            o.tenant = tenant_id; // the documentation's "TENANT/ID" user works too
        const std::string otp = device == "enroll-ec" ? "Otp-ec-1" : "Otp-rsa-1";
        const prov::enrolled_device enrolled =
            run(io, prov::enroll(rest, env().server.url(""), std::move(o), mtls::secret_string(otp)));
        REQUIRE(enrolled.chain.size() == 2); // the certificate, then the tenant CA it was checked against
        CHECK(enrolled.chain.back() == tenant_ca().der);
        const mtls::certificate certificate = mtls::certificate::from_der(enrolled.chain.front());
        CHECK(certificate.common_name() == device);
        // The key never left: the certificate is for it, and openssl verifies it under the tenant CA.
        CHECK(mtls::validate_credentials(mtls::credentials::from_pem(prov::certificate_pem(enrolled.chain.front()),
                                                                     enrolled.key.to_pem()),
                                         std::nullopt, [] {
                                             mtls::chain_validator_options current;
                                             current.profile = mtls::chain_profile::current;
                                             return current;
                                         }())
                  .ok());
        const fs::path dir = scratch("enrolled-" + device);
        write_text(dir / "cert.pem", prov::certificate_pem(enrolled.chain.front()));
        int code = -1;
        const std::string verified = sh("openssl verify -CAfile " + q(tenant_ca().pem) + " " + q(dir / "cert.pem"), code);
        CHECK_MESSAGE(code == 0, verified);

        // The password is spent: the same request again finds no registration.
        const mtls::error spent =
            failure_of(io, prov::enroll(rest, env().server.url(""), enrollment_of(device), mtls::secret_string(otp)));
        CHECK(spent.code() == mtls::errc::device_not_registered);
        CHECK_MESSAGE(spent.detail().find("No newDeviceRequest found for this ID") != std::string::npos, spent.what());
        CHECK_MESSAGE(spent.detail().find("1 attempt in 0 s") != std::string::npos, spent.what());
    }

    // The request the SDK makes, as openssl reads it.
    const prov::private_key key = prov::private_key::generate(prov::key_type::ec256);
    const fs::path dir = scratch("enroll-request");
    const std::vector<unsigned char> request = prov::make_certificate_request(key, "enroll-ec");
    write_text(dir / "req.der", std::string(request.begin(), request.end()));
    int code = -1;
    const std::string checked = sh("openssl req -inform DER -in " + q(dir / "req.der") + " -verify -noout -subject", code);
    CHECK_MESSAGE(code == 0, checked);
    CHECK_MESSAGE(checked.find("CN = enroll-ec") != std::string::npos, checked);
}

TEST_CASE("enroll: each refusal named; a device registered meanwhile enrolls on a later attempt")
{
    (void)tenant_ca();
    register_devices({{"enroll-late-0", "Right-password"}});
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());

    const mtls::error wrong = failure_of(
        io, prov::enroll(rest, env().server.url(""), enrollment_of("enroll-late-0"), secret("wrong")));
    CHECK(wrong.code() == mtls::errc::platform_refused); // never retried: waiting cannot fix it
    CHECK_MESSAGE(wrong.detail().find("401") != std::string::npos, wrong.what());
    CHECK_MESSAGE(wrong.detail().find("wrong, or spent") != std::string::npos, wrong.what());

    // Not registered for the whole wait: every attempt made, then named.
    prov::enrollment_options waiting = enrollment_of("enroll-never");
    waiting.retry_every = std::chrono::seconds(1);
    waiting.max_wait = std::chrono::seconds(2);
    const int before = requests_on("/.well-known/est/simpleenroll");
    const mtls::error never =
        failure_of(io, prov::enroll(rest, env().server.url(""), std::move(waiting), secret("x")));
    CHECK(never.code() == mtls::errc::device_not_registered);
    CHECK_MESSAGE(never.detail().find("attempts in 2 s") != std::string::npos, never.what());
    CHECK(requests_on("/.well-known/est/simpleenroll") - before >= 2);

    // Registered while the device waits: a later attempt enrolls.
    prov::enrollment_options patient = enrollment_of("enroll-late-1");
    patient.retry_every = std::chrono::seconds(1);
    patient.max_wait = std::chrono::seconds(20);
    std::thread operator_([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        register_devices({{"enroll-late-1", "Late-password"}});
    });
    const prov::enrolled_device late =
        run(io, prov::enroll(rest, env().server.url(""), std::move(patient), secret("Late-password")));
    operator_.join();
    CHECK(mtls::certificate::from_der(late.chain.front()).common_name() == "enroll-late-1");

    // Arguments refused before anything is sent.
    CHECK_ERROR(prov::enroll(rest, env().server.url(""), enrollment_of(""), secret("x")),
                mtls::errc::invalid_argument, "device id");
    CHECK_ERROR(prov::enroll(rest, env().server.url(""), enrollment_of("a:b"), secret("x")),
                mtls::errc::common_name_invalid, "':'");
    CHECK_ERROR(prov::enroll(rest, env().server.url(""), enrollment_of("ok"), secret("")),
                mtls::errc::invalid_argument, "one-time password");
}

TEST_CASE("enroll: an answer that is not the device's certificate is refused before anything is kept")
{
    register_devices({{"enroll-answer", "Answer-password"}});
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    const prov::enrolled_device enrolled = run(io, prov::enroll(rest, env().server.url(""), enrollment_of("enroll-answer"),
                                                                secret("Answer-password")));
    const std::string pem = prov::certificate_pem(enrolled.chain.front());
    // PEM, as the platform's documentation shows the answer: read the same, the tenant CA appended.
    const auto read = prov::read_enrollment_answer(pem, enrolled.key, "enroll-answer", tenant_ca().der, "pem");
    REQUIRE(read.size() == 2);
    CHECK(read.front() == enrolled.chain.front());
    CHECK(read.back() == tenant_ca().der);
    CHECK(prov::read_enrollment_answer(pem, enrolled.key, "enroll-answer", std::nullopt, "pem").size() == 1);
    const prov::private_key other = prov::private_key::generate(prov::key_type::ec256);
    CHECK_ERROR(prov::read_enrollment_answer(pem, other, "enroll-answer", tenant_ca().der, "pem"),
                mtls::errc::est_answer_malformed, "private-key");
    CHECK_ERROR(prov::read_enrollment_answer(pem, enrolled.key, "someone-else", tenant_ca().der, "pem"),
                mtls::errc::est_answer_malformed, "not CN=someone-else");
    const made_ca stranger = make_ca("Not the tenant CA");
    const mtls::der_certificate stranger_der = mtls::detail::pem_certificates(stranger.pem, "stranger")[0];
    CHECK_ERROR(prov::read_enrollment_answer(pem, enrolled.key, "enroll-answer", stranger_der, "pem"),
                mtls::errc::est_answer_malformed, "trust");
    CHECK_ERROR(prov::read_enrollment_answer("<html>busy</html>", enrolled.key, "enroll-answer", tenant_ca().der, "html"),
                mtls::errc::est_answer_malformed, "html");
}

TEST_CASE("c8y-mtls-pki enroll: key, certificate and chain written; refusals exit 1, bad arguments 2")
{
    (void)tenant_ca();
    register_devices({{"enroll-cli", "Cli-password-1"}});
    const fs::path dir = scratch("enroll-cli");
    const std::string base = std::string(C8Y_TEST_PKI_CLI) + " enroll --url " + shell_quote(env().server.url("")) +
                             " --cafile " + q(env().platform.server_ca()) + " --tenant-ca " + q(tenant_ca().pem) +
                             " --otp-env C8Y_OTP --max-wait 0";
    int code = -1;
    const std::string out = sh("C8Y_OTP=Cli-password-1 " + base + " --device-id enroll-cli --out " + q(dir / "dev"), code);
    REQUIRE_MESSAGE(code == 0, out);
    CHECK((fs::status(dir / "dev" / "key.pem").permissions() & fs::perms::others_read) == fs::perms::none);
    const std::string verified =
        sh("openssl verify -CAfile " + q(tenant_ca().pem) + " " + q(dir / "dev" / "cert.pem"), code);
    CHECK_MESSAGE(code == 0, verified);
    const std::string pub_key = sh("openssl pkey -in " + q(dir / "dev" / "key.pem") + " -pubout", code);
    const std::string pub_cert = sh("openssl x509 -in " + q(dir / "dev" / "cert.pem") + " -noout -pubkey", code);
    CHECK(pub_key == pub_cert);
    const auto chain = mtls::certificate::from_pem_file(dir / "dev" / "chain.pem");
    REQUIRE(chain.size() == 2); // the certificate, then the tenant CA of --tenant-ca
    CHECK(chain.back().der() == mtls::certificate::from_pem_file(tenant_ca().pem).front().der());

    const std::string spent = sh("C8Y_OTP=Cli-password-1 " + base + " --device-id enroll-cli --out " + q(dir / "again"), code);
    CHECK(code == 1);
    CHECK_MESSAGE(spent.find("No newDeviceRequest found for this ID") != std::string::npos, spent);
    CHECK_FALSE(fs::exists(dir / "again" / "key.pem"));
    sh("C8Y_OTP=x " + base + " --out " + q(dir / "no-id"), code); // --device-id missing
    CHECK(code == 2);
    sh(base + " --device-id enroll-cli --out " + q(dir / "no-otp"), code); // the variable is not set
    CHECK(code == 2);
}

namespace {

// The device's token, as the token keeper would hand it out; the same one again on refresh.
struct fixed_tokens {
    mtls::device_token token;
    asio::awaitable<mtls::device_token> current() { co_return token; }
    asio::awaitable<mtls::device_token> refresh() { co_return token; }
};
static_assert(mtls::token_source<fixed_tokens>);

fixed_tokens token_for(const std::string& device, const std::string& secret = {})
{
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return {mtls::device_token::from_jwt(env().server.mint(device, now, now + 3600, secret))};
}

} // namespace

TEST_CASE("reenroll: the device's token instead of a password; a new key by default, the same on request")
{
    (void)tenant_ca();
    register_devices({{"renew-1", "Renew-password"}});
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    const prov::enrolled_device first =
        run(io, prov::enroll(rest, env().server.url(""), enrollment_of("renew-1"), secret("Renew-password")));
    fixed_tokens tokens = token_for("renew-1");

    const prov::enrolled_device renewed = run(io, prov::reenroll(rest, env().server.url(""), enrollment_of("renew-1"), tokens));
    CHECK(mtls::certificate::from_der(renewed.chain.front()).common_name() == "renew-1");
    CHECK(renewed.key.public_key_info() != first.key.public_key_info());
    CHECK(renewed.chain.front() != first.chain.front());

    const std::vector<unsigned char> kept = first.key.public_key_info();
    std::optional<prov::private_key> same =
        prov::private_key::from_der(std::span<const unsigned char>(first.key.der().data(), first.key.der().size()));
    const prov::enrolled_device same_key =
        run(io, prov::reenroll(rest, env().server.url(""), enrollment_of("renew-1"), tokens, std::move(same)));
    CHECK(same_key.key.public_key_info() == kept);
    const fs::path dir = scratch("renewed");
    write_text(dir / "cert.pem", prov::certificate_pem(same_key.chain.front()));
    int code = -1;
    const std::string verified = sh("openssl verify -CAfile " + q(tenant_ca().pem) + " " + q(dir / "cert.pem"), code);
    CHECK_MESSAGE(code == 0, verified);

    // A token the platform did not sign: refused after the one refresh, and named.
    fixed_tokens forged = token_for("renew-1", "not-the-platform's-key");
    const mtls::error refused = failure_of(io, prov::reenroll(rest, env().server.url(""), enrollment_of("renew-1"), forged));
    CHECK(refused.code() == mtls::errc::platform_refused);
    CHECK_MESSAGE(refused.detail().find("401") != std::string::npos, refused.what());
    CHECK_MESSAGE(refused.detail().find("the device's token was refused") != std::string::npos, refused.what());
    // Another device's token: the request for renew-1 is refused.
    fixed_tokens other = token_for("renew-2");
    const mtls::error mismatch = failure_of(io, prov::reenroll(rest, env().server.url(""), enrollment_of("renew-1"), other));
    CHECK(mismatch.code() == mtls::errc::platform_refused);
    CHECK_MESSAGE(mismatch.detail().find("CN=renew-2") != std::string::npos, mismatch.what());
}

TEST_CASE("http_token_source: the token over HTTP with the device's certificate, for REST and re-enrollment")
{
    (void)tenant_ca();
    register_devices({{"http-token-1", "Token-password"}});
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server_trust());
    const prov::enrolled_device device =
        run(io, prov::enroll(rest, env().server.url(""), enrollment_of("http-token-1"), secret("Token-password")));
    mtls::https_client device_http(io.get_executor(),
                                   mtls::credentials::from_pem(prov::chain_pem(device.chain), device.key.to_pem()),
                                   server_trust());
    mtls::http_token_source tokens(device_http, env().server.url(""));

    const int before = requests_on("/devicecontrol/deviceAccessToken");
    const mtls::device_token token = run(io, tokens.request_token());
    CHECK(token.subject() == "http-token-1");
    CHECK(run(io, tokens.current()).jwt() == token.jwt()); // held while valid: not asked again
    CHECK(requests_on("/devicecontrol/deviceAccessToken") - before == 1);

    // The HTTPS client takes it as its Bearer token; re-enrollment too.
    http::request req;
    req.url = env().server.url("/fixed");
    CHECK(run(io, device_http.request(req, tokens)).body == "fixed-length body for http-token-1");
    const prov::enrolled_device renewed =
        run(io, prov::reenroll(rest, env().server.url(""), enrollment_of("http-token-1"), tokens));
    CHECK(mtls::certificate::from_der(renewed.chain.front()).common_name() == "http-token-1");

    // Without the device's certificate there is no token.
    mtls::http_token_source anonymous(rest, env().server.url(""));
    const mtls::error refused = failure_of(io, anonymous.request_token());
    CHECK(refused.code() == mtls::errc::platform_refused);
    CHECK_MESSAGE(refused.detail().find("401") != std::string::npos, refused.what());
    CHECK_ERROR(mtls::read_access_token_answer(R"({"token":"x"})", "answer"), mtls::errc::platform_answer_malformed,
                "accessToken");
    CHECK_ERROR(mtls::read_access_token_answer(R"({"accessToken":"not-a-jwt"})", "answer"), mtls::errc::jwt_malformed,
                "JWT has 1 '.'-separated parts");
}

namespace {

// The local platform with its HTTPS listener: the tenant CA from the start, as on a tenant whose
// certificate-authority feature made one.
local_platform& ca_platform()
{
    static local_platform instance{[] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "ca-platform";
        o.https = true;
        o.certificate_days = 30;
        return o;
    }()};
    return instance;
}

asio::awaitable<mtls::device_token> connect_and_get_token(mtls::client& device, std::uint16_t port)
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = port;
    o.timeout = std::chrono::seconds(10);
    co_await device.connect(o);
    mtls::device_token token = co_await device.request_token(std::chrono::seconds(10));
    co_await device.disconnect();
    co_return token;
}

// Whether something accepts TCP connections on 127.0.0.1:port.
bool listening(int port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

} // namespace

TEST_CASE("local platform with https: a device registered with a one-time password enrolls, connects over MQTT "
          "with the tenant CA's certificate and gets its token, which renews its certificate")
{
    local_platform& platform = ca_platform();
    asio::io_context io;
    const mtls::truststore trust = mtls::truststore::from_path(platform.server_ca());
    mtls::https_client rest(io.get_executor(), trust);
    prov::platform_admin admin(rest, platform.https_url(),
                               mtls::basic_credentials(platform.admin_user(), platform.admin_password()));

    // The tenant CA is there from the start, the one the broker trusts.
    CHECK(run(io, admin.certificate_authority_feature()));
    const std::optional<prov::trusted_certificate> listed = run(io, admin.certificate_authority());
    REQUIRE(listed.has_value());
    const mtls::der_certificate authority =
        mtls::detail::pem_certificates(read_text(platform.tenant_ca()), "the tenant CA").at(0);
    CHECK(mtls::detail::pem_certificates("-----BEGIN CERTIFICATE-----\n" + listed->certificate_pem +
                                             "\n-----END CERTIFICATE-----\n",
                                         "listed")[0] == authority);
    CHECK(failure_of(io, admin.create_certificate_authority()).code() == mtls::errc::platform_refused); // 409

    // The operator registers the device with a one-time password (the bulk CSV, uploaded).
    const std::string device = "otp-device-0001";
    std::vector<prov::bulk_device> rows(1);
    rows[0].id = device;
    rows[0].enrollment_otp = prov::make_one_time_password();
    const std::string otp(rows[0].enrollment_otp.view());
    const prov::bulk_registration_result registered =
        run(io, admin.upload_bulk_registration(prov::bulk_registration_csv(rows)));
    CHECK(registered.created == 1);
    CHECK(registered.failed == 0);

    // The device enrolls: its key made here, its certificate from the tenant CA, valid 30 days.
    prov::enrollment_options options;
    options.device_id = device;
    options.tenant_ca = authority;
    options.max_wait = std::chrono::seconds(0);
    const prov::enrolled_device enrolled =
        run(io, prov::enroll(rest, platform.https_url(), options, mtls::secret_string(otp)));
    REQUIRE(enrolled.chain.size() == 2);
    CHECK(enrolled.chain.back() == authority);
    const mtls::certificate issued = mtls::certificate::from_der(enrolled.chain.front());
    CHECK(issued.common_name() == device);
    CHECK(issued.not_after() - issued.not_before() == std::chrono::days(30));

    // Over MQTT with mutual TLS: the chain the guide asks for (the device certificate, then the
    // uploaded CA, here the tenant's, as enroll() gives it), the plugin's token for the device.
    mtls::client client(io.get_executor(),
                        mtls::credentials::from_pem(prov::chain_pem(enrolled.chain), enrolled.key.to_pem()), trust);
    const mtls::device_token token =
        run(io, connect_and_get_token(client, static_cast<std::uint16_t>(platform.port())));
    CHECK(token.subject() == device);
    CHECK(token.tenant() == "t0");

    // The HTTPS listener checks tokens with the plugin's secret: the MQTT token renews the
    // certificate, and the device's certificate gets a token over HTTP too.
    fixed_tokens from_mqtt{token};
    const prov::enrolled_device renewed = run(io, prov::reenroll(rest, platform.https_url(), options, from_mqtt));
    CHECK(mtls::certificate::from_der(renewed.chain.front()).common_name() == device);
    CHECK(renewed.key.public_key_info() != enrolled.key.public_key_info());
    mtls::https_client device_http(io.get_executor(),
                                   mtls::credentials::from_pem(prov::chain_pem(renewed.chain), renewed.key.to_pem()),
                                   trust);
    mtls::http_token_source over_http(device_http, platform.https_url());
    CHECK(run(io, over_http.request_token()).subject() == device);

    // The one-time password is spent.
    const mtls::error spent =
        failure_of(io, prov::enroll(rest, platform.https_url(), options, mtls::secret_string(otp)));
    CHECK(spent.code() == mtls::errc::device_not_registered);
}

TEST_CASE("local platform with https: stop closes the HTTPS listener; bring_up opens it again on its port")
{
    local_platform& platform = ca_platform();
    const int port = platform.https_port();
    CHECK(listening(port));
    CHECK(std::stoi(read_text(platform.dir() / "https.port")) == port);
    platform.take_down();
    CHECK_FALSE(listening(port));
    CHECK_FALSE(listening(platform.port()));
    CHECK_FALSE(fs::exists(platform.dir() / "https.port"));
    CHECK_FALSE(fs::exists(platform.dir() / "https.pid"));
    platform.bring_up();
    CHECK(platform.https_port() == port);
    CHECK(listening(port));
    CHECK(listening(platform.port()));
}

TEST_CASE("c8y-mtls-pki show and needs-renewal: the certificate's state, and thin-edge.io's exit codes for a timer")
{
    const fs::path dir = scratch("show");
    int code = -1;
    pki_ok("ca --cn " + shell_quote("Show CA") + " --out " + q(dir / "ca"));
    pki_ok("device --cn show-1 --days 10 --ca " + q(dir / "ca") + " --out " + q(dir / "short"));
    pki_ok("device --cn show-2 --days 365 --ca " + q(dir / "ca") + " --out " + q(dir / "long"));

    const std::string shown = pki("show --dir " + q(dir / "short"), code);
    CHECK(code == 0);
    CHECK_MESSAGE(shown.find("subject:    /CN=show-1") != std::string::npos, shown);
    CHECK_MESSAGE(shown.find("issuer:     /CN=Show CA") != std::string::npos, shown);
    CHECK_MESSAGE(shown.find("status:     expires soon") != std::string::npos, shown);
    // The fingerprints and serial are openssl's, written as the platform writes them.
    const auto openssl_hex = [&](const std::string& args) {
        std::string text = sh("openssl x509 -in " + q(dir / "short" / "cert.pem") + " -noout " + args, code);
        text = text.substr(text.find('=') + 1);
        std::string hex;
        for (const char c : text)
            if (std::isxdigit(static_cast<unsigned char>(c)))
                hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return hex;
    };
    CHECK_MESSAGE(shown.find("sha1:       " + openssl_hex("-fingerprint -sha1")) != std::string::npos, shown);
    CHECK_MESSAGE(shown.find("sha256:     " + openssl_hex("-fingerprint -sha256")) != std::string::npos, shown);
    const std::string json = pki("show --json --dir " + q(dir / "long"), code);
    CHECK(code == 0);
    const auto object = mtls::detail::parse_json_object(json);
    REQUIRE_MESSAGE(object.has_value(), json);
    CHECK(object->find("status")->text == "valid");
    CHECK(object->find("subject")->text == "/CN=show-2");

    pki("needs-renewal --dir " + q(dir / "short"), code);
    CHECK(code == 0); // 10 days left, 30 by default
    pki("needs-renewal --dir " + q(dir / "short") + " --renew-before-days 5", code);
    CHECK(code == 1);
    const std::string not_due = pki("needs-renewal --dir " + q(dir / "long"), code);
    CHECK(code == 1);
    CHECK_MESSAGE(not_due.find("no renewal due") != std::string::npos, not_due);
    pki("needs-renewal --dir " + q(dir / "missing"), code);
    CHECK(code == 2);
    pki("needs-renewal --dir " + q(dir / "long") + " --renew-before-days soon", code);
    CHECK(code == 2);
    pki("show --dir " + q(dir / "missing"), code);
    CHECK(code == 2);
}
