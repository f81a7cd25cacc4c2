// chain_validator and c8y-mtls-doctor, on chains made at test time with the OpenSSL CLI by the
// platform guide's recipes: the verdict on every defect, the same corpus through `openssl
// verify`, and hostile input.
#include <c8y/mtls.hpp>
#include <c8y/mtls/detail/json.hpp>
#include <c8y/mtls/detail/x509_pem.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "support/chain_corpus.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"

#ifndef C8Y_TEST_DOCTOR_CLI
#error "C8Y_TEST_DOCTOR_CLI must name the c8y-mtls-doctor executable"
#endif

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace rule = c8y::mtls::chain_rule;
using mtls::test::chain_corpus;
using mtls::test::corpus;
using mtls::test::key_family;
using mtls::test::run_command;
using mtls::test::shell_quote;

namespace {

// The time every check of the corpus runs at, the same for the validator and for openssl verify:
// once the corpus is made, since its certificates are valid from the moment they were made.
std::chrono::sys_seconds now()
{
    static const std::chrono::sys_seconds time = [] {
        (void)corpus(key_family::rsa);
        return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    }();
    return time;
}

// One chain of the corpus and what the platform's rules say of it.
struct chain_case {
    const char* name;
    std::vector<std::string> chain;   // corpus names, leaf first
    std::vector<std::string> trusted; // uploaded certificates
    std::set<std::string_view> errors;
    std::set<std::string_view> warnings = {};
    // The rule that explains why `openssl verify` judges otherwise; empty: it agrees.
    std::string_view openssl_differs = {};
    std::string key = {};       // private key to check, by corpus name
    std::string client_id = {}; // "{device}" stands for the family's CN
    mtls::chain_profile profile = mtls::chain_profile::guide;
    std::optional<std::size_t> max_chain_length = std::nullopt;
    std::optional<key_family> only = std::nullopt;
};

const std::vector<chain_case>& cases()
{
    using P = mtls::chain_profile;
    static const std::vector<chain_case> all = {
        {"the guide's chain: device, uploaded CA; its key and client id", {"leaf", "root"}, {"root"}, {}, {}, {},
         "leaf", "d:{device}"},
        {"client id without connection type", {"leaf", "root"}, {"root"}, {}, {}, {}, {}, "{device}"},
        {"an intermediate, limit raised to 3", {"leaf_i", "inter", "root"}, {"root"}, {}, {}, {}, "leaf", {}, P::guide, 3},
        {"an intermediate under the public cloud's limit of 2", {"leaf_i", "inter", "root"}, {"root"},
         {rule::chain_length}, {}, rule::chain_length},
        {"an intermediate under the current profile's limit of 10", {"leaf_i", "inter", "root"}, {"root"}, {}, {}, {}, {},
         {}, P::current},
        {"the intermediate is the uploaded certificate", {"leaf_i", "inter", "root"}, {"inter"}, {}, {}, {}, {}, {},
         P::guide, 3},
        {"device certificate alone, guide", {"leaf"}, {"root"}, {rule::ca_included}, {}, rule::ca_included},
        {"device certificate alone, current", {"leaf"}, {"root"}, {}, {}, {}, {}, {}, P::current},
        {"uploaded CA missing below an intermediate, current", {"leaf_i", "inter"}, {"root"}, {rule::ca_included}, {},
         rule::ca_included, {}, {}, P::current},
        {"chain out of order", {"leaf_i", "root", "inter"}, {"root"}, {rule::order}, {}, rule::order, {}, {}, P::guide, 3},
        {"the uploaded CA twice", {"leaf", "root", "root"}, {"root"}, {rule::order}, {}, rule::order, {}, {}, P::guide, 3},
        {"the device certificate twice", {"leaf", "leaf", "root"}, {"root"}, {rule::order}, {}, rule::order, {}, {},
         P::guide, 3},
        {"a self-signed certificate in the middle", {"leaf", "rogue_root", "root"}, {"root"}, {rule::order}, {},
         rule::order, {}, {}, P::guide, 3},
        {"CN with ':'", {"leaf_colon", "root"}, {"root"}, {rule::common_name}, {}, rule::common_name},
        {"no CN", {"leaf_nocn", "root"}, {"root"}, {rule::common_name}, {}, rule::common_name},
        {"client id names another device", {"leaf", "root"}, {"root"}, {rule::client_id}, {}, rule::client_id, {},
         "d:someone-else"},
        {"client id malformed", {"leaf", "root"}, {"root"}, {rule::client_id}, {}, rule::client_id, {}, "d:a:b:c"},
        {"the key of another device", {"leaf", "root"}, {"root"}, {rule::private_key}, {}, rule::private_key,
         "other_leaf"},
        {"device certificate with CA:TRUE", {"leaf_ca", "root"}, {"root"}, {rule::leaf_not_ca}, {}, rule::leaf_not_ca},
        {"signed with SHA-1", {"leaf_sha1", "root"}, {"root"}, {rule::signature_hash}, {}, rule::signature_hash},
        {"signed with MD5", {"leaf_md5", "root"}, {"root"}, {rule::signature_hash}, {}, rule::signature_hash, {}, {},
         P::guide, std::nullopt, key_family::rsa},
        {"RSASSA-PSS with SHA-256", {"leaf_pss", "root"}, {"root"}, {}, {}, {}, {}, {}, P::guide, std::nullopt,
         key_family::rsa},
        {"weak key (RSA 1024, EC secp256k1)", {"leaf_weak", "root"}, {"root"}, {rule::key_strength}, {},
         rule::key_strength},
        {"a P-384 CA, ECDSA with SHA-384", {"leaf384", "root384"}, {"root384"}, {}, {}, {}, {}, {}, P::guide,
         std::nullopt, key_family::ec},
        {"expired", {"leaf_expired", "root"}, {"root"}, {rule::validity}},
        {"not yet valid", {"leaf_future", "root"}, {"root"}, {rule::validity}},
        {"expires within 30 days", {"leaf_soon", "root"}, {"root"}, {}, {rule::expires_soon}},
        {"version 1 intermediate", {"leaf_v1i", "inter_v1", "root"}, {"root"}, {rule::version, rule::ca_flag}, {}, {},
         {}, {}, P::guide, 3},
        {"version 1 uploaded CA", {"leaf_r1", "root_v1"}, {"root_v1"}, {rule::version, rule::ca_flag}, {},
         rule::version},
        {"intermediate with CA:FALSE", {"leaf_noca", "inter_noca", "root"}, {"root"}, {rule::ca_flag}, {}, {}, {}, {},
         P::guide, 3},
        {"intermediate without keyCertSign", {"leaf_noks", "inter_noks", "root"}, {"root"}, {rule::key_usage}, {}, {},
         {}, {}, P::guide, 3},
        {"pathlen:0 root above an intermediate", {"leaf_pl", "inter_pl", "root_pl0"}, {"root_pl0"}, {rule::path_length},
         {}, {}, {}, {}, P::guide, 3},
        {"pathlen:0 intermediate above the device", {"leaf_pl0", "inter_pl0", "root"}, {"root"}, {}, {}, {}, {}, {},
         P::guide, 3},
        {"CA made again: key identifiers differ", {"leaf_other", "root"}, {"root"}, {rule::order}},
        {"CA made again without key identifiers: the signature tells", {"leaf_noid", "root_noid"}, {"root_noid"},
         {rule::signature}},
        {"no key identifiers, the right CA", {"leaf_noid_ok", "root_noid"}, {"root_noid"}, {}},
        {"CA not uploaded", {"leaf_rogue", "rogue_root"}, {"root"}, {rule::trust}},
        {"uploaded CA of the same name, another key", {"leaf_other", "other_root"}, {"root"}, {rule::trust}},
    };
    return all;
}

std::string device_cn(key_family f) { return f == key_family::rsa ? "device-rsa" : "device-ec"; }

std::string with_device(std::string text, key_family f)
{
    const std::string placeholder = "{device}";
    if (const auto at = text.find(placeholder); at != std::string::npos)
        text.replace(at, placeholder.size(), device_cn(f));
    return text;
}

mtls::chain_validator_options options_of(const chain_case& c)
{
    mtls::chain_validator_options o;
    o.profile = c.profile;
    o.max_chain_length = c.max_chain_length;
    o.at = now();
    return o;
}

mtls::chain_report validate(const chain_corpus& k, const chain_case& c)
{
    const mtls::chain_validator validator(k.der(c.trusted), options_of(c));
    const auto chain = k.der(c.chain);
    mtls::secure_bytes key;
    if (!c.key.empty())
        key = k.private_key(c.key);
    std::optional<std::string> id;
    if (!c.client_id.empty())
        id = with_device(c.client_id, k.family());
    const std::optional<std::string_view> id_view = id ? std::optional<std::string_view>(*id) : std::nullopt;
    return validator.validate(chain, std::span<const unsigned char>(key.data(), key.size()), id_view);
}

std::set<std::string_view> rules_of(const mtls::chain_report& r, mtls::finding_severity s)
{
    std::set<std::string_view> out;
    for (const auto& f : r.findings())
        if (f.severity == s)
            out.insert(f.rule);
    return out;
}

std::string describe(const mtls::chain_report& r)
{
    std::string out;
    for (const auto& f : r.findings())
        out += "\n  " + std::string(f.rule) + " [" + (f.index ? std::to_string(*f.index) : "-") + "] " + f.message;
    return out.empty() ? " (no finding)" : out;
}

bool applies(const chain_case& c, key_family f) { return !c.only || *c.only == f; }

const std::vector<std::string_view> all_rules = {
    rule::parse,       rule::version,      rule::order,        rule::signature,    rule::ca_flag,
    rule::path_length, rule::key_usage,    rule::leaf_not_ca,  rule::trust,        rule::ca_included,
    rule::chain_length, rule::validity,    rule::expires_soon, rule::key_strength, rule::signature_hash,
    rule::common_name, rule::client_id,    rule::private_key,
};

// `openssl verify` on a case: the uploaded certificates as trust anchors (-partial_chain, as
// the guide's own check does), the rest of the chain as untrusted, at the same time.
bool openssl_accepts(const chain_corpus& k, const chain_case& c, std::string* output)
{
    const fs::path trusted = k.bundle("trusted", c.trusted);
    std::string cmd = "openssl verify -partial_chain -attime " + std::to_string(now().time_since_epoch().count()) +
                      " -CAfile " + shell_quote(trusted.string());
    if (c.chain.size() > 1) {
        const std::vector<std::string> rest(c.chain.begin() + 1, c.chain.end());
        cmd += " -untrusted " + shell_quote(k.bundle("untrusted", rest).string());
    }
    cmd += " " + shell_quote(k.pem(c.chain.front()).string()) + " 2>&1";
    int code = 0;
    *output = run_command(cmd, &code);
    return code == 0;
}

std::string doctor(const std::string& arguments, int* code)
{
    return run_command(std::string(C8Y_TEST_DOCTOR_CLI) + " " + arguments + " 2>&1", code);
}

struct fixed_clock {
    static inline std::chrono::sys_seconds time{};
    static std::chrono::system_clock::time_point now() { return time; }
};

std::vector<mtls::der_certificate> flipped(std::vector<mtls::der_certificate> chain, std::size_t which, std::size_t at)
{
    chain[which][at] ^= 0x01;
    return chain;
}

} // namespace

