// Keystores and truststores as the platform guide has people make them (tests/support/
// guide_keystores.hpp: openssl pkcs12 -export, keytool -importkeystore, keytool -importcert), by
// the public loaders: credentials::from_keystore_file() and truststore::from_path() with a
// password, the format told by the content. A device of the local platform connects and gets its
// token with each keystore and each truststore; each wrong password, alias and kind of file is
// named.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/guide_keystores.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
using mtls::errc;
using mtls::test::guide_files;
using mtls::test::guide_keystores;
using mtls::test::keystore_platform;
using mtls::test::run;
using mtls::test::run_command;
using mtls::test::shell_quote;

namespace {

using bytes = std::vector<unsigned char>;

std::vector<bytes> pem_chain(const fs::path& p) { return mtls::truststore::from_path(p).certificates(); }

mtls::credentials keystore(const char* file, std::string_view password = guide_keystores::store_password,
                           const mtls::keystore_options& options = {})
{
    return mtls::credentials::from_keystore_file(guide_files() / file, password, options);
}

mtls::truststore truststore(const char* file, std::string_view password = guide_keystores::trust_password)
{
    return mtls::truststore::from_path(guide_files() / file, password);
}

asio::awaitable<mtls::device_token> connect_and_get_token(mtls::client& device, mtls::connect_options options)
{
    co_await device.connect(options);
    mtls::device_token token = co_await device.request_token(std::chrono::seconds(10));
    co_await device.disconnect();
    co_return token;
}

mtls::device_token token_with(mtls::credentials identity, const mtls::truststore& trust)
{
    asio::io_context io;
    mtls::client device(io.get_executor(), std::move(identity), trust);
    mtls::connect_options o;
    o.host = "localhost";
    o.port = static_cast<std::uint16_t>(keystore_platform().port());
    o.timeout = std::chrono::seconds(10);
    return run(io, connect_and_get_token(device, o));
}

} // namespace

TEST_CASE("keystores: each of the guide's keystores gives the device's chain and key, whatever its format")
{
    const guide_keystores& g = guide_files();
    const std::vector<bytes> chain = pem_chain(g / "deviceCertChain.pem");
    const mtls::credentials pem = mtls::credentials::from_pem_files(
        g / "deviceCertChain.pem", g / "deviceKey.pem", keystore_platform().password(guide_keystores::device));
    const bytes key(pem.private_key().data(), pem.private_key().data() + pem.private_key().size());
    for (const char* file : {"deviceKeystore.pkcs12", "deviceKeystore.jks", "keytoolKeystore.p12",
                             "combinedKeystore.pkcs12", "combinedKeystore.jks"}) {
        CAPTURE(file);
        const mtls::credentials c = keystore(file);
        CHECK(c.chain() == chain);
        CHECK(c.device_common_name() == guide_keystores::device);
        CHECK(bytes(c.private_key().data(), c.private_key().data() + c.private_key().size()) == key);
    }
    // The guide's alias, as MQTT.fx's "Client KeyPair Alias" names it, in any case.
    mtls::keystore_options devicekeyentry;
    devicekeyentry.alias = "DeviceKeyEntry";
    CHECK(keystore("deviceKeystore.jks", guide_keystores::store_password, devicekeyentry).chain() == chain);
    CHECK(keystore("deviceKeystore.pkcs12", guide_keystores::store_password, devicekeyentry).chain() == chain);
    // A key with a password of its own (keytool -destkeypass), as MQTT.fx's "Client KeyPair Password".
    mtls::keystore_options keypass;
    keypass.key_password = guide_keystores::key_password;
    CHECK(keystore("keypass.jks", guide_keystores::store_password, keypass).chain() == chain);
    // PEM with the chain and the key in one file is a keystore too.
    const std::string combined = mtls::read_file(g / "deviceCertChain.pem") + mtls::read_file(g / "deviceKey.pem");
    const mtls::credentials from_pem = mtls::credentials::from_keystore(
        {reinterpret_cast<const unsigned char*>(combined.data()), combined.size()},
        keystore_platform().password(guide_keystores::device), {}, "device.pem");
    CHECK(from_pem.chain() == chain);
    // from_pkcs12 keeps reading openssl's keystore as it did.
    CHECK(mtls::credentials::from_pkcs12_file(g / "deviceKeystore.pkcs12", guide_keystores::store_password).chain() ==
          chain);
}

