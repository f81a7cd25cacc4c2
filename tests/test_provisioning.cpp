// Provisioning: what the SDK makes (keys, certificates, CSRs, chains, keystores, the bulk CSV,
// proof of possession) checked by the OpenSSL CLI and by the SDK's own loaders and validator,
// and what the guide's OpenSSL recipes make, loaded and signed with by the SDK.
#include <c8y/mtls.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "support/check_error.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace prov = c8y::mtls::provisioning;
using c8y::mtls::test::contains;
using c8y::mtls::test::run_command;
using c8y::mtls::test::shell_quote;

namespace {

fs::path scratch(const std::string& name)
{
    fs::path p = fs::path(C8Y_TEST_WORK_DIR) / "provisioning" / name;
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

void write(const fs::path& p, std::string_view text)
{
    std::ofstream out(p, std::ios::binary);
    out << text;
}

void write(const fs::path& p, std::span<const unsigned char> bytes)
{
    write(p, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string read_text(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string q(const fs::path& p) { return shell_quote(p.string()); }

// Runs a command with its stderr; returns the output and stores the exit status.
std::string sh(const std::string& cmd, int& code) { return run_command(cmd + " 2>&1", &code); }

struct key_case {
    prov::key_type type;
    const char* name;
    const char* openssl_text; // what `openssl pkey -text` prints for it
};

constexpr key_case key_cases[] = {
    {prov::key_type::rsa2048, "rsa2048", "Private-Key: (2048 bit"},
    {prov::key_type::rsa3072, "rsa3072", "Private-Key: (3072 bit"},
    {prov::key_type::rsa4096, "rsa4096", "Private-Key: (4096 bit"},
    {prov::key_type::ec256, "ec256", "NIST CURVE: P-256"},
    {prov::key_type::ec384, "ec384", "NIST CURVE: P-384"},
};

prov::certificate_options named(std::string cn, int days = 365)
{
    prov::certificate_options o;
    o.common_name = std::move(cn);
    o.days = days;
    return o;
}

// The chain against the uploaded CA under the guide's profile, with the key and the client id.
mtls::chain_report validate(const std::vector<mtls::der_certificate>& chain, const mtls::der_certificate& uploaded,
                            const prov::private_key& key, const std::string& client_id,
                            mtls::chain_profile profile = mtls::chain_profile::guide)
{
    mtls::chain_validator_options options;
    options.profile = profile;
    const mtls::chain_validator validator({uploaded}, options);
    return validator.validate(chain, std::span<const unsigned char>(key.der().data(), key.der().size()), client_id);
}

std::string findings(const mtls::chain_report& r)
{
    std::string out;
    for (const auto& f : r.findings())
        out += std::string(f.rule) + ": " + f.message + "\n";
    return out;
}

} // namespace

TEST_CASE("provisioning: every key type is written as PEM, plain and AES-256 encrypted, and openssl pkey reads it")
{
    const fs::path dir = scratch("keys");
    for (const key_case& k : key_cases) {
        const std::string key_name = k.name;
        CAPTURE(key_name);
        const prov::private_key key = prov::private_key::generate(k.type);
        std::string plain = key.to_pem();
        CHECK(contains(plain, "-----BEGIN PRIVATE KEY-----"));
        write(dir / (std::string(k.name) + ".pem"), plain);
        mtls::wipe(plain);
        const std::string encrypted = key.to_pem("s3cret pass");
        CHECK(contains(encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        const fs::path enc = dir / (std::string(k.name) + ".enc.pem");
        write(enc, encrypted);

        int code = 0;
        std::string out = sh("openssl pkey -noout -text -in " + q(dir / (std::string(k.name) + ".pem")), code);
        CHECK_MESSAGE(code == 0, out);
        CHECK(contains(out, k.openssl_text));
        out = sh("openssl pkey -noout -text -passin pass:'s3cret pass' -in " + q(enc), code);
        CHECK_MESSAGE(code == 0, out);
        CHECK(contains(out, k.openssl_text));
        out = sh("openssl asn1parse -in " + q(enc), code);
        CHECK(contains(out, "aes-256-cbc"));
        out = sh("openssl pkey -noout -passin pass:wrong -in " + q(enc), code);
        CHECK(code != 0);

        // The SDK reads its own encrypted key back: the same key.
        const prov::private_key again = prov::private_key::from_pem(encrypted, "s3cret pass");
        CHECK(again.public_key_info() == key.public_key_info());
        CHECK_ERROR(prov::private_key::from_pem(encrypted, "wrong"), mtls::errc::private_key_password_wrong, "memory");
    }
}

TEST_CASE("provisioning: a CA and a device certificate per key type pass chain_validator under the guide's profile "
          "and openssl verify, with the guide's extensions")
{
    // One subcase a key type: each runs, and is reported, on its own.
    for (const key_case& k : key_cases) {
        SUBCASE(k.name) {
            const fs::path dir = scratch(std::string("chain-") + k.name);
            prov::signing_authority ca{{}, prov::private_key::generate(k.type)};
            ca.certificate = prov::make_ca_certificate(ca.key, named("Factory CA " + std::string(k.name), 3650));
            const prov::private_key device_key = prov::private_key::generate(k.type);
            const mtls::der_certificate device =
                prov::make_device_certificate(device_key, named("device-" + std::string(k.name)), ca);
            const std::vector<mtls::der_certificate> chain{device, ca.certificate};

            const mtls::chain_report report = validate(chain, ca.certificate, device_key, "d:device-" + std::string(k.name));
            CHECK_MESSAGE(report.ok(), findings(report));
            CHECK_MESSAGE(report.warning_count() == 0, findings(report));

            write(dir / "ca.pem", prov::certificate_pem(ca.certificate));
            write(dir / "chain.pem", prov::chain_pem(chain));
            write(dir / "device.pem", prov::certificate_pem(device));
            int code = 0;
            std::string out = sh("openssl verify -x509_strict -CAfile " + q(dir / "ca.pem") + " " + q(dir / "device.pem"), code);
            CHECK_MESSAGE(code == 0, out);

            out = sh("openssl x509 -noout -text -in " + q(dir / "ca.pem"), code);
            CHECK(contains(out, "Version: 3 (0x2)"));
            CHECK(contains(out, "Basic Constraints: critical\n                CA:TRUE"));
            CHECK(contains(out, "Digital Signature, Certificate Sign, CRL Sign"));
            CHECK(contains(out, "Subject Key Identifier"));
            CHECK(contains(out, "Authority Key Identifier"));
            CHECK(contains(out, k.type <= prov::key_type::rsa4096 ? "sha256WithRSAEncryption" : "ecdsa-with-SHA256"));
            out = sh("openssl x509 -noout -text -in " + q(dir / "device.pem"), code);
            CHECK(contains(out, "Basic Constraints: critical\n                CA:FALSE"));
            CHECK(contains(out, "Digital Signature, Non Repudiation, Key Encipherment"));
            CHECK(contains(out, "Subject: CN = device-" + std::string(k.name)));
            CHECK(contains(out, "Issuer: CN = Factory CA " + std::string(k.name)));
            // The device's AKID is the CA's SKID.
            const std::string ca_skid = sh("openssl x509 -noout -ext subjectKeyIdentifier -in " + q(dir / "ca.pem"), code);
            const std::string skid = ca_skid.substr(ca_skid.find('\n') + 1);
            CHECK(contains(out, skid.substr(skid.find_first_not_of(' '), 59)));
        }
    }
}

TEST_CASE("provisioning: an intermediate under a CA with pathlen makes a three-certificate chain")
{
    const fs::path dir = scratch("intermediate");
    prov::signing_authority root{{}, prov::private_key::generate(prov::key_type::ec384)};
    root.certificate = prov::make_ca_certificate(root.key, named("Root CA", 3650), 1);
    prov::signing_authority intermediate{{}, prov::private_key::generate(prov::key_type::ec256)};
    intermediate.certificate =
        prov::make_intermediate_certificate(intermediate.key, named("Line 7 CA", 1825), root, 0);
    const prov::private_key device_key = prov::private_key::generate(prov::key_type::rsa2048);
    const mtls::der_certificate device = prov::make_device_certificate(device_key, named("dev-77"), intermediate);
    const std::vector<mtls::der_certificate> chain{device, intermediate.certificate, root.certificate};

    const auto current = validate(chain, root.certificate, device_key, "dev-77", mtls::chain_profile::current);
    CHECK_MESSAGE(current.ok(), findings(current));
    // The guide's profile limits the chain to 2 certificates: the intermediate is what it refuses.
    const auto guide = validate(chain, root.certificate, device_key, "dev-77");
    CHECK(guide.has(mtls::chain_rule::chain_length));

    write(dir / "root.pem", prov::certificate_pem(root.certificate));
    write(dir / "intermediate.pem", prov::certificate_pem(intermediate.certificate));
    write(dir / "device.pem", prov::certificate_pem(device));
    int code = 0;
    std::string out = sh("openssl verify -x509_strict -CAfile " + q(dir / "root.pem") + " -untrusted " +
                             q(dir / "intermediate.pem") + " " + q(dir / "device.pem"),
                         code);
    CHECK_MESSAGE(code == 0, out);
    out = sh("openssl x509 -noout -text -in " + q(dir / "root.pem"), code);
    CHECK(contains(out, "CA:TRUE, pathlen:1"));
    out = sh("openssl x509 -noout -text -in " + q(dir / "intermediate.pem"), code);
    CHECK(contains(out, "CA:TRUE, pathlen:0"));
    CHECK(contains(out, "Issuer: CN = Root CA"));

    // A CA under the pathlen:0 intermediate is over its limit: openssl refuses it too.
    prov::signing_authority too_deep{{}, prov::private_key::generate(prov::key_type::ec256)};
    too_deep.certificate = prov::make_intermediate_certificate(too_deep.key, named("Too deep"), intermediate);
    const mtls::der_certificate leaf = prov::make_device_certificate(device_key, named("dev-78"), too_deep);
    write(dir / "deep.pem", prov::certificate_pem(too_deep.certificate) + prov::certificate_pem(intermediate.certificate));
    write(dir / "leaf.pem", prov::certificate_pem(leaf));
    out = sh("openssl verify -CAfile " + q(dir / "root.pem") + " -untrusted " + q(dir / "deep.pem") + " " +
                 q(dir / "leaf.pem"),
             code);
    CHECK(code != 0);
    CHECK(contains(out, "path length"));
}

TEST_CASE("provisioning: validity runs from the given start for the given days; serials are random and unique")
{
    const fs::path dir = scratch("validity");
    prov::signing_authority ca{{}, prov::private_key::generate(prov::key_type::ec256)};
    prov::certificate_options options = named("Dated CA", 30);
    options.not_before = std::chrono::sys_days{std::chrono::year{2030} / 1 / 15} + std::chrono::hours(8);
    ca.certificate = prov::make_ca_certificate(ca.key, options);
    write(dir / "ca.pem", prov::certificate_pem(ca.certificate));
    int code = 0;
    std::string out = sh("openssl x509 -noout -startdate -enddate -in " + q(dir / "ca.pem"), code);
    CHECK(contains(out, "notBefore=Jan 15 08:00:00 2030 GMT"));
    CHECK(contains(out, "notAfter=Feb 14 08:00:00 2030 GMT"));

    // After 2049 the time is a GeneralizedTime, as RFC 5280 wants.
    options.not_before = std::chrono::sys_days{std::chrono::year{2049} / 12 / 1};
    options.days = 60;
    write(dir / "late.pem", prov::certificate_pem(prov::make_ca_certificate(ca.key, options)));
    out = sh("openssl x509 -noout -enddate -in " + q(dir / "late.pem"), code);
    CHECK(contains(out, "notAfter=Jan 30 00:00:00 2050 GMT"));

    std::set<std::string> serials;
    const prov::private_key key = prov::private_key::generate(prov::key_type::ec256);
    for (int i = 0; i < 8; ++i) {
        write(dir / "d.pem", prov::certificate_pem(prov::make_device_certificate(key, named("same-device"), ca)));
        std::string serial = sh("openssl x509 -noout -serial -in " + q(dir / "d.pem"), code);
        CHECK(serial.size() == std::string("serial=\n").size() + 32); // 16 bytes, positive, no leading zero
        serials.insert(serial);
    }
    CHECK(serials.size() == 8);

    CHECK_ERROR(prov::make_ca_certificate(ca.key, named("Never", 0)), mtls::errc::validity_invalid, "0 days");
    CHECK_ERROR(prov::make_ca_certificate(ca.key, named("CA"), -1), mtls::errc::validity_invalid, "pathlen -1");
}

TEST_CASE("provisioning: a CN with ':' is refused when the certificate or CSR is made")
{
    prov::signing_authority ca{{}, prov::private_key::generate(prov::key_type::ec256)};
    ca.certificate = prov::make_ca_certificate(ca.key, named("CA"));
    const prov::private_key key = prov::private_key::generate(prov::key_type::ec256);
    CHECK_ERROR(prov::make_device_certificate(key, named("d:dev-1"), ca), mtls::errc::common_name_invalid,
                "'d:dev-1' contains ':'");
    CHECK_ERROR(prov::make_certificate_request(key, "dev:1"), mtls::errc::common_name_invalid, "'dev:1'");
    CHECK_ERROR(prov::make_ca_certificate(key, named("")), mtls::errc::common_name_invalid, "empty");
}

TEST_CASE("provisioning: a CSR made on the device is signed on the CA side; openssl's CSRs too; altered ones are "
          "refused")
{
    const fs::path dir = scratch("csr");
    for (const key_case& k : {key_cases[0], key_cases[3]}) {
        const std::string key_name = k.name;
        CAPTURE(key_name);
        prov::signing_authority ca{{}, prov::private_key::generate(k.type)};
        ca.certificate = prov::make_ca_certificate(ca.key, named("CSR CA"));
        const prov::private_key device_key = prov::private_key::generate(k.type);
        const std::vector<unsigned char> csr = prov::make_certificate_request(device_key, "device-csr");
        write(dir / "csr.pem", prov::certificate_request_pem(csr));
        int code = 0;
        std::string out = sh("openssl req -verify -noout -text -in " + q(dir / "csr.pem"), code);
        CHECK_MESSAGE(code == 0, out);
        CHECK(contains(out, "Subject: CN = device-csr"));

        const mtls::der_certificate device =
            prov::sign_certificate_request(prov::certificate_request_from_pem(read_text(dir / "csr.pem")),
                                           named("ignored"), ca);
        const auto report = validate({device, ca.certificate}, ca.certificate, device_key, "device-csr");
        CHECK_MESSAGE(report.ok(), findings(report));

        std::vector<unsigned char> altered = csr;
        altered[altered.size() / 3] ^= 0x01;
        CHECK_ERROR(prov::sign_certificate_request(altered, named(""), ca), mtls::errc::certificate_request_invalid, "");
    }

    // The guide's device side with the OpenSSL CLI; the CA side with the SDK.
    prov::signing_authority ca{{}, prov::private_key::generate(prov::key_type::rsa2048)};
    ca.certificate = prov::make_ca_certificate(ca.key, named("CSR CA"));
    write(dir / "ca.pem", prov::certificate_pem(ca.certificate));
    int code = 0;
    std::string out = sh("cd " + q(dir) + " && openssl ecparam -name prime256v1 -genkey -noout -out dev.key && "
                         "openssl req -new -sha256 -key dev.key -subj /CN=openssl-device -out dev.csr",
                         code);
    REQUIRE_MESSAGE(code == 0, out);
    const mtls::der_certificate device =
        prov::sign_certificate_request(prov::certificate_request_from_pem(read_text(dir / "dev.csr")), named(""), ca);
    write(dir / "dev.pem", prov::certificate_pem(device));
    out = sh("openssl verify -x509_strict -CAfile " + q(dir / "ca.pem") + " " + q(dir / "dev.pem"), code);
    CHECK_MESSAGE(code == 0, out);
    const prov::private_key dev_key = prov::private_key::from_pem(read_text(dir / "dev.key"));
    // The SEC1 key openssl wrote comes back out as PKCS#8 with the same public key.
    write(dir / "dev.pkcs8.pem", dev_key.to_pem());
    const std::string pub_sdk = sh("openssl pkey -pubout -in " + q(dir / "dev.pkcs8.pem"), code);
    CHECK(contains(read_text(dir / "dev.pkcs8.pem"), "-----BEGIN PRIVATE KEY-----"));
    CHECK(pub_sdk == sh("openssl pkey -pubout -in " + q(dir / "dev.key"), code));
    const auto report = validate({device, ca.certificate}, ca.certificate, dev_key, "d:openssl-device");
    CHECK_MESSAGE(report.ok(), findings(report));

    out = sh("cd " + q(dir) + " && openssl req -new -sha256 -key dev.key -subj /CN=bad:device -out bad.csr", code);
    REQUIRE(code == 0);
    CHECK_ERROR(prov::sign_certificate_request(prov::certificate_request_from_pem(read_text(dir / "bad.csr")), named(""),
                                               ca),
                mtls::errc::common_name_invalid, "bad:device");
}

TEST_CASE("provisioning: the guide's OpenSSL CA (genrsa -aes256, req -x509 v3_ca) signs devices through the SDK")
{
    const fs::path dir = scratch("guide-ca");
    write(dir / "v3.ext", "[v3_ca]\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always,issuer\n"
                          "basicConstraints=critical,CA:true\nkeyUsage=digitalSignature,cRLSign,keyCertSign\n");
    int code = 0;
    std::string out = sh("cd " + q(dir) + " && openssl genrsa -aes256 -passout pass:capass -out ca.key 2048 && "
                         "openssl req -new -x509 -sha256 -key ca.key -passin pass:capass -subj /CN=Guide-CA -days 365 "
                         "-config v3.ext -extensions v3_ca -out ca.pem",
                         code);
    REQUIRE_MESSAGE(code == 0, out);
    prov::signing_authority ca{mtls::detail::certificates_from_pem(read_text(dir / "ca.pem"), "ca.pem").front(),
                               prov::private_key::from_pem(read_text(dir / "ca.key"), "capass", "ca.key")};
    const prov::private_key device_key = prov::private_key::generate(prov::key_type::ec256);
    const mtls::der_certificate device = prov::make_device_certificate(device_key, named("guide-device"), ca);
    write(dir / "device.pem", prov::certificate_pem(device));
    out = sh("openssl verify -x509_strict -CAfile " + q(dir / "ca.pem") + " " + q(dir / "device.pem"), code);
    CHECK_MESSAGE(code == 0, out);
    const auto report = validate({device, ca.certificate}, ca.certificate, device_key, "guide-device");
    CHECK_MESSAGE(report.ok(), findings(report));

    // The proof of possession with the guide's CA key: the bytes the guide's openssl command prints.
    write(dir / "code.txt", "guide-code-123");
    const std::string expected = sh("openssl dgst -sha256 -passin pass:capass -sign " + q(dir / "ca.key") + " " +
                                        q(dir / "code.txt") + " | openssl base64 -A",
                                    code);
    CHECK(prov::sign_verification_code(ca.key, "guide-code-123") == expected);

    // A traditional PKCS#1 key (openssl genrsa -traditional) comes back out as PKCS#8, the same key.
    out = sh("cd " + q(dir) + " && openssl genrsa -traditional -out rsa1.key 2048", code);
    REQUIRE_MESSAGE(code == 0, out);
    CHECK(contains(read_text(dir / "rsa1.key"), "-----BEGIN RSA PRIVATE KEY-----"));
    const prov::private_key traditional = prov::private_key::from_pem(read_text(dir / "rsa1.key"));
    write(dir / "rsa1.pkcs8.pem", traditional.to_pem());
    CHECK(contains(read_text(dir / "rsa1.pkcs8.pem"), "-----BEGIN PRIVATE KEY-----"));
    CHECK(sh("openssl pkey -pubout -in " + q(dir / "rsa1.pkcs8.pem"), code) ==
          sh("openssl pkey -pubout -in " + q(dir / "rsa1.key"), code));
}

TEST_CASE("provisioning: the chain file is leaf first with the CA; a PKCS#12 keystore opens in openssl and in the SDK")
{
    const fs::path dir = scratch("keystore");
    prov::signing_authority ca{{}, prov::private_key::generate(prov::key_type::rsa2048)};
    ca.certificate = prov::make_ca_certificate(ca.key, named("Keystore CA"));
    const prov::private_key device_key = prov::private_key::generate(prov::key_type::ec256);
    const mtls::der_certificate device = prov::make_device_certificate(device_key, named("keystore-device"), ca);
    const std::vector<mtls::der_certificate> chain{device, ca.certificate};

    const std::string pem = prov::chain_pem(chain);
    const auto read_back = mtls::detail::certificates_from_pem(pem, "chain");
    CHECK(read_back == chain);
    const std::vector<mtls::der_certificate> reversed{ca.certificate, device};
    CHECK_ERROR(prov::chain_pem(reversed), mtls::errc::invalid_argument, "leaf first");

    const std::vector<unsigned char> p12 = prov::make_pkcs12(device_key, chain, "p12 pass");
    write(dir / "keystore.p12", p12);
    int code = 0;
    std::string out =
        sh("openssl pkcs12 -in " + q(dir / "keystore.p12") + " -passin pass:'p12 pass' -nodes -out " + q(dir / "all.pem"), code);
    CHECK_MESSAGE(code == 0, out);
    const std::string all = read_text(dir / "all.pem");
    CHECK(contains(all, "subject=CN = keystore-device"));
    CHECK(contains(all, "subject=CN = Keystore CA"));
    CHECK(contains(all, "-----BEGIN PRIVATE KEY-----"));
    out = sh("openssl pkcs12 -in " + q(dir / "keystore.p12") + " -passin pass:wrong -nokeys", code);
    CHECK(code != 0);

    const mtls::credentials loaded = mtls::credentials::from_pkcs12(p12, "p12 pass");
    CHECK(loaded.chain() == chain);
    CHECK(loaded.device_common_name() == "keystore-device");
    const auto report = mtls::chain_validator({ca.certificate}).validate(loaded, "keystore-device");
    CHECK_MESSAGE(report.ok(), findings(report));
    CHECK_ERROR(mtls::credentials::from_pkcs12(p12, "wrong"), mtls::errc::pkcs12_password_wrong, "memory");
    CHECK_ERROR(prov::make_pkcs12(device_key, chain, ""), mtls::errc::keystore_creation_failed, "password");
}

TEST_CASE("provisioning: proof of possession is byte-identical to openssl dgst for RSA and verifies for ECDSA")
{
    const fs::path dir = scratch("pop");
    const std::string code_text = "b3KcZy1lbnTwAGK9Vc2R4Q==";
    write(dir / "code.txt", code_text);
    for (const key_case& k : {key_cases[0], key_cases[4]}) {
        const std::string key_name = k.name;
        CAPTURE(key_name);
        const prov::private_key key = prov::private_key::generate(k.type);
        std::string key_pem = key.to_pem();
        write(dir / "ca.key", key_pem);
        mtls::wipe(key_pem);
        const std::string signed_code = prov::sign_verification_code(key, code_text);
        int code = 0;
        if (key.is_rsa()) {
            const std::string expected =
                sh("openssl dgst -sha256 -sign " + q(dir / "ca.key") + " " + q(dir / "code.txt") + " | openssl base64 -A",
                   code);
            CHECK(signed_code == expected);
        } else {
            const auto signature = mtls::detail::base64_decode(signed_code);
            REQUIRE(signature.has_value());
            write(dir / "sig.bin", *signature);
            sh("openssl pkey -pubout -in " + q(dir / "ca.key") + " -out " + q(dir / "pub.pem"), code);
            const std::string out = sh("openssl dgst -sha256 -verify " + q(dir / "pub.pem") + " -signature " +
                                           q(dir / "sig.bin") + " " + q(dir / "code.txt"),
                                       code);
            CHECK_MESSAGE(code == 0, out);
            CHECK(contains(out, "Verified OK"));
        }
    }
    const prov::private_key key = prov::private_key::generate(prov::key_type::ec256);
    CHECK_ERROR(prov::sign_verification_code(key, ""), mtls::errc::invalid_argument, "empty");
}

TEST_CASE("provisioning: one-time passwords are 32 alphanumerics from the CSPRNG, every one equally likely")
{
    const mtls::secret_string first = prov::make_one_time_password();
    CHECK(first.view().size() == 32);
    std::set<char> seen;
    std::set<std::string> passwords{std::string(first.view())};
    for (int i = 0; i < 500; ++i) {
        const mtls::secret_string p = prov::make_one_time_password(20);
        REQUIRE(p.view().size() == 20);
        for (const char c : p.view()) {
            CHECK(((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')));
            seen.insert(c);
        }
        passwords.insert(std::string(p.view()));
    }
    CHECK(passwords.size() == 501); // no repeat among 2^119-odd possibilities
    CHECK(seen.size() == 62);       // 10,000 draws reach every character
    CHECK(prov::make_one_time_password(1).view().size() == 1);
    CHECK_ERROR(prov::make_one_time_password(0), mtls::errc::invalid_argument, "1 to 32 characters, not 0");
    CHECK_ERROR(prov::make_one_time_password(33), mtls::errc::invalid_argument, "1 to 32 characters, not 33");
}

TEST_CASE("provisioning: the bulk registration CSV carries ENROLLMENT_OTP when a device has one, checked")
{
    std::vector<prov::bulk_device> devices(2);
    devices[0].id = "dev-1";
    devices[0].enrollment_otp = mtls::secret_string(std::string("Abc123"));
    devices[1].id = "dev-2";
    CHECK(prov::bulk_registration_csv(devices, ';') ==
          "ID;AUTH_TYPE;ENROLLMENT_OTP\r\ndev-1;CERTIFICATES;Abc123\r\ndev-2;CERTIFICATES;\r\n");
    devices[1].enrollment_otp = mtls::secret_string(std::string(33, 'x'));
    CHECK_ERROR(prov::bulk_registration_csv(devices), mtls::errc::bulk_registration_invalid,
                "row 2 (dev-2): ENROLLMENT_OTP has 33 characters, more than the platform's 32");
    devices[1].enrollment_otp = mtls::secret_string(std::string("two words"));
    CHECK_ERROR(prov::bulk_registration_csv(devices), mtls::errc::bulk_registration_invalid,
                "row 2 (dev-2): ENROLLMENT_OTP holds a character that is not printable ASCII");
}

TEST_CASE("provisioning: the bulk registration CSV has the platform's columns, quoting, and names each invalid row")
{
    std::vector<prov::bulk_device> devices(2);
    devices[0].id = "dev-1";
    devices[1].id = "dev-2";
    CHECK(prov::bulk_registration_csv(devices) == "ID,AUTH_TYPE\r\ndev-1,CERTIFICATES\r\ndev-2,CERTIFICATES\r\n");

    devices[0].type = "c8y_Meter";
    devices[0].name = "Meter, hall \"A\"";
    devices[0].iccid = "8949";
    devices[1].tenant = "t123";
    CHECK(prov::bulk_registration_csv(devices) ==
          "ID,AUTH_TYPE,TENANT,TYPE,NAME,ICCID\r\n"
          "dev-1,CERTIFICATES,,c8y_Meter,\"Meter, hall \"\"A\"\"\",8949\r\n"
          "dev-2,CERTIFICATES,t123,,,\r\n");
    CHECK(prov::bulk_registration_csv(devices, ';') ==
          "ID;AUTH_TYPE;TENANT;TYPE;NAME;ICCID\r\n"
          "dev-1;CERTIFICATES;;c8y_Meter;\"Meter, hall \"\"A\"\"\";8949\r\n"
          "dev-2;CERTIFICATES;t123;;;\r\n");

    std::vector<prov::bulk_device> bad(4);
    bad[0].id = "ok-1";
    bad[1].id = "";
    bad[2].id = "d:dev";
    bad[3].id = "dev-4";
    bad[3].shell = "1";
    bad[3].type = "t";
    const auto e = mtls::test::thrown_by([&] { (void)prov::bulk_registration_csv(bad); });
    REQUIRE(e.has_value());
    CHECK(e->code() == mtls::errc::bulk_registration_invalid);
    CHECK(contains(e->detail(), "row 2: ID is required"));
    CHECK(contains(e->detail(), "row 3 (d:dev): ID 'd:dev' contains ':'"));
    CHECK(contains(e->detail(), "row 4 (dev-4): ICCID, IDTYPE, PATH and SHELL need TYPE and NAME too"));
    CHECK_FALSE(contains(e->detail(), "row 1"));
    CHECK_ERROR(prov::bulk_registration_csv(devices, '|'), mtls::errc::invalid_argument, "separator");
}