TEST_CASE("every chain of the corpus gets the platform's verdict, rule by rule, RSA and EC")
{
    for (const key_family family : {key_family::rsa, key_family::ec}) {
        const chain_corpus& k = corpus(family);
        for (const chain_case& c : cases()) {
            if (!applies(c, family))
                continue;
            INFO((std::string(mtls::test::family_name(family)) + ": " + c.name));
            const auto report = validate(k, c);
            INFO("findings:" << describe(report));
            CHECK(rules_of(report, mtls::finding_severity::error) == c.errors);
            CHECK(rules_of(report, mtls::finding_severity::warning) == c.warnings);
            CHECK(report.ok() == c.errors.empty());
            CHECK(report.certificates().size() == c.chain.size());
            for (const auto& f : report.findings()) {
                CHECK_FALSE(f.message.empty());
                if (f.index)
                    CHECK(f.subject == report.certificates()[*f.index].subject);
            }
        }
    }
}

TEST_CASE("every rule has a failing case and runs in a passing one, in both key families")
{
    for (const key_family family : {key_family::rsa, key_family::ec}) {
        std::set<std::string_view> failing;
        bool passing_case_with_key_and_client_id = false;
        for (const chain_case& c : cases()) {
            if (!applies(c, family))
                continue;
            failing.insert(c.errors.begin(), c.errors.end());
            failing.insert(c.warnings.begin(), c.warnings.end());
            passing_case_with_key_and_client_id |= c.errors.empty() && c.warnings.empty() && !c.key.empty() &&
                                                   !c.client_id.empty();
        }
        failing.insert(rule::parse); // its cases are made of bytes, below
        for (const auto r : all_rules) {
            INFO((std::string(mtls::test::family_name(family)) + ": " + std::string(r)));
            CHECK(failing.count(r) == 1);
        }
        CHECK(passing_case_with_key_and_client_id);
    }
}