TEST_CASE("keystores: each of the guide's truststores gives the server certificate")
{
    const guide_keystores& g = guide_files();
    const std::vector<bytes> server = pem_chain(g / "serverCertificate.pem");
    REQUIRE(server.size() == 1);
    CHECK(server == pem_chain(keystore_platform().dir() / "server" / "serverCert.pem"));
    for (const char* file : {"deviceTruststore.pkcs12", "deviceTruststore.jks", "realTruststore.jks"}) {
        CAPTURE(file);
        CHECK(truststore(file).certificates() == server);
    }
    // The keystore with the server certificate added serves as both (the guide's step 5).
    for (const char* file : {"combinedKeystore.pkcs12", "combinedKeystore.jks"}) {
        CAPTURE(file);
        CHECK(truststore(file, guide_keystores::store_password).certificates() == server);
    }
    // PEM and DER need no password; a password given for them is not used.
    CHECK(truststore("serverCertificate.pem", "").certificates() == server);
    const fs::path der = g / "serverCertificate.der";
    run_command("openssl x509 -in " + shell_quote((g / "serverCertificate.pem").string()) + " -outform DER -out " +
                shell_quote(der.string()));
    CHECK(mtls::truststore::from_path(der).certificates() == server);
    CHECK(mtls::truststore::from_path(der, "unused").certificates() == server);
}

TEST_CASE("keystores: a device connects and gets its token with each keystore and truststore of the guide")
{
    struct pairing {
        const char* keystore;
        const char* truststore;
        const char* truststore_password;
    };
    const pairing pairings[] = {
        {"deviceKeystore.pkcs12", "deviceTruststore.pkcs12", guide_keystores::trust_password},
        {"deviceKeystore.jks", "deviceTruststore.jks", guide_keystores::trust_password},
        {"keytoolKeystore.p12", "realTruststore.jks", guide_keystores::trust_password},
        {"combinedKeystore.pkcs12", "combinedKeystore.pkcs12", guide_keystores::store_password},
        {"combinedKeystore.jks", "combinedKeystore.jks", guide_keystores::store_password},
    };
    for (const pairing& p : pairings) {
        CAPTURE(p.keystore);
        CAPTURE(p.truststore);
        const mtls::device_token token = token_with(keystore(p.keystore), truststore(p.truststore, p.truststore_password));
        CHECK(token.subject() == guide_keystores::device);
    }
}

