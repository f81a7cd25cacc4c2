// Keys that never leave a PKCS#11 token: SoftHSM 2 tokens made at test time by
// scripts/soft_tokens.py (softhsm2-util, pkcs11-tool), a key imported into the token and a key
// generated in it; a device of the local platform connects and gets its token with each, over
// TLS 1.2 and TLS 1.3; the certificate request made in the token is signed by the SDK's CA and by
// `openssl x509 -req`; every refusal is named; the CLIs take --pkcs11-module, --key-uri and
// --pin-env; and the software TPM (swtpm, tpm2-pkcs11) as far as it runs here.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"
#include "support/soft_tokens.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace prov = c8y::mtls::provisioning;
using mtls::errc;
using mtls::test::local_platform;
using mtls::test::run;
using mtls::test::run_command;
using mtls::test::shell_quote;
using mtls::test::softhsm_token;
using mtls::test::software_tpm;

namespace {

constexpr const char* softhsm = softhsm_token::module;
constexpr const char* user_pin = "pin-4711";
constexpr const char* wrong_pin = "pin-0000";

std::string text_of(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

local_platform& platform()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = fs::path(C8Y_TEST_WORK_DIR) / "pkcs11-platform";
        o.devices = {"p11-rsa"};
        o.https = true; // its certificate authority, for enrollment
        return o;
    }());
    return instance;
}

fs::path work(const std::string& name)
{
    const fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "pkcs11" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// A SoftHSM token of its own; SOFTHSM2_CONF points at it for this process (the module reads it
// when it is initialised: at the first use after the last one ended) and its children.
softhsm_token token_in(const std::string& name, const std::string& label)
{
    return mtls::test::make_softhsm_token(work(name), label, user_pin);
}

// The local platform's CA, as the SDK signs with it.
prov::signing_authority platform_ca()
{
    const fs::path ca = platform().dir() / "ca";
    return {mtls::certificate::from_pem_file(ca / "caCert.pem").front().der(),
            prov::private_key::from_pem(text_of(ca / "caKey.pem"), text_of(ca / "password.txt"))};
}

// A chain file for `leaf`: the leaf, then the platform's CA.
fs::path write_chain(const fs::path& dir, const mtls::der_certificate& leaf)
{
    const std::vector<mtls::der_certificate> chain{leaf, platform_ca().certificate};
    const fs::path file = dir / "chain.pem";
    std::ofstream(file) << prov::chain_pem(chain);
    return file;
}

mtls::connect_options options_for(const std::string& cn)
{
    mtls::connect_options o;
    o.host = "localhost";
    o.port = static_cast<std::uint16_t>(platform().port());
    o.client_id = "d:" + cn;
    o.timeout = std::chrono::seconds(10);
    return o;
}

struct session_seen {
    std::string protocol;
    mtls::device_token token;
};

asio::awaitable<session_seen> connect_and_get_token(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    std::string protocol = device.tls_protocol();
    // Named first: g++ 12 destroys the temporaries of a braced initializer with a co_await twice.
    mtls::device_token token = co_await device.request_token(std::chrono::seconds(10));
    co_await device.disconnect();
    co_return session_seen{std::move(protocol), std::move(token)};
}

session_seen connect_with(mtls::credentials identity, const std::string& cn,
                          const std::vector<mtls::tls_cipher_suite>& suites)
{
    mtls::tls_options offered;
    offered.cipher_suites = suites; // TLS 1.3's suites alone, or TLS 1.2's
    asio::io_context io;
    mtls::client device(io.get_executor(), std::move(identity), mtls::truststore::from_path(platform().server_ca()),
                        offered);
    return run(io, connect_and_get_token(device, options_for(cn)));
}

// TLS 1.2's suites name the server's key, not the client's: both are offered.
const std::vector<mtls::tls_cipher_suite> tls13 = {mtls::tls_cipher_suite::tls13_aes_128_gcm_sha256};
const std::vector<mtls::tls_cipher_suite> tls12 = {mtls::tls_cipher_suite::ecdhe_rsa_aes_128_gcm_sha256,
                                                   mtls::tls_cipher_suite::ecdhe_ecdsa_aes_128_gcm_sha256};

mtls::secret_string pin(const char* value = user_pin) { return mtls::secret_string(std::string_view(value)); }

struct cli_run {
    std::string out;
    int code = -1;
};

cli_run run_cli(const std::string& cli, const std::string& arguments)
{
    cli_run r;
    r.out = run_command("timeout 60 env TOKEN_PIN=" + std::string(user_pin) + " WRONG_PIN=" + wrong_pin + " " + cli +
                            " " + arguments + " 2>&1",
                        &r.code);
    CHECK_MESSAGE(r.out.find(user_pin) == std::string::npos, r.out); // never a PIN in the output
    return r;
}

} // namespace