TEST_CASE("differential: where openssl verify and the platform's rules agree, the validator agrees; "
          "where they differ by design, a named rule explains it")
{
    for (const key_family family : {key_family::rsa, key_family::ec}) {
        const chain_corpus& k = corpus(family);
        for (const chain_case& c : cases()) {
            if (!applies(c, family))
                continue;
            INFO((std::string(mtls::test::family_name(family)) + ": " + c.name));
            std::string output;
            const bool openssl_ok = openssl_accepts(k, c, &output);
            const auto report = validate(k, c);
            INFO("openssl verify: " << output << "validator:" << describe(report));
            if (c.openssl_differs.empty()) {
                CHECK(report.ok() == openssl_ok);
            } else {
                // OpenSSL accepts what the platform refuses, for the reason the rule names.
                CHECK(openssl_ok);
                CHECK_FALSE(report.ok());
                CHECK(report.has(c.openssl_differs));
            }
        }
    }
}

TEST_CASE("messages name the certificate and what to do")
{
    const chain_corpus& k = corpus(key_family::rsa);
    mtls::chain_validator_options o;
    o.at = now();
    const mtls::chain_validator validator(k.der({"root"}), o);

    const auto misordered = validator.validate(k.der({"leaf_i", "root", "inter"}));
    REQUIRE(misordered.first_error() != nullptr);
    CHECK(misordered.first_error()->rule == rule::order);
    CHECK(misordered.first_error()->index == 0u);
    CHECK(mtls::test::contains(misordered.first_error()->message, "certificate 2 is its signer"));

    const auto leaf_only = validator.validate(k.der({"leaf"}));
    REQUIRE(leaf_only.first_error() != nullptr);
    CHECK(leaf_only.first_error()->subject == "/O=Corpus/CN=RSA Root CA");
    CHECK(mtls::test::contains(leaf_only.first_error()->message, "append /O=Corpus/CN=RSA Root CA after certificate 0"));

    const auto expired = validator.validate(k.der({"leaf_expired", "root"}));
    REQUIRE(expired.first_error() != nullptr);
    CHECK(mtls::test::contains(expired.first_error()->message, "expired on 2021-01-01T00:00:00Z"));

    const auto rogue = validator.validate(k.der({"leaf_rogue", "rogue_root"}));
    REQUIRE(rogue.first_error() != nullptr);
    CHECK(mtls::test::contains(rogue.first_error()->message, "/O=Rogue/CN=RSA Rogue CA"));
    CHECK(mtls::test::contains(rogue.first_error()->message, "upload it"));

    const mtls::error e = expired.to_error();
    CHECK(e.code() == mtls::errc::chain_rejected);
    CHECK(e.detail().rfind("validity: certificate 0 (/CN=device-rsa): certificate 0 expired on", 0) == 0);
    CHECK_ERROR(expired.throw_if_rejected(), mtls::errc::chain_rejected, "validity");
    CHECK_NOTHROW(validator.validate(k.der({"leaf", "root"})).throw_if_rejected());
}