TEST_CASE("keystores: a wrong store password, a wrong key password, a missing alias and several keys are named")
{
    const guide_keystores& g = guide_files();
    for (const char* file : {"deviceKeystore.jks", "deviceKeystore.pkcs12"}) {
        CAPTURE(file);
        const std::string where = (g / file).string() + ": its integrity ";
        CHECK_ERROR(keystore(file, "not-the-password"), errc::keystore_password_wrong, where);
        CHECK_ERROR(keystore(file, ""), errc::keystore_password_wrong, "; no store password was given");
        mtls::keystore_options missing;
        missing.alias = "mykey";
        CHECK_ERROR(keystore(file, guide_keystores::store_password, missing), errc::keystore_alias_missing,
                    "no entry \"mykey\"; its private key entries: \"devicekeyentry\"");
    }
    CHECK_ERROR(truststore("deviceTruststore.pkcs12", "not-the-password"), errc::keystore_password_wrong,
                "deviceTruststore.pkcs12: its integrity MAC (HMAC-SHA-256) does not match this store password");
    CHECK_ERROR(truststore("realTruststore.jks", "not-the-password"), errc::keystore_password_wrong,
                "realTruststore.jks: its integrity digest does not match this store password");
    CHECK_ERROR(mtls::truststore::from_path(g / "deviceTruststore.pkcs12"), errc::keystore_password_wrong,
                "deviceTruststore.pkcs12: a PKCS#12 keystore (a truststore?), whose integrity is checked with its "
                "store password: give it");

    // The key's own password: the store password does not decrypt it, nor a wrong one.
    CHECK_ERROR(keystore("keypass.jks"), errc::key_password_wrong,
                "keypass.jks: entry 1 (\"devicekeyentry\"): the key password does not decrypt its private key");
    mtls::keystore_options wrong_key;
    wrong_key.key_password = "key-pass-2";
    CHECK_ERROR(keystore("keypass.jks", guide_keystores::store_password, wrong_key), errc::key_password_wrong,
                "-destkeypass");

    // Two keys: an alias chooses, and without one the aliases are listed.
    for (const char* file : {"two.jks", "two.p12"}) {
        CAPTURE(file);
        const auto e = mtls::test::thrown_by([&] { (void)keystore(file); });
        REQUIRE(e);
        CHECK(e->code() == errc::keystore_alias_missing);
        CHECK(mtls::test::contains(e->detail(), "2 private key entries and no alias to choose one"));
        CHECK(mtls::test::contains(e->detail(), "\"first-device\""));
        CHECK(mtls::test::contains(e->detail(), "\"second-device\""));
        mtls::keystore_options second;
        second.alias = "second-device";
        CHECK(keystore(file, guide_keystores::store_password, second).device_common_name() ==
              guide_keystores::second_device);
    }
}

TEST_CASE("keystores: a file of the wrong kind is named as what it is")
{
    const guide_keystores& g = guide_files();
    // A truststore given as keystore, and a keystore as truststore.
    for (const char* file : {"deviceTruststore.pkcs12", "realTruststore.jks"})
        CHECK_ERROR(keystore(file, guide_keystores::trust_password), errc::keystore_alias_missing,
                    "trusted certificate entries only: \"servercertificate\"");
    CHECK_ERROR(keystore("deviceTruststore.pkcs12", guide_keystores::trust_password), errc::keystore_alias_missing,
                "a truststore, not a keystore");
    for (const char* file : {"deviceKeystore.pkcs12", "deviceKeystore.jks"})
        CHECK_ERROR(truststore(file, guide_keystores::store_password), errc::truststore_empty,
                    "it holds the private key entries \"devicekeyentry\": a keystore, not a truststore");
    // Certificates and keys given as keystores.
    CHECK_ERROR(mtls::credentials::from_keystore_file(g / "deviceCertChain.pem", ""), errc::private_key_malformed,
                "deviceCertChain.pem: a PEM file of CERTIFICATE (2) and no private key: not a keystore");
    CHECK_ERROR(mtls::credentials::from_keystore_file(g / "serverCertificate.der", ""), errc::private_key_malformed,
                "serverCertificate.der: a DER certificate, not a keystore: it holds no private key");
    CHECK_ERROR(mtls::credentials::from_keystore_file(g / "deviceKey.pem", "x"), errc::no_certificate,
                "deviceKey.pem: a PEM file of ENCRYPTED PRIVATE KEY and no certificate: a key alone is not a keystore");
    mtls::keystore_options alias;
    alias.alias = "devicekeyentry";
    CHECK_ERROR(mtls::credentials::from_keystore_file(g / "deviceCertChain.pem", "", alias),
                errc::keystore_alias_missing, "a PEM file, whose blocks have no aliases");
    const fs::path text = g / "notes.txt";
    std::ofstream(text) << "not a keystore\n";
    CHECK_ERROR(mtls::credentials::from_keystore_file(text, "x"), errc::keystore_malformed,
                "notes.txt: neither JKS, PKCS#12, PEM nor DER: a keystore is JKS (keytool), PKCS#12");
    CHECK_ERROR(mtls::truststore::from_path(g / "deviceKey.pem", "x"), errc::truststore_empty,
                "deviceKey.pem: a PEM file of ENCRYPTED PRIVATE KEY and no certificate");
    // The file bound and what is not a regular file, as every loader refuses them.
    mtls::keystore_options small;
    small.max_file_bytes = 100;
    CHECK_ERROR(keystore("deviceKeystore.jks", guide_keystores::store_password, small), errc::file_unreadable,
                "more than the limit of 100 bytes");
    CHECK_ERROR(mtls::credentials::from_keystore_file(g.dir, "x"), errc::file_unreadable, "is a directory, not a file");
}