TEST_CASE("pkcs11: URIs are read as RFC 7512 writes them, and a PIN in one is refused")
{
    const mtls::pkcs11_uri uri = mtls::pkcs11_uri::parse(
        "pkcs11:token=Device%20Keys;manufacturer=SoftHSM%20project;object=device-key;id=%01%A2;type=private"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so");
    CHECK(uri.token == "Device Keys");
    CHECK(uri.manufacturer == "SoftHSM project");
    CHECK(uri.object == "device-key");
    CHECK(uri.id == std::vector<unsigned char>{0x01, 0xA2});
    CHECK(uri.type == "private");
    CHECK(uri.module_path == "/usr/lib/softhsm/libsofthsm2.so");
    CHECK(mtls::pkcs11_uri::parse(uri.text()).id == uri.id);
    CHECK(uri.text() == "pkcs11:token=Device%20Keys;manufacturer=SoftHSM%20project;object=device-key;id=%01%A2;"
                        "type=private?module-path=/usr/lib/softhsm/libsofthsm2.so");
    CHECK(mtls::pkcs11_uri::parse("PKCS11:slot-id=3").slot_id == 3u);

    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:object=k?pin-value=1234"), errc::pkcs11_uri_malformed,
                "give the PIN apart");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:object=k?pin-source=file:/pin"), errc::pkcs11_uri_malformed,
                "pin-source");
    CHECK_ERROR(mtls::pkcs11_uri::parse("file:/key.pem"), errc::pkcs11_uri_malformed, "begins with \"pkcs11:\"");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:object=a;object=b"), errc::pkcs11_uri_malformed, "given twice");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:label=a"), errc::pkcs11_uri_malformed, "'label' is not");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:id=%0"), errc::pkcs11_uri_malformed, "two hex digits");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:id=%zz"), errc::pkcs11_uri_malformed, "two hex digits");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:type=secret"), errc::pkcs11_uri_malformed, "type=secret");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:slot-id=-1"), errc::pkcs11_uri_malformed, "slot-id");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:object=a b"), errc::pkcs11_uri_malformed, "percent-encode");
    CHECK_ERROR(mtls::pkcs11_uri::parse("pkcs11:object"), errc::pkcs11_uri_malformed, "attribute=value");
}