TEST_CASE("the report as JSON is one valid object with every finding")
{
    const chain_corpus& k = corpus(key_family::ec);
    mtls::chain_validator_options o;
    o.at = now();
    const auto report = mtls::chain_validator(k.der({"root"}), o).validate(k.der({"leaf_colon", "root"}));
    const std::string json = report.to_json();
    const auto object = mtls::detail::parse_json_object(json);
    REQUIRE(object.has_value());
    CHECK(mtls::detail::json_member_of(json, "ok")->raw == "false");
    CHECK(mtls::detail::json_member_of(json, "profile")->text == "guide");
    CHECK(mtls::detail::json_member_of(json, "errors")->raw == "1");
    CHECK(mtls::test::contains(json, R"("rule":"common-name","severity":"error","index":0,"subject":"/CN=device-ec:1")"));
    CHECK(mtls::test::contains(json, R"("key":"EC P-256")"));
}

TEST_CASE("validity is judged at Clock::now() unless a time is given, with a configurable margin")
{
    const chain_corpus& k = corpus(key_family::ec);
    const auto chain = k.der({"leaf", "root"});

    fixed_clock::time = std::chrono::sys_days(std::chrono::year(2100) / 1 / 1);
    const auto in_2100 = mtls::basic_chain_validator<mtls::wolfssl_crypto, fixed_clock>(k.der({"root"})).validate(chain);
    CHECK(in_2100.checked_at() == fixed_clock::time);
    CHECK(in_2100.has(rule::validity));
    CHECK(mtls::test::contains(in_2100.first_error()->message, "expired"));

    fixed_clock::time = std::chrono::sys_days(std::chrono::year(1970) / 1 / 1);
    const auto in_1970 = mtls::basic_chain_validator<mtls::wolfssl_crypto, fixed_clock>(k.der({"root"})).validate(chain);
    CHECK(mtls::test::contains(in_1970.first_error()->message, "check the device's clock"));

    mtls::chain_validator_options o;
    o.at = now();
    o.expiry_margin = std::chrono::days(400);
    const auto margin = mtls::basic_chain_validator<mtls::wolfssl_crypto, fixed_clock>(k.der({"root"}), o).validate(chain);
    CHECK(margin.checked_at() == now());
    CHECK(margin.ok());
    CHECK(margin.has(rule::expires_soon, mtls::finding_severity::warning));
}