namespace {

// A CLI run with the guide's passwords in the environment: its output (stdout and stderr) and
// exit code. No password is ever on the command line.
struct cli_run {
    std::string out;
    int code = -1;
};

cli_run run_cli(const std::string& cli, const std::string& arguments)
{
    const std::string env = std::string("STORE_PW=") + guide_keystores::store_password +
                            " TRUST_PW=" + guide_keystores::trust_password + " KEY_PW=" + guide_keystores::key_password +
                            " WRONG_PW=not-the-password ";
    cli_run r;
    r.out = run_command("timeout 30 env " + env + cli + " " + arguments + " 2>&1", &r.code);
    // Whatever happened, no password was printed.
    for (const char* password : {guide_keystores::store_password, guide_keystores::trust_password,
                                 guide_keystores::key_password, "not-the-password"})
        CHECK_MESSAGE(r.out.find(password) == std::string::npos, r.out);
    return r;
}

std::string file_flag(const char* flag, const char* file)
{
    return std::string(" ") + flag + " " + shell_quote((guide_files() / file).string());
}

std::string at_broker()
{
    return " --host localhost --port " + std::to_string(keystore_platform().port());
}

} // namespace

TEST_CASE("keystores: c8y-mtls-connect and c8y-mtls-telemetry connect with the guide's keystores and truststores")
{
    struct pairing {
        const char* keystore;
        const char* truststore;
        std::string extra;
    };
    const pairing pairings[] = {
        {"deviceKeystore.jks", "deviceTruststore.jks", " --cafile-password-env TRUST_PW"},
        {"deviceKeystore.pkcs12", "deviceTruststore.pkcs12", " --cafile-password-env TRUST_PW --alias devicekeyentry"},
        {"combinedKeystore.jks", "combinedKeystore.jks", " --cafile-password-env STORE_PW"},
        {"combinedKeystore.pkcs12", "serverCertificate.pem", ""},
        {"keypass.jks", "realTruststore.jks", " --cafile-password-env TRUST_PW --key-password-env KEY_PW"},
    };
    for (const pairing& p : pairings) {
        CAPTURE(p.keystore);
        const cli_run r = run_cli(C8Y_TEST_CONNECT_CLI, at_broker() + file_flag("--cafile", p.truststore) +
                                                           file_flag("--keystore", p.keystore) +
                                                           " --password-env STORE_PW --token" + p.extra);
        CHECK(r.code == 0);
        CHECK_MESSAGE(r.out.find("{\"sub\":\"ks-device\",") != std::string::npos, r.out);
    }
    const cli_run telemetry =
        run_cli(C8Y_TEST_TELEMETRY_CLI, at_broker() + file_flag("--cafile", "deviceTruststore.pkcs12") +
                                            " --cafile-password-env TRUST_PW" + file_flag("--keystore", "two.jks") +
                                            " --password-env STORE_PW --alias first-device --count 1 --interval 1");
    CHECK(telemetry.code == 0);
    CHECK_MESSAGE(telemetry.out.find("measurement 1: 200,c8y_Temperature") != std::string::npos, telemetry.out);
}

