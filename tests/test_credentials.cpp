// Credentials and truststores, loaded from what the platform guide's OpenSSL recipes make.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cctype>
#include <functional>
#include <vector>

#include "support/check_error.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
using c8y::mtls::test::run_command;
using c8y::mtls::test::shell_quote;

namespace {

// One PKI for this program, made once by the same script as the local platform's.
const fs::path& pki()
{
    static const fs::path dir = [] {
        fs::path d = fs::path(C8Y_TEST_WORK_DIR) / "pki";
        fs::create_directories(d);
        run_command("python3 " + shell_quote(std::string(C8Y_TEST_SCRIPT_DIR) + "/local_platform.py") + " pki --dir " +
                    shell_quote(d.string()) + " --device device-0001 2>&1");
        return d;
    }();
    return dir;
}

fs::path device_dir() { return pki() / "devices" / "device-0001"; }

std::string read_text(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string password() { return read_text(device_dir() / "password.txt"); }

fs::path scratch(const std::string& name)
{
    fs::path p = fs::path(C8Y_TEST_WORK_DIR) / "scratch" / name;
    fs::remove_all(p);
    fs::create_directories(p.parent_path());
    return p;
}

template <class F>
mtls::error error_of(F&& f)
{
    const auto e = mtls::test::thrown_by(std::forward<F>(f));
    REQUIRE_MESSAGE(e.has_value(), "no c8y::mtls::error was thrown");
    return *e;
}

} // namespace

TEST_CASE("a PEM chain and an aes256-encrypted PEM key load with the key's password")
{
    const auto device = mtls::credentials::from_pem_files(device_dir() / "deviceCertChain.pem",
                                                          device_dir() / "deviceKey.pem", password());
    CHECK(device.chain().size() == 2);
    CHECK(device.device_common_name() == "device-0001");
    CHECK_FALSE(device.private_key().empty());
    // The chain is kept in the order of the file: the leaf, then the CA that signed it.
    const auto leaf = mtls::certificate::from_der(device.chain()[0]);
    const auto ca = mtls::certificate::from_der(device.chain()[1]);
    CHECK(leaf.named_as_issued_by(ca));
}

TEST_CASE("an encrypted key without its password, or with a wrong one, names the cause")
{
    const auto missing = error_of([] {
        (void)mtls::credentials::from_pem_files(device_dir() / "deviceCertChain.pem", device_dir() / "deviceKey.pem");
    });
    CHECK(missing.code() == mtls::errc::private_key_password_wrong);
    CHECK(missing.detail().find("deviceKey.pem is encrypted") != std::string::npos);

    const auto wrong = error_of([] {
        (void)mtls::credentials::from_pem_files(device_dir() / "deviceCertChain.pem", device_dir() / "deviceKey.pem",
                                                "not-the-password");
    });
    CHECK(wrong.code() == mtls::errc::private_key_password_wrong);
}

TEST_CASE("an unencrypted key loads without a password")
{
    const fs::path plain = scratch("plainKey.pem");
    run_command("openssl pkey -in " + shell_quote((device_dir() / "deviceKey.pem").string()) + " -passin pass:" +
                password() + " -out " + shell_quote(plain.string()));
    const auto device =
        mtls::credentials::from_pem(read_text(device_dir() / "deviceCertChain.pem"), read_text(plain));
    CHECK(device.chain().size() == 2);
    CHECK_FALSE(device.private_key().empty());
}

TEST_CASE("a PKCS#12 keystore made by openssl pkcs12 -export loads, chain ordered leaf first")
{
    const auto device = mtls::credentials::from_pkcs12_file(device_dir() / "deviceKeystore.p12", password());
    REQUIRE(device.chain().size() == 2);
    CHECK(device.device_common_name() == "device-0001");
    CHECK(mtls::certificate::from_der(device.chain()[0]).named_as_issued_by(
        mtls::certificate::from_der(device.chain()[1])));
    CHECK_FALSE(device.private_key().empty());

    const auto wrong = error_of([] {
        (void)mtls::credentials::from_pkcs12_file(device_dir() / "deviceKeystore.p12", "wrong");
    });
    CHECK(wrong.code() == mtls::errc::pkcs12_password_wrong);
    CHECK(wrong.detail().find("deviceKeystore.p12") != std::string::npos);

    const std::string garbage = "this is not DER";
    const auto malformed = error_of([&] {
        (void)mtls::credentials::from_pkcs12(
            {reinterpret_cast<const unsigned char*>(garbage.data()), garbage.size()}, "x");
    });
    CHECK(malformed.code() == mtls::errc::pkcs12_malformed);
}

TEST_CASE("malformed and missing inputs each give their own error")
{
    const std::string key = read_text(device_dir() / "deviceKey.pem");
    CHECK(error_of([&] { (void)mtls::credentials::from_pem("", key, password()); }).code() ==
          mtls::errc::no_certificate);
    CHECK(error_of([&] {
              (void)mtls::credentials::from_pem("-----BEGIN CERTIFICATE-----\nMIIB\n", key, password());
          }).code() == mtls::errc::pem_malformed);
    CHECK(error_of([&] {
              (void)mtls::credentials::from_pem(
                  "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", key,
                  password());
          }).code() == mtls::errc::pem_malformed);
    CHECK(error_of([&] {
              (void)mtls::credentials::from_pem(read_text(device_dir() / "deviceCertChain.pem"), "no key here");
          }).code() == mtls::errc::private_key_malformed);
    const auto unreadable = error_of([] {
        (void)mtls::credentials::from_pem_files("/nonexistent/chain.pem", "/nonexistent/key.pem");
    });
    CHECK(unreadable.code() == mtls::errc::file_unreadable);
    CHECK(unreadable.detail().find("/nonexistent/chain.pem") != std::string::npos);
}

TEST_CASE("a truststore comes from one PEM file of several certificates or from a directory")
{
    const fs::path bundle = scratch("bundle.pem");
    {
        std::ofstream out(bundle);
        out << read_text(pki() / "server" / "serverCaCert.pem") << read_text(pki() / "rogue" / "caCert.pem");
    }
    CHECK(mtls::truststore::from_path(bundle).certificates().size() == 2);

    const fs::path dir = scratch("trustdir");
    fs::create_directories(dir);
    fs::copy_file(pki() / "server" / "serverCaCert.pem", dir / "a.pem");
    fs::copy_file(pki() / "ca" / "caCert.pem", dir / "b.crt");
    std::ofstream(dir / "README") << "not a certificate\n";
    CHECK(mtls::truststore::from_path(dir).certificates().size() == 2);

    const fs::path empty = scratch("emptydir");
    fs::create_directories(empty);
    CHECK(error_of([&] { (void)mtls::truststore::from_path(empty); }).code() == mtls::errc::truststore_empty);
    CHECK(error_of([&] { (void)mtls::truststore::from_pem("no certificates"); }).code() ==
          mtls::errc::truststore_empty);
}

TEST_CASE("a key that is not the certificate's is refused before any handshake")
{
    const fs::path rogue = pki() / "rogue" / "devices" / "rogue-device";
    std::string chain = read_text(device_dir() / "deviceCertChain.pem");
    std::string key = read_text(rogue / "deviceKey.pem");
    const auto device = mtls::credentials::from_pem(chain, key, read_text(rogue / "password.txt"));
    const auto trust = mtls::truststore::from_path(pki() / "server" / "serverCaCert.pem");
    const auto mismatch = error_of([&] { mtls::wolfssl_tls::context context(device, trust, {}); });
    CHECK(mismatch.code() == mtls::errc::private_key_mismatch);
    CHECK(mismatch.detail().find("device-0001") != std::string::npos);
}

TEST_CASE("the private key is wiped once the client holds it")
{
    auto device = mtls::credentials::from_pkcs12_file(device_dir() / "deviceKeystore.p12", password());
    const auto trust = mtls::truststore::from_path(pki() / "server" / "serverCaCert.pem");
    mtls::secure_bytes copy = device.private_key().clone();
    REQUIRE_FALSE(copy.empty());
    device.wipe_private_key();
    CHECK(device.private_key().empty());

    // secure_bytes zeroes its memory before letting it go.
    unsigned char* bytes = copy.data();
    const std::size_t size = copy.size();
    copy.truncate(1);
    bool tail_zeroed = true;
    for (std::size_t i = 1; i < size; ++i)
        tail_zeroed = tail_zeroed && bytes[i] == 0;
    CHECK(tail_zeroed);

    asio::io_context io;
    auto fresh = mtls::credentials::from_pkcs12_file(device_dir() / "deviceKeystore.p12", password());
    mtls::client client(io.get_executor(), std::move(fresh), trust);
    CHECK(client.device_id() == "device-0001");
}

TEST_CASE("an EC P-256 key and certificate load, and the key is checked against the certificate")
{
    const fs::path dir = scratch("ec");
    fs::create_directories(dir);
    run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout " +
                shell_quote((dir / "key.pem").string()) + " -out " + shell_quote((dir / "cert.pem").string()) +
                " -subj /CN=ec-device -days 30 2>&1");
    const auto device = mtls::credentials::from_pem_files(dir / "cert.pem", dir / "key.pem");
    CHECK(device.device_common_name() == "ec-device");
    const auto trust = mtls::truststore::from_path(pki() / "server" / "serverCaCert.pem");
    mtls::wolfssl_tls::context context(device, trust, {});
    CHECK(context.native_handle() != nullptr);
}