TEST_CASE("pkcs11: a key imported into SoftHSM signs the handshake in the token, over TLS 1.2 and TLS 1.3")
{
    const softhsm_token token = token_in("imported", "device-keys");
    const fs::path& dir = token.dir;
    token.import_key(platform().plain_key("p11-rsa"), "rsa-key", "a1");
    // An EC key with its certificate in the token, signed by `openssl x509 -req` with the CA.
    const fs::path ca = platform().dir() / "ca";
    run_command("cd " + shell_quote(dir.string()) +
                " && openssl ecparam -name prime256v1 -genkey -noout -out ec.pem"
                " && openssl req -new -key ec.pem -subj /CN=p11-ec -out ec.csr"
                " && openssl x509 -req -in ec.csr -CA " + shell_quote((ca / "caCert.pem").string()) + " -CAkey " +
                shell_quote((ca / "caKey.pem").string()) + " -passin file:" +
                shell_quote((ca / "password.txt").string()) + " -CAcreateserial -days 30 -sha256 -extfile " +
                shell_quote((ca / "caConfig.cnf").string()) + " -extensions v3_signed -out ec.crt 2>&1");
    token.import_key(dir / "ec.pem", "ec-key", "e1", dir / "ec.crt");
    const fs::path ec_chain = write_chain(dir, mtls::certificate::from_pem_file(dir / "ec.crt").front().der());

    SUBCASE("RSA, its chain from a file")
    {
        for (const auto& suites : {tls12, tls13}) {
            auto identity = mtls::credentials::from_pkcs11(softhsm, "pkcs11:token=device-keys;object=rsa-key", pin(),
                                                           platform().chain("p11-rsa"));
            CHECK(identity.private_key().empty()); // nothing of the key was read
            REQUIRE(identity.token_key() != nullptr);
            const session_seen seen = connect_with(std::move(identity), "p11-rsa", suites);
            CHECK(seen.protocol == (suites == tls13 ? "TLSv1.3" : "TLSv1.2"));
            CHECK(seen.token.subject() == "p11-rsa");
        }
    }
    SUBCASE("EC P-256, named by id, its certificate from the token")
    {
        for (const auto& suites : {tls12, tls13}) {
            // The token holds the leaf only: the CA comes from the file then.
            auto identity = mtls::credentials::from_pkcs11(softhsm, "pkcs11:token=device-keys;id=%e1", pin(), ec_chain);
            const session_seen seen = connect_with(std::move(identity), "p11-ec", suites);
            CHECK(seen.protocol == (suites == tls13 ? "TLSv1.3" : "TLSv1.2"));
            CHECK(seen.token.subject() == "p11-ec");
        }
        const auto from_token = mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=ec-key", pin());
        REQUIRE(from_token.chain().size() == 1);
        CHECK(from_token.chain().front() == mtls::certificate::from_pem_file(dir / "ec.crt").front().der());
    }
    SUBCASE("the chain validator compares the token's public key with the certificate's")
    {
        const auto matching = mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=ec-key", pin(), ec_chain);
        const mtls::chain_report good = mtls::validate_credentials(matching);
        for (const auto& f : good.findings())
            CHECK_MESSAGE(f.rule != mtls::chain_rule::private_key, f.message);
        const auto other = mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=rsa-key", pin(), ec_chain);
        const mtls::chain_report bad = mtls::validate_credentials(other);
        CHECK(!bad.ok());
        bool named = false;
        for (const auto& f : bad.findings())
            named = named || (f.rule == mtls::chain_rule::private_key &&
                              f.message.find("object=rsa-key") != std::string::npos);
        CHECK(named);
        CHECK_ERROR(mtls::wolfssl_tls::context(other, mtls::truststore::from_path(platform().server_ca()), {}),
                    errc::private_key_mismatch, "object=rsa-key");
    }
}

TEST_CASE("pkcs11: a key generated in the token, its request signed there, by the SDK's CA and by openssl x509 -req")
{
    const softhsm_token token = token_in("generated", "made-here");
    const fs::path& dir = token.dir;
    for (const auto type : {prov::key_type::ec256, prov::key_type::rsa2048}) {
        const bool rsa = type == prov::key_type::rsa2048;
        const std::string cn = rsa ? "p11-made-rsa" : "p11-made-ec";
        CAPTURE(cn);
        prov::private_key key = prov::private_key::generate_in_token(
            softhsm, "pkcs11:token=made-here;object=" + cn, pin(), type);
        REQUIRE(key.token_key() != nullptr);
        CHECK(key.token_key()->uri.id.size() == 8); // a random id, written into the URI
        CHECK(key.der().empty());
        CHECK(key.is_rsa() == rsa);
        CHECK_ERROR(key.to_pem(), errc::invalid_argument, "stays in its token");
        const std::vector<unsigned char> csr = prov::make_certificate_request(key, cn);

        // The SDK's CA: the request's signature (made in the token) verifies, the certificate is for the token's key.
        prov::certificate_options o;
        const mtls::der_certificate by_sdk = prov::sign_certificate_request(csr, o, platform_ca());
        // openssl: `openssl req -verify`, then `openssl x509 -req` as the guide signs.
        std::ofstream(dir / "req.pem") << prov::certificate_request_pem(csr);
        const fs::path ca = platform().dir() / "ca";
        int code = -1;
        const std::string verified = run_command("openssl req -in " + shell_quote((dir / "req.pem").string()) +
                                                     " -verify -noout 2>&1", &code);
        CHECK_MESSAGE(code == 0, verified);
        run_command("openssl x509 -req -in " + shell_quote((dir / "req.pem").string()) + " -CA " +
                    shell_quote((ca / "caCert.pem").string()) + " -CAkey " + shell_quote((ca / "caKey.pem").string()) +
                    " -passin file:" + shell_quote((ca / "password.txt").string()) +
                    " -CAcreateserial -days 30 -sha256 -extfile " + shell_quote((ca / "caConfig.cnf").string()) +
                    " -extensions v3_signed -out " + shell_quote((dir / "by-openssl.crt").string()) + " 2>&1");
        const mtls::der_certificate by_openssl = mtls::certificate::from_pem_file(dir / "by-openssl.crt").front().der();

        for (const auto& leaf : {by_sdk, by_openssl}) {
            const fs::path chain = write_chain(dir, leaf);
            const std::string uri = key.token_key()->uri.text();
            const session_seen seen =
                connect_with(mtls::credentials::from_pkcs11(softhsm, uri, pin(), chain), cn, tls13);
            CHECK(seen.token.subject() == cn);
            const session_seen over_tls12 = connect_with(mtls::credentials::from_pkcs11(softhsm, uri, pin(), chain), cn, tls12);
            CHECK(over_tls12.protocol == "TLSv1.2");
        }
        // A key is never replaced.
        CHECK_ERROR(prov::private_key::generate_in_token(softhsm, "pkcs11:token=made-here;object=" + cn, pin(), type),
                    errc::key_generation_failed, "already holds a private key");
    }
}