TEST_CASE("keystores: the CLIs name a wrong password, a missing alias, several keys and a truststore without password")
{
    struct bad {
        std::string arguments;
        std::string why;
    };
    const std::string trust = file_flag("--cafile", "deviceTruststore.pkcs12") + " --cafile-password-env TRUST_PW";
    const bad cases[] = {
        {trust + file_flag("--keystore", "deviceKeystore.jks") + " --password-env WRONG_PW",
         "keystore or truststore cannot be opened: wrong store password"},
        {trust + file_flag("--keystore", "deviceKeystore.pkcs12") + " --password-env STORE_PW --alias mykey",
         "no entry \"mykey\"; its private key entries: \"devicekeyentry\""},
        {trust + file_flag("--keystore", "two.p12") + " --password-env STORE_PW",
         "2 private key entries and no alias to choose one"},
        {trust + file_flag("--keystore", "keypass.jks") + " --password-env STORE_PW --key-password-env WRONG_PW",
         "wrong key password"},
        {trust + file_flag("--keystore", "deviceTruststore.pkcs12") + " --password-env TRUST_PW",
         "a truststore, not a keystore"},
        {file_flag("--cafile", "deviceTruststore.pkcs12") + file_flag("--keystore", "deviceKeystore.jks") +
             " --password-env STORE_PW",
         "does not match this store password (keytool's -storepass, openssl pkcs12's -passout); if the password is "
         "right, the file was altered after it was written; no store password was given (--cafile-password-env "
         "names the variable holding it)"},
        {file_flag("--cafile", "deviceKeystore.jks") + " --cafile-password-env STORE_PW" +
             file_flag("--keystore", "deviceKeystore.jks") + " --password-env STORE_PW",
         "a keystore, not a truststore"},
        {trust + file_flag("--cert", "deviceCertChain.pem") + file_flag("--key", "deviceKey.pem") + " --alias x",
         "--alias goes with --keystore"},
    };
    for (const std::string cli : {C8Y_TEST_CONNECT_CLI, C8Y_TEST_TELEMETRY_CLI}) {
        for (const bad& b : cases) {
            CAPTURE(cli);
            CAPTURE(b.arguments);
            const cli_run r = run_cli(cli, at_broker() + b.arguments);
            CHECK(r.code == 2);
            CHECK_MESSAGE(r.out.find(b.why) != std::string::npos, r.out);
        }
    }
}