TEST_CASE("error messages name the cause the way a person fixes it")
{
    CHECK(mtls::make_connack_error(1).message().find("MQTT 3.1.1") != std::string::npos);
    CHECK(mtls::make_connack_error(3).message().find("retry with backoff") != std::string::npos);
    CHECK(mtls::make_connack_error(5).message() ==
          "broker refused: CONNACK 5, not authorised (device id and certificate CN differ, or registration failed)");
    CHECK(mtls::make_tls_alert_error(46).message().find("certificate_unknown (46)") != std::string::npos);
    CHECK(mtls::make_tls_alert_error(46).message().find("does not trust the device chain") != std::string::npos);
    const mtls::error e(mtls::errc::server_not_trusted, "no CA in the truststore signed /CN=x");
    CHECK(std::string(e.what()) == "server certificate not trusted: no CA in the truststore signed /CN=x");
    CHECK(e.code() == mtls::errc::server_not_trusted);
    CHECK(e.code().category().name() == std::string("c8y.mtls"));
}

TEST_CASE("a directory, a FIFO, a device or a file too large is refused before it is read, naming it")
{
    const fs::path dir = scratch("not-files");
    fs::create_directories(dir / "a-directory");
    const fs::path fifo = dir / "a-fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0); // nobody writes it: reading it would block forever
    const fs::path large = dir / "large.pem";
    std::ofstream(large).close();
    fs::resize_file(large, mtls::default_max_file_bytes + 1);
    const fs::path chain = device_dir() / "deviceCertChain.pem";
    const fs::path key = device_dir() / "deviceKey.pem";
    struct bad_file {
        fs::path path;
        const char* why;
        bool for_truststore = true; // a directory is a truststore of its own
    };
    const bad_file cases[] = {
        {dir / "a-directory", "is a directory, not a file", false},
        {fifo, "is a FIFO (named pipe), not a regular file"},
        {"/dev/zero", "is a device, not a regular file"},
        {large, "is 1048577 bytes, more than the limit of 1048576 bytes"},
        {dir / "missing.pem", "no such file"},
    };
    for (const bad_file& c : cases) {
        const std::string expected = c.path.string() + ": " + c.why;
        CAPTURE(expected);
        std::vector<std::function<void()>> loads = {
            [&] { (void)mtls::credentials::from_pem_files(c.path, key, password()); },
            [&] { (void)mtls::credentials::from_pem_files(chain, c.path, password()); },
            [&] { (void)mtls::credentials::from_pkcs12_file(c.path, password()); },
        };
        if (c.for_truststore)
            loads.emplace_back([&] { (void)mtls::truststore::from_path(c.path); });
        for (const auto& load : loads) {
            const mtls::error e = error_of(load);
            CHECK(e.code() == mtls::errc::file_unreadable);
            CHECK(e.detail() == expected);
        }
    }
    // The bound is the caller's to set.
    CHECK_NOTHROW(mtls::credentials::from_pem_files(chain, key, password(), 64 * 1024));
    CHECK(error_of([&] { (void)mtls::credentials::from_pem_files(chain, key, password(), 100); }).detail().find(
              "more than the limit of 100 bytes") != std::string::npos);
}