TEST_CASE("pkcs11: a device enrolls with the platform's certificate authority, its key made in the token")
{
    const softhsm_token token = token_in("enrolled", "enrolled-keys");
    const mtls::truststore server = mtls::truststore::from_path(platform().server_ca());
    asio::io_context io;
    mtls::https_client rest(io.get_executor(), server); // no client certificate
    {
        prov::platform_admin admin(rest, platform().https_url(),
                                   mtls::basic_credentials(platform().admin_user(), platform().admin_password()));
        std::vector<prov::bulk_device> rows(1);
        rows[0].id = "p11-enrolled";
        rows[0].enrollment_otp = mtls::secret_string(std::string_view("Otp-p11-1"));
        REQUIRE(run(io, admin.upload_bulk_registration(prov::bulk_registration_csv(rows))).failed == 0);
    }
    prov::enrollment_options o;
    o.device_id = "p11-enrolled";
    o.tenant_ca = mtls::certificate::from_pem_file(platform().tenant_ca()).front().der();
    o.max_wait = std::chrono::seconds(0);
    prov::private_key key =
        prov::private_key::generate_in_token(softhsm, "pkcs11:token=enrolled-keys;object=enrolled", pin(),
                                             prov::key_type::ec256);
    const std::string uri = key.token_key()->uri.text();
    const prov::enrolled_device enrolled = run(io, prov::enroll(rest, platform().https_url(), std::move(o),
                                                                mtls::secret_string(std::string_view("Otp-p11-1")),
                                                                std::move(key)));
    REQUIRE(enrolled.chain.size() == 2); // the certificate, then the tenant CA
    CHECK(enrolled.key.token_key() != nullptr);
    const fs::path chain = token.dir / "chain.pem";
    std::ofstream(chain) << prov::chain_pem(enrolled.chain);
    const session_seen seen = connect_with(mtls::credentials::from_pkcs11(softhsm, uri, pin(), chain), "p11-enrolled",
                                           tls13);
    CHECK(seen.token.subject() == "p11-enrolled");
}