TEST_CASE("without uploaded certificates the rules that need them are skipped")
{
    const chain_corpus& k = corpus(key_family::rsa);
    mtls::chain_validator_options o;
    o.at = now();
    const mtls::chain_validator validator({}, o);
    const auto rogue = validator.validate(k.der({"leaf_rogue", "rogue_root"}));
    CHECK(rogue.ok());
    CHECK_FALSE(rogue.checked_trust());
    // The guide's profile still knows that a device certificate alone holds no CA.
    CHECK(validator.validate(k.der({"leaf"})).has(rule::ca_included));
    o.profile = mtls::chain_profile::current;
    CHECK(mtls::chain_validator({}, o).validate(k.der({"leaf"})).ok());
}

TEST_CASE("validate_credentials: what connect() runs on loaded credentials")
{
    const chain_corpus& k = corpus(key_family::rsa);
    const auto device = mtls::credentials::from_pem_files(k.dir() / "leaf_chain.pem", k.key("leaf_enc"), "key-pass");
    CHECK(mtls::validate_credentials(device).ok());
    CHECK(mtls::validate_credentials(device, "d:device-rsa").ok());

    const auto wrong_id = mtls::validate_credentials(device, "d:device-0002");
    CHECK_ERROR(wrong_id.throw_if_rejected(), mtls::errc::chain_rejected, "client-id: certificate 0 (/CN=device-rsa)");

    const auto mismatched = mtls::credentials::from_pem(mtls::test::read_text(k.dir() / "leaf_chain.pem"),
                                                        mtls::test::read_text(k.key("other_leaf")));
    CHECK(mtls::validate_credentials(mismatched).has(rule::private_key));

    const auto leaf_only = mtls::credentials::from_pem(mtls::test::read_text(k.pem("leaf")),
                                                       mtls::test::read_text(k.key("leaf")));
    CHECK_ERROR(mtls::validate_credentials(leaf_only).throw_if_rejected(), mtls::errc::chain_rejected,
                "ca-included");
    mtls::chain_validator_options current;
    current.profile = mtls::chain_profile::current;
    CHECK(mtls::validate_credentials(leaf_only, std::nullopt, current).ok());

    const auto keystore = mtls::credentials::from_pkcs12_file(k.dir() / "leaf.p12", "keystore-pass");
    CHECK(mtls::validate_credentials(keystore, "device-rsa").ok());
}