TEST_CASE("mtls::certificate reads a certificate as openssl x509 does")
{
    const fs::path file = device_dir() / "deviceCert.pem";
    const auto certificates = mtls::certificate::from_pem_file(file);
    REQUIRE(certificates.size() == 1);
    const mtls::certificate& device = certificates.front();
    const auto openssl = [&](const std::string& what) {
        std::string out = run_command("openssl x509 -noout " + what + " -in " + shell_quote(file.string()));
        while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
            out.pop_back();
        return out;
    };

    CHECK(device.common_name() == "device-0001");
    CHECK(device.subject().find("/CN=device-0001") != std::string::npos);
    const auto ca = mtls::certificate::from_pem_file(pki() / "ca" / "caCert.pem");
    REQUIRE(ca.size() == 1);
    CHECK(device.issuer() == ca.front().subject());
    CHECK(device.named_as_issued_by(ca.front()));
    CHECK_FALSE(ca.front().named_as_issued_by(device));
    CHECK(ca.front().is_ca());
    CHECK_FALSE(device.is_ca());
    CHECK(device.version() == 3);

    CHECK("serial=" + device.serial() == openssl("-serial"));
    // "SHA256 Fingerprint=AB:CD:..." in upper case with colons; ours is plain lower-case hex.
    std::string fingerprint = openssl("-fingerprint -sha256");
    fingerprint = fingerprint.substr(fingerprint.find('=') + 1);
    std::string plain;
    for (const char c : fingerprint)
        if (c != ':')
            plain += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(device.fingerprint() == plain);
    CHECK(device.fingerprint(mtls::hash_function::sha1).size() == 40);

    // openssl prints "notAfter=2027-12-02 11:28:33Z"; format_time "2027-12-02T11:28:33Z".
    const std::string end = openssl("-enddate -dateopt iso_8601");
    CHECK(end == "notAfter=" + mtls::format_time(device.not_after()).substr(0, 10) + " " +
                     mtls::format_time(device.not_after()).substr(11, 8) + "Z");

    CHECK(device.key_bits() > 0);
    const std::string text = openssl("-text");
    if (device.key().rfind("EC", 0) == 0)
        CHECK(text.find("ASN1 OID: prime256v1") != std::string::npos);
    else
        CHECK(text.find("(" + std::to_string(device.key_bits()) + " bit)") != std::string::npos);

    // Every extension openssl lists, with its criticality.
    const auto extensions = device.extensions();
    REQUIRE_FALSE(extensions.empty());
    for (const auto& e : extensions) {
        INFO(e.oid);
        CHECK(e.name != e.oid); // the guide's v3_signed uses only extensions the SDK names
    }
    const auto basic = std::find_if(extensions.begin(), extensions.end(),
                                    [](const mtls::certificate_extension& e) { return e.name == "basicConstraints"; });
    REQUIRE(basic != extensions.end());
    CHECK(basic->critical == (text.find("X509v3 Basic Constraints: critical") != std::string::npos));
}

TEST_CASE("mtls::certificate refuses what is no certificate, naming why")
{
    const std::vector<unsigned char> junk = {0x30, 0x03, 0x02, 0x01, 0x01};
    const auto e = error_of([&] { (void)mtls::certificate::from_der(junk, "junk.der"); });
    CHECK(e.code() == mtls::errc::pem_malformed);
    CHECK(e.detail().find("junk.der is not DER X.509") != std::string::npos);
}