TEST_CASE("pkcs11: a wrong PIN, a missing object, token or module, and an unusable key are named")
{
    const softhsm_token token = token_in("refusals", "refusals");
    const fs::path& dir = token.dir;
    token.import_key(platform().plain_key("p11-rsa"), "rsa-key", "01");
    const fs::path chain = platform().chain("p11-rsa");

    CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:token=refusals;object=rsa-key", pin(wrong_pin), chain),
                errc::pkcs11_pin_wrong, "CKR_PIN_INCORRECT");
    CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:token=refusals;object=rsa-key", pin(""), chain),
                errc::pkcs11_pin_wrong, "needs its user PIN");
    // What is missing is named, with what the token holds.
    for (const char* listed : {"private key object=rsa-key id=01", "public key object=rsa-key id=01"})
        CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:token=refusals;object=no-such-key", pin(), chain),
                    errc::pkcs11_object_missing, listed);
    CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:token=elsewhere;object=rsa-key", pin(), chain),
                errc::pkcs11_token_missing, "the module's tokens: token=refusals");
    CHECK_ERROR(mtls::credentials::from_pkcs11(dir / "no-module.so", "pkcs11:object=rsa-key", pin(), chain),
                errc::pkcs11_module_unloadable, "no-module.so");
    CHECK_ERROR(mtls::credentials::from_pkcs11("/usr/lib/x86_64-linux-gnu/libz.so.1", "pkcs11:object=rsa-key", pin(),
                                               chain),
                errc::pkcs11_module_unloadable, "no C_GetFunctionList");
    CHECK_ERROR(mtls::credentials::from_pkcs11("", "pkcs11:object=rsa-key", pin(), chain),
                errc::pkcs11_module_unloadable, "--pkcs11-module");
    CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=rsa-key;type=cert", pin(), chain),
                errc::pkcs11_key_unusable, "type=private");
    // No certificate in the token and none given.
    CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=rsa-key", pin()), errc::no_certificate,
                "give the chain as a file");
    // Two keys under one label: the URI must say which.
    token.import_key(platform().plain_key("p11-rsa"), "rsa-key", "02");
    CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=rsa-key", pin(), chain),
                errc::pkcs11_object_missing, "2 private keys match");
    CHECK(mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=rsa-key;id=%02", pin(), chain).token_key() != nullptr);
    // A key too weak for the handshake.
    run_command("openssl genrsa -out " + shell_quote((dir / "weak.pem").string()) + " 1024 2>&1");
    token.import_key(dir / "weak.pem", "weak-key", "03");
    CHECK_ERROR(mtls::credentials::from_pkcs11(softhsm, "pkcs11:object=weak-key", pin(), chain),
                errc::pkcs11_key_unusable, "1024 bits");
}