TEST_CASE("hostile input: truncated and garbage DER are findings, never crashes")
{
    const chain_corpus& k = corpus(key_family::ec);
    mtls::chain_validator_options o;
    o.at = now();
    const mtls::chain_validator validator(k.der({"root"}), o);
    const auto good = k.der({"leaf", "root"});
    for (std::size_t size = 0; size < good[0].size(); ++size) {
        auto chain = good;
        chain[0].resize(size);
        const auto report = validator.validate(chain);
        INFO("leaf cut to " << size << " bytes");
        CHECK(report.has(rule::parse));
        CHECK_FALSE(report.certificates()[0].parsed);
    }
    for (const std::string& garbage : {std::string(), std::string("\x30\x80\x00\x00", 4), std::string("\x30\x84\xff\xff\xff\xff", 6),
                                      std::string(300, '\xff'), std::string("not a certificate at all")}) {
        const std::vector<mtls::der_certificate> chain = {mtls::der_certificate(garbage.begin(), garbage.end()), good[1]};
        CHECK(validator.validate(chain).has(rule::parse));
    }
    CHECK(validator.validate(std::vector<mtls::der_certificate>{}).has(rule::parse));

    const std::string junk = "junk";
    CHECK_ERROR(mtls::chain_validator({mtls::der_certificate(junk.begin(), junk.end())}),
                mtls::errc::trusted_certificate_malformed, "uploaded certificate 1 of 1");
}

TEST_CASE("hostile input: any byte changed in the device certificate gets the chain refused")
{
    for (const key_family family : {key_family::rsa, key_family::ec}) {
        const chain_corpus& k = corpus(family);
        mtls::chain_validator_options o;
        o.at = now();
        const mtls::chain_validator validator(k.der({"root"}), o);
        const auto good = k.der({"leaf", "root"});
        REQUIRE(validator.validate(good).ok());
        std::size_t accepted = 0;
        for (std::size_t at = 0; at < good[0].size(); ++at)
            accepted += validator.validate(flipped(good, 0, at)).ok() ? 1 : 0;
        INFO(std::string(mtls::test::family_name(family)));
        CHECK(accepted == 0);
    }
}