TEST_CASE("keystores: c8y-mtls-doctor reads each keystore, and truststores as --trusted")
{
    const std::string uploaded_ca = " --trusted " + shell_quote(keystore_platform().trusted_ca().string());
    for (const char* file : {"deviceKeystore.pkcs12", "deviceKeystore.jks", "keytoolKeystore.p12",
                             "combinedKeystore.pkcs12", "combinedKeystore.jks"}) {
        CAPTURE(file);
        const cli_run r = run_cli(C8Y_TEST_DOCTOR_CLI, file_flag("--keystore", file) + " --password-env STORE_PW" + uploaded_ca);
        CHECK(r.code == 0);
        CHECK_MESSAGE(r.out.find("verdict: the platform would accept this chain") != std::string::npos, r.out);
        CHECK(r.out.find("/CN=ks-device") != std::string::npos);
    }
    const cli_run keypass = run_cli(C8Y_TEST_DOCTOR_CLI, file_flag("--keystore", "keypass.jks") +
                                                             " --password-env STORE_PW --key-password-env KEY_PW" +
                                                             uploaded_ca);
    CHECK(keypass.code == 0);
    const cli_run second = run_cli(C8Y_TEST_DOCTOR_CLI, file_flag("--keystore", "two.p12") +
                                                            " --password-env STORE_PW --alias SECOND-device" + uploaded_ca);
    CHECK(second.code == 0);
    CHECK(second.out.find("/CN=ks-device-2") != std::string::npos);

    // The uploaded CA as a PKCS#12 truststore, and as a directory.
    const cli_run truststore = run_cli(C8Y_TEST_DOCTOR_CLI, file_flag("--keystore", "deviceKeystore.jks") +
                                                                " --password-env STORE_PW" +
                                                                file_flag("--trusted", "uploadedCa.pkcs12") +
                                                                " --trusted-password-env TRUST_PW");
    CHECK(truststore.code == 0);
    const cli_run directory = run_cli(C8Y_TEST_DOCTOR_CLI, file_flag("--keystore", "deviceKeystore.jks") +
                                                               " --password-env STORE_PW --trusted " +
                                                               shell_quote(keystore_platform().trusted_ca().parent_path().string()));
    CHECK(directory.code == 0);

    struct bad {
        std::string arguments;
        std::string why;
    };
    const bad cases[] = {
        {file_flag("--keystore", "deviceKeystore.pkcs12") + " --password-env WRONG_PW" + uploaded_ca,
         "wrong store password"},
        {file_flag("--keystore", "two.jks") + " --password-env STORE_PW" + uploaded_ca,
         "2 private key entries and no alias to choose one; its private key entries: "},
        {file_flag("--keystore", "deviceKeystore.jks") + " --password-env STORE_PW --alias servercertificate" + uploaded_ca,
         "no entry \"servercertificate\""},
        {file_flag("--keystore", "keypass.jks") + " --password-env STORE_PW" + uploaded_ca, "wrong key password"},
        {file_flag("--keystore", "realTruststore.jks") + " --password-env TRUST_PW" + uploaded_ca,
         "a truststore, not a keystore"},
        {file_flag("--keystore", "deviceKeystore.jks") + " --password-env STORE_PW" +
             file_flag("--trusted", "uploadedCa.pkcs12"),
         "(--trusted-password-env names the variable holding it)"},
        {file_flag("--keystore", "deviceKeystore.jks") + " --password-env STORE_PW" +
             file_flag("--trusted", "deviceKeystore.jks") + " --trusted-password-env STORE_PW",
         "a keystore, not a truststore"},
    };
    for (const bad& b : cases) {
        CAPTURE(b.arguments);
        const cli_run r = run_cli(C8Y_TEST_DOCTOR_CLI, b.arguments);
        CHECK(r.code == 2);
        CHECK_MESSAGE(r.out.find(b.why) != std::string::npos, r.out);
    }
}

TEST_CASE("keystores: c8y-mtls-pki's --cafile takes a PKCS#12 truststore with --cafile-password-env")
{
    const fs::path csv = guide_files() / "devices.csv";
    std::ofstream(csv) << "ID;AUTH_TYPE\nks-device;CERTIFICATES\n";
    const std::string common = " bulk-upload --url https://localhost:1 --user admin --password-env TRUST_PW" +
                               file_flag("--cafile", "deviceTruststore.pkcs12");
    // Read with its password, the truststore is used: the connection is what fails (exit 1).
    const cli_run read = run_cli(C8Y_TEST_PKI_CLI, common + " --cafile-password-env TRUST_PW " + shell_quote(csv.string()));
    CHECK(read.code == 1);
    CHECK_MESSAGE(read.out.find("deviceTruststore.pkcs12") == std::string::npos, read.out);
    const cli_run without = run_cli(C8Y_TEST_PKI_CLI, common + " " + shell_quote(csv.string()));
    CHECK(without.code == 2);
    CHECK_MESSAGE(without.out.find("(--cafile-password-env names the variable holding it)") != std::string::npos,
                  without.out);
    const cli_run wrong = run_cli(C8Y_TEST_PKI_CLI, common + " --cafile-password-env WRONG_PW " + shell_quote(csv.string()));
    CHECK(wrong.code == 2);
    CHECK_MESSAGE(wrong.out.find("wrong store password") != std::string::npos, wrong.out);
}