TEST_CASE("pkcs11: the CLIs take --pkcs11-module, --key-uri and --pin-env; c8y-mtls-pki makes the key in the token")
{
    const softhsm_token token = token_in("clis", "cli-keys");
    const fs::path& dir = token.dir;
    token.import_key(platform().plain_key("p11-rsa"), "rsa-key", "01");
    const std::string token_flags =
        " --pkcs11-module " + std::string(softhsm) + " --key-uri 'pkcs11:token=cli-keys;object=rsa-key' --pin-env TOKEN_PIN";
    const std::string broker = " --host localhost --port " + std::to_string(platform().port()) + " --cafile " +
                               shell_quote(platform().server_ca().string());

    const cli_run connected = run_cli(C8Y_TEST_CONNECT_CLI, broker + token_flags + " --cert " +
                                                                shell_quote(platform().chain("p11-rsa").string()) +
                                                                " --token");
    CHECK_MESSAGE(connected.code == 0, connected.out);
    CHECK(connected.out.find("eyJ") != std::string::npos); // the JWT
    const cli_run telemetry = run_cli(C8Y_TEST_TELEMETRY_CLI, broker + token_flags + " --cert " +
                                                                  shell_quote(platform().chain("p11-rsa").string()) +
                                                                  " --count 1 --interval 1");
    CHECK_MESSAGE(telemetry.code == 0, telemetry.out);
    const cli_run wrong_pin = run_cli(C8Y_TEST_CONNECT_CLI, broker + " --pkcs11-module " + softhsm +
                                                                " --key-uri pkcs11:object=rsa-key --pin-env WRONG_PIN --cert " +
                                                                shell_quote(platform().chain("p11-rsa").string()));
    CHECK(wrong_pin.code == 2);
    CHECK_MESSAGE(wrong_pin.out.find("refused the user PIN") != std::string::npos, wrong_pin.out);
    const cli_run both = run_cli(C8Y_TEST_CONNECT_CLI, broker + token_flags + " --key x.pem --cert y.pem");
    CHECK(both.code == 2);
    CHECK_MESSAGE(both.out.find("give no --key") != std::string::npos, both.out);

    const cli_run doctor = run_cli(C8Y_TEST_DOCTOR_CLI, token_flags + " --chain " +
                                                            shell_quote(platform().chain("p11-rsa").string()) +
                                                            " --trusted " + shell_quote(platform().trusted_ca().string()));
    CHECK_MESSAGE(doctor.code == 0, doctor.out);

    // c8y-mtls-pki device: the key is made in the token, the CA's certificate written beside key.uri.
    const fs::path ca = dir / "ca";
    const cli_run made_ca = run_cli(C8Y_TEST_PKI_CLI, "ca --cn p11-cli-ca --out " + shell_quote(ca.string()));
    REQUIRE_MESSAGE(made_ca.code == 0, made_ca.out);
    const fs::path device = dir / "device";
    const cli_run made = run_cli(C8Y_TEST_PKI_CLI, "device --cn p11-cli-device --ca " + shell_quote(ca.string()) +
                                                       " --out " + shell_quote(device.string()) + " --pkcs11-module " +
                                                       softhsm + " --key-uri 'pkcs11:token=cli-keys;object=made' "
                                                                 "--pin-env TOKEN_PIN");
    REQUIRE_MESSAGE(made.code == 0, made.out);
    CHECK(!fs::exists(device / "key.pem"));
    const std::string uri = text_of(device / "key.uri");
    CHECK(uri.rfind("pkcs11:token=cli-keys;object=made;id=%", 0) == 0);
    const cli_run checked = run_cli(C8Y_TEST_DOCTOR_CLI, " --pkcs11-module " + std::string(softhsm) + " --key-uri " +
                                                             shell_quote(uri.substr(0, uri.size() - 1)) +
                                                             " --pin-env TOKEN_PIN --chain " +
                                                             shell_quote((device / "chain.pem").string()) +
                                                             " --trusted " + shell_quote((ca / "ca.pem").string()));
    CHECK_MESSAGE(checked.code == 0, checked.out);
    const cli_run again = run_cli(C8Y_TEST_PKI_CLI, "device --cn p11-cli-device --ca " + shell_quote(ca.string()) +
                                                        " --out " + shell_quote((dir / "again").string()) +
                                                        " --pkcs11-module " + softhsm +
                                                        " --key-uri 'pkcs11:token=cli-keys;object=made' --pin-env TOKEN_PIN");
    CHECK(again.code != 0);
    CHECK_MESSAGE(again.out.find("already holds a private key") != std::string::npos, again.out);
}

TEST_CASE("pkcs11: a key in a software TPM (swtpm through tpm2-pkcs11), as far as the TPM runs here")
{
    if (const auto why = software_tpm::why_not_runnable()) {
        MESSAGE("the software TPM cannot run here, its part is skipped: " << *why);
        return;
    }
    software_tpm::options o;
    o.dir = work("tpm");
    o.label = "tpm-keys";
    o.pin = user_pin;
    o.object.clear(); // the SDK makes the key
    const software_tpm tpm(o);
    ::setenv("TSS2_LOG", "all+NONE", 1); // the module's own report of the wrong PIN below
    const fs::path& dir = o.dir;
    const char* tpm_module = software_tpm::module;
    // The key is made in the TPM by the SDK, its request signed there, its certificate by the SDK's CA.
    prov::private_key key =
        prov::private_key::generate_in_token(tpm_module, "pkcs11:token=tpm-keys;object=tpm-device", pin(),
                                             prov::key_type::ec256);
    const std::vector<unsigned char> csr = prov::make_certificate_request(key, "p11-tpm");
    const mtls::der_certificate leaf = prov::sign_certificate_request(csr, prov::certificate_options{}, platform_ca());
    const fs::path chain = write_chain(dir, leaf);
    const std::string uri = key.token_key()->uri.text();
    for (const auto& suites : {tls13, tls12}) {
        const session_seen seen = connect_with(mtls::credentials::from_pkcs11(tpm_module, uri, pin(), chain), "p11-tpm",
                                               suites);
        CHECK(seen.token.subject() == "p11-tpm");
    }
    CHECK_ERROR(mtls::credentials::from_pkcs11(tpm_module, uri, pin(wrong_pin), chain), errc::pkcs11_pin_wrong,
                "PIN");
}