TEST_CASE("hostile input: truncated and garbage PEM name the block and the cause")
{
    const std::string pem = mtls::test::read_text(corpus(key_family::rsa).pem("leaf"));
    CHECK_ERROR(mtls::detail::pem_certificates(pem.substr(0, pem.size() / 2), "half.pem"), mtls::errc::pem_malformed,
                "half.pem: 'CERTIFICATE' block has no END line");
    std::string broken = pem;
    broken[40] = '*';
    CHECK_ERROR(mtls::detail::pem_certificates(broken, "broken.pem"), mtls::errc::pem_malformed,
                "broken.pem: certificate 1 (PEM block 1): base64 broken");
    CHECK_ERROR(mtls::detail::pem_certificates("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "empty.pem"),
                mtls::errc::pem_malformed, "the block is empty");
    CHECK(mtls::detail::pem_certificates("no PEM here", "x").empty());
    // Base64 of bytes that are no certificate: the loader passes them on, the validator says so.
    const auto not_x509 = mtls::detail::pem_certificates(
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", "x");
    REQUIRE(not_x509.size() == 1);
    CHECK(mtls::chain_validator().validate(not_x509).has(rule::parse));
}

TEST_CASE("hostile input: a PKCS#12 keystore with a wrong password")
{
    const chain_corpus& k = corpus(key_family::ec);
    CHECK_ERROR(mtls::credentials::from_pkcs12_file(k.dir() / "leaf.p12", "wrong"), mtls::errc::pkcs12_password_wrong,
                "leaf.p12");
}

TEST_CASE("hostile input: a chain of 100 certificates")
{
    const auto& chain = chain_corpus::chain_of_100();
    REQUIRE(chain.size() == 100);
    mtls::chain_validator_options o; // at the clock's now: the chain was made after `now`
    o.profile = mtls::chain_profile::current;
    const mtls::chain_validator validator({chain.back()}, o);
    const auto report = validator.validate(chain);
    INFO("findings:" << describe(report));
    CHECK(report.has(rule::chain_length));
    CHECK(report.has(rule::path_length)); // pathlen:10 of the guide's v3_ca, exceeded
    CHECK_FALSE(report.has(rule::order));
    CHECK_FALSE(report.has(rule::signature));
    CHECK_FALSE(report.has(rule::trust));
    o.max_chain_length = 100;
    CHECK(rules_of(mtls::chain_validator({chain.back()}, o).validate(chain), mtls::finding_severity::error) ==
          std::set<std::string_view>{rule::path_length});
}

TEST_CASE("c8y-mtls-doctor: verdict, table, JSON and exit codes")
{
    const chain_corpus& k = corpus(key_family::rsa);
    const std::string trusted = " --trusted " + shell_quote(k.pem("root").string());
    const std::string good = " --chain " + shell_quote(k.dir().string() + "/leaf_chain.pem");
    int code = -1;

    std::string out = doctor(good + trusted + " --client-id d:device-rsa", &code);
    CHECK(code == 0);
    CHECK(mtls::test::contains(out, "verdict: the platform would accept this chain (0 errors, 0 warnings)"));
    CHECK(mtls::test::contains(out, "/CN=device-rsa"));

    out = doctor(good + trusted + " --key " + shell_quote(k.key("leaf_enc").string()) +
                     " --key-password-env C8Y_DOCTOR_KEY_PASS --json",
                 &code);
    CHECK(code == 2); // the variable is not set
    CHECK(mtls::test::contains(out, "C8Y_DOCTOR_KEY_PASS is not set"));
    out = run_command("C8Y_DOCTOR_KEY_PASS=key-pass " + std::string(C8Y_TEST_DOCTOR_CLI) + good + trusted + " --key " +
                          shell_quote(k.key("leaf_enc").string()) + " --key-password-env C8Y_DOCTOR_KEY_PASS --json",
                      &code);
    CHECK(code == 0);
    CHECK(mtls::detail::parse_json_object(out).has_value());

    out = doctor(good + trusted + " --key " + shell_quote(k.key("other_leaf").string()) + " --json", &code);
    CHECK(code == 1);
    CHECK(mtls::test::contains(out, R"("rule":"private-key")"));

    out = doctor(" --chain " + shell_quote(k.pem("leaf").string()) + trusted, &code);
    CHECK(code == 1);
    CHECK(mtls::test::contains(out, "ca-included"));
    CHECK(mtls::test::contains(out, "verdict: the platform would refuse this chain (1 error, 0 warnings)"));
    doctor(" --chain " + shell_quote(k.pem("leaf").string()) + trusted + " --profile current", &code);
    CHECK(code == 0);

    const std::string three = " --chain " + shell_quote(k.bundle("three", {"leaf_i", "inter", "root"}).string());
    out = doctor(three + trusted, &code);
    CHECK(code == 1);
    CHECK(mtls::test::contains(out, "chain-length"));
    doctor(three + trusted + " --max-chain-length 3", &code);
    CHECK(code == 0);

    out = doctor(good + trusted + " --at 2030-01-01T00:00:00Z", &code);
    CHECK(code == 1);
    CHECK(mtls::test::contains(out, "checked at 2030-01-01T00:00:00Z"));
    CHECK(mtls::test::contains(out, "validity"));
    out = doctor(good + trusted + " --expiry-margin-days 400", &code);
    CHECK(code == 0);
    CHECK(mtls::test::contains(out, "expires-soon"));

    out = run_command("C8Y_DOCTOR_P12=keystore-pass " + std::string(C8Y_TEST_DOCTOR_CLI) + " --keystore " +
                          shell_quote((k.dir() / "leaf.p12").string()) + " --password-env C8Y_DOCTOR_P12" + trusted,
                      &code);
    CHECK(code == 0);
    out = run_command("C8Y_DOCTOR_P12=wrong " + std::string(C8Y_TEST_DOCTOR_CLI) + " --keystore " +
                          shell_quote((k.dir() / "leaf.p12").string()) + " --password-env C8Y_DOCTOR_P12" + trusted +
                          " 2>&1",
                      &code);
    CHECK(code == 2);
    CHECK(mtls::test::contains(out, "wrong password"));

    // Bad arguments and unreadable input.
    for (const std::string& args : {std::string(""), good, good + trusted + " --profile cloud",
                                   good + trusted + " --at yesterday", good + trusted + " --max-chain-length 0",
                                   good + trusted + " --bogus", trusted + " --keystore x.p12",
                                   " --chain /nonexistent/chain.pem" + trusted,
                                   good + " --trusted /nonexistent/ca.pem",
                                   good + " --trusted " + shell_quote(k.key("leaf").string())}) {
        INFO("arguments:" << args);
        doctor(args, &code);
        CHECK(code == 2);
    }
    // What is not a regular file is named, and never read (a FIFO nobody writes would block);
    // PEM armour around base64 that is not DER is undecodable input too.
    const fs::path not_der = k.dir() / "not-der.pem";
    std::ofstream(not_der) << "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    const fs::path fifo = k.dir() / "a-fifo";
    fs::remove(fifo);
    run_command("mkfifo " + shell_quote(fifo.string()));
    const std::string not_der_chain = " --chain " + shell_quote(not_der.string());
    for (const auto& [args, named] : {std::pair{" --chain " + shell_quote(k.dir().string()) + trusted,
                                                k.dir().string() + ": is a directory, not a file"},
                                      std::pair{" --chain " + shell_quote(fifo.string()) + trusted,
                                                fifo.string() + ": is a FIFO (named pipe), not a regular file"},
                                      std::pair{good + " --trusted /dev/zero", std::string("/dev/zero: is a device")},
                                      std::pair{not_der_chain + trusted, not_der.string() + ": certificate 0 is not DER X.509"}}) {
        INFO("arguments:" << args);
        const std::string out = doctor(args, &code);
        CHECK(code == 2);
        CHECK_MESSAGE(mtls::test::contains(out, named), out);
    }
}
