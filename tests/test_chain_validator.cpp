// chain_validator and c8y-mtls-doctor, on chains made at test time with the OpenSSL CLI by the
// platform guide's recipes: the verdict on every defect, the same corpus through `openssl
// verify` and through the JDK's PKIX validator (the platform's engine), and hostile input.
#include <c8y/mtls.hpp>
#include <c8y/mtls/detail/json.hpp>
#include <c8y/mtls/detail/server_certificate.hpp>
#include <c8y/mtls/detail/x509_pem.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/chain_corpus.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"

#ifndef C8Y_TEST_DOCTOR_CLI
#error "C8Y_TEST_DOCTOR_CLI must name the c8y-mtls-doctor executable"
#endif
#ifndef C8Y_TEST_SUPPORT_DIR
#error "C8Y_TEST_SUPPORT_DIR must name tests/support (PkixVerdict.java)"
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
    // The rule that explains why the JDK's PKIX validator accepts what the guide's rules refuse;
    // empty: it agrees.
    std::string_view jdk_differs = {};
    // True when that rule is one of the platform's own (PLATFORM.md: the CN, the client id, the
    // uploaded CA in the chain, the chain's length, the key that signs the handshake), which
    // refuses the chain whatever the JDK says; false when only the guide refuses it.
    bool platform_rule = false;
};

const std::vector<chain_case>& cases()
{
    using P = mtls::chain_profile;
    static const std::vector<chain_case> all = {
        {"the guide's chain: device, uploaded CA; its key and client id", {"leaf", "root"}, {"root"}, {}, {}, {},
         "leaf", "d:{device}"},
        {"client id without connection type", {"leaf", "root"}, {"root"}, {}, {}, {}, {}, "{device}"},
        {"an intermediate, limit raised to 3", {"leaf_i", "inter", "root"}, {"root"}, {}, {}, {}, "leaf", {}, P::guide, 3},
        {.name = "an intermediate under the public cloud's limit of 2", .chain = {"leaf_i", "inter", "root"},
         .trusted = {"root"}, .errors = {rule::chain_length}, .openssl_differs = rule::chain_length,
         .jdk_differs = rule::chain_length, .platform_rule = true},
        {"an intermediate under the current profile's limit of 10", {"leaf_i", "inter", "root"}, {"root"}, {}, {}, {}, {},
         {}, P::current},
        {"the intermediate is the uploaded certificate", {"leaf_i", "inter", "root"}, {"inter"}, {}, {}, {}, {}, {},
         P::guide, 3},
        {.name = "device certificate alone, guide", .chain = {"leaf"}, .trusted = {"root"}, .errors = {rule::ca_included},
         .openssl_differs = rule::ca_included, .jdk_differs = rule::ca_included, .platform_rule = true},
        {"device certificate alone, current", {"leaf"}, {"root"}, {}, {}, {}, {}, {}, P::current},
        {.name = "uploaded CA missing below an intermediate, current", .chain = {"leaf_i", "inter"}, .trusted = {"root"},
         .errors = {rule::ca_included}, .openssl_differs = rule::ca_included, .profile = P::current,
         .jdk_differs = rule::ca_included, .platform_rule = true},
        {"chain out of order", {"leaf_i", "root", "inter"}, {"root"}, {rule::order}, {}, rule::order, {}, {}, P::guide, 3},
        {.name = "the uploaded CA twice", .chain = {"leaf", "root", "root"}, .trusted = {"root"}, .errors = {rule::order},
         .openssl_differs = rule::order, .max_chain_length = 3, .jdk_differs = rule::order},
        {"the device certificate twice", {"leaf", "leaf", "root"}, {"root"}, {rule::order}, {}, rule::order, {}, {},
         P::guide, 3},
        {"a self-signed certificate in the middle", {"leaf", "rogue_root", "root"}, {"root"}, {rule::order}, {},
         rule::order, {}, {}, P::guide, 3},
        {.name = "CN with ':'", .chain = {"leaf_colon", "root"}, .trusted = {"root"}, .errors = {rule::common_name},
         .openssl_differs = rule::common_name, .jdk_differs = rule::common_name, .platform_rule = true},
        {.name = "no CN", .chain = {"leaf_nocn", "root"}, .trusted = {"root"}, .errors = {rule::common_name},
         .openssl_differs = rule::common_name, .jdk_differs = rule::common_name, .platform_rule = true},
        {.name = "client id names another device", .chain = {"leaf", "root"}, .trusted = {"root"},
         .errors = {rule::client_id}, .openssl_differs = rule::client_id, .client_id = "d:someone-else",
         .jdk_differs = rule::client_id, .platform_rule = true},
        {.name = "client id malformed", .chain = {"leaf", "root"}, .trusted = {"root"}, .errors = {rule::client_id},
         .openssl_differs = rule::client_id, .client_id = "d:a:b:c", .jdk_differs = rule::client_id,
         .platform_rule = true},
        {.name = "the key of another device", .chain = {"leaf", "root"}, .trusted = {"root"},
         .errors = {rule::private_key}, .openssl_differs = rule::private_key, .key = "other_leaf",
         .jdk_differs = rule::private_key, .platform_rule = true},
        {.name = "device certificate with CA:TRUE", .chain = {"leaf_ca", "root"}, .trusted = {"root"},
         .errors = {rule::leaf_not_ca}, .openssl_differs = rule::leaf_not_ca, .jdk_differs = rule::leaf_not_ca},
        {.name = "signed with SHA-1", .chain = {"leaf_sha1", "root"}, .trusted = {"root"},
         .errors = {rule::signature_hash}, .openssl_differs = rule::signature_hash, .jdk_differs = rule::signature_hash},
        {"signed with MD5", {"leaf_md5", "root"}, {"root"}, {rule::signature_hash}, {}, rule::signature_hash, {}, {},
         P::guide, std::nullopt, key_family::rsa},
        {"RSASSA-PSS with SHA-256", {"leaf_pss", "root"}, {"root"}, {}, {}, {}, {}, {}, P::guide, std::nullopt,
         key_family::rsa},
        // The JDK takes RSA 1024 and cannot use secp256k1, so the handshake's signature fails.
        {.name = "weak key (RSA 1024)", .chain = {"leaf_weak", "root"}, .trusted = {"root"},
         .errors = {rule::key_strength}, .openssl_differs = rule::key_strength, .only = key_family::rsa,
         .jdk_differs = rule::key_strength},
        {.name = "weak key (EC secp256k1)", .chain = {"leaf_weak", "root"}, .trusted = {"root"},
         .errors = {rule::key_strength}, .openssl_differs = rule::key_strength, .only = key_family::ec,
         .jdk_differs = rule::key_strength, .platform_rule = true},
        {"a P-384 CA, ECDSA with SHA-384", {"leaf384", "root384"}, {"root384"}, {}, {}, {}, {}, {}, P::guide,
         std::nullopt, key_family::ec},
        {"expired", {"leaf_expired", "root"}, {"root"}, {rule::validity}},
        {"not yet valid", {"leaf_future", "root"}, {"root"}, {rule::validity}},
        {"expires within 30 days", {"leaf_soon", "root"}, {"root"}, {}, {rule::expires_soon}},
        {"version 1 intermediate", {"leaf_v1i", "inter_v1", "root"}, {"root"}, {rule::version, rule::ca_flag}, {}, {},
         {}, {}, P::guide, 3},
        {.name = "version 1 uploaded CA", .chain = {"leaf_r1", "root_v1"}, .trusted = {"root_v1"},
         .errors = {rule::version, rule::ca_flag}, .openssl_differs = rule::version, .jdk_differs = rule::version,
         .platform_rule = true},
        {"intermediate with CA:FALSE", {"leaf_noca", "inter_noca", "root"}, {"root"}, {rule::ca_flag}, {}, {}, {}, {},
         P::guide, 3},
        {"intermediate without keyCertSign", {"leaf_noks", "inter_noks", "root"}, {"root"}, {rule::key_usage}, {}, {},
         {}, {}, P::guide, 3},
        // The JDK does not apply the anchor's pathlen; RFC 5280 leaves it to the relying party.
        {.name = "pathlen:0 root above an intermediate", .chain = {"leaf_pl", "inter_pl", "root_pl0"},
         .trusted = {"root_pl0"}, .errors = {rule::path_length}, .max_chain_length = 3,
         .jdk_differs = rule::path_length},
        {"pathlen:0 intermediate above the device", {"leaf_pl0", "inter_pl0", "root"}, {"root"}, {}, {}, {}, {}, {},
         P::guide, 3},
        {"CA made again: key identifiers differ", {"leaf_other", "root"}, {"root"}, {rule::order}},
        {"CA made again without key identifiers: the signature tells", {"leaf_noid", "root_noid"}, {"root_noid"},
         {rule::signature}},
        {"no key identifiers, the right CA", {"leaf_noid_ok", "root_noid"}, {"root_noid"}, {}},
        {"CA not uploaded", {"leaf_rogue", "rogue_root"}, {"root"}, {rule::trust}},
        {"uploaded CA of the same name, another key", {"leaf_other", "other_root"}, {"root"}, {rule::trust}},
        // What the JDK's PKIX validator and RFC 5280 judge.
        {.name = "an unknown critical extension on the device certificate", .chain = {"leaf_crit", "root"},
         .trusted = {"root"}, .errors = {rule::critical_extension}},
        {.name = "an unknown critical extension on an intermediate", .chain = {"leaf_icrit", "inter_crit", "root"},
         .trusted = {"root"}, .errors = {rule::critical_extension}, .max_chain_length = 3},
        {.name = "an unknown critical extension on the uploaded CA", .chain = {"leaf_rcrit", "root_crit"},
         .trusted = {"root_crit"}, .errors = {}, .warnings = {rule::critical_extension},
         .openssl_differs = rule::critical_extension},
        {.name = "an extension twice", .chain = {"leaf_dup", "root"}, .trusted = {"root"},
         .errors = {rule::duplicate_extension}, .openssl_differs = rule::duplicate_extension},
        {.name = "authorityInfoAccess marked critical", .chain = {"leaf_aia_crit", "root"}, .trusted = {"root"},
         .errors = {rule::aia_critical}},
        {.name = "authorityInfoAccess malformed", .chain = {"leaf_aia_bad", "root"}, .trusted = {"root"}, .errors = {},
         .warnings = {rule::aia_malformed}},
        {.name = "pathlen on the device certificate", .chain = {"leaf_pathlen", "root"}, .trusted = {"root"},
         .errors = {}, .warnings = {rule::leaf_path_length}},
        {.name = "a self-issued intermediate (key rollover) under pathlen:0",
         .chain = {"leaf_si0", "inter_pl0_new", "inter_pl0", "root"}, .trusted = {"root"}, .errors = {},
         .max_chain_length = 4},
        {.name = "a self-issued intermediate under pathlen:1, the chain as long as it allows",
         .chain = {"leaf_si1", "inter_pl1b_new", "inter_pl1b", "inter_pl1", "root"}, .trusted = {"root"}, .errors = {},
         .max_chain_length = 5},
        {.name = "a CA under a pathlen:0 intermediate", .chain = {"leaf_upl0", "inter_upl0", "inter_pl0", "root"},
         .trusted = {"root"}, .errors = {rule::path_length}, .max_chain_length = 4},
        {.name = "an intermediate whose basicConstraints is not critical", .chain = {"leaf_bcnc", "inter_bcnc", "root"},
         .trusted = {"root"}, .errors = {}, .warnings = {rule::basic_constraints_critical}, .max_chain_length = 3},
        {.name = "keyCertSign on the device certificate", .chain = {"leaf_kcs", "root"}, .trusted = {"root"},
         .errors = {}, .warnings = {rule::leaf_key_usage}},
        {.name = "a version 1 device certificate", .chain = {"leaf_v1", "root"}, .trusted = {"root"}, .errors = {}},
        {.name = "an RSA modulus of 2050 bits", .chain = {"leaf_odd", "root"}, .trusted = {"root"}, .errors = {},
         .only = key_family::rsa},
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

mtls::chain_report validate(const chain_corpus& k, const chain_case& c,
                            mtls::chain_verdict verdict = mtls::chain_verdict::guide, bool with_trusted = true)
{
    auto options = options_of(c);
    options.verdict = verdict;
    const mtls::chain_validator validator(with_trusted ? k.der(c.trusted) : std::vector<mtls::der_certificate>{},
                                          options);
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
        out += "\n  " + std::string(f.rule) + " [" + (f.index ? std::to_string(*f.index) : "-") + "] " +
               (f.severity == mtls::finding_severity::error ? "error" : "warning") + " (" +
               std::string(mtls::basis_name(f.basis)) + ") " + f.message;
    return out.empty() ? " (no finding)" : out;
}

bool applies(const chain_case& c, key_family f) { return !c.only || *c.only == f; }

const std::vector<std::string_view> all_rules = {
    rule::parse,       rule::version,      rule::order,        rule::signature,    rule::ca_flag,
    rule::path_length, rule::key_usage,    rule::leaf_not_ca,  rule::trust,        rule::ca_included,
    rule::chain_length, rule::validity,    rule::expires_soon, rule::key_strength, rule::signature_hash,
    rule::common_name, rule::client_id,    rule::private_key,  rule::critical_extension, rule::duplicate_extension,
    rule::aia_critical, rule::aia_malformed, rule::basic_constraints_critical, rule::leaf_key_usage,
    rule::leaf_path_length,
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

// The JDK's verdict on one case: tests/support/PkixVerdict.java, compiled once, judges every
// case of both families in one run of the JVM.
struct jdk_verdict {
    bool accepted = false;
    std::string reason;
};

std::string case_key(key_family f, const chain_case& c) { return std::string(mtls::test::family_name(f)) + ": " + c.name; }

const std::map<std::string, jdk_verdict>& jdk_verdicts()
{
    static const std::map<std::string, jdk_verdict> verdicts = [] {
        const fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "jdk";
        fs::remove_all(dir);
        fs::create_directories(dir);
        run_command("javac -d " + shell_quote(dir.string()) + " " +
                    shell_quote(std::string(C8Y_TEST_SUPPORT_DIR) + "/PkixVerdict.java") + " 2>&1");
        std::ofstream table(dir / "cases.tsv");
        std::size_t n = 0;
        for (const key_family family : {key_family::rsa, key_family::ec}) {
            const chain_corpus& k = corpus(family);
            for (const chain_case& c : cases()) {
                if (!applies(c, family))
                    continue;
                const std::string id = "jdk-" + std::to_string(n++);
                table << case_key(family, c) << '\t' << now().time_since_epoch().count() << '\t'
                      << k.bundle(id + "-trusted", c.trusted).string() << '\t' << k.bundle(id + "-chain", c.chain).string()
                      << '\n';
            }
        }
        table.close();
        std::map<std::string, jdk_verdict> out;
        std::istringstream answers(run_command("java -cp " + shell_quote(dir.string()) + " PkixVerdict " +
                                               shell_quote((dir / "cases.tsv").string()) + " 2>&1"));
        for (std::string line; std::getline(answers, line);) {
            const auto name_end = line.find('\t');
            const auto verdict_end = line.find('\t', name_end + 1);
            if (name_end == std::string::npos || verdict_end == std::string::npos)
                throw std::runtime_error("PkixVerdict answered '" + line + "'");
            out[line.substr(0, name_end)] = {line.substr(name_end + 1, verdict_end - name_end - 1) == "accept",
                                             line.substr(verdict_end + 1)};
        }
        if (out.size() != n)
            throw std::runtime_error("PkixVerdict judged " + std::to_string(out.size()) + " of " + std::to_string(n) +
                                     " cases");
        return out;
    }();
    return verdicts;
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
                // OpenSSL accepts what the platform refuses, or refuses what the platform accepts
                // (with a warning), for the reason the rule names.
                CHECK(report.ok() != openssl_ok);
                CHECK(report.has(c.openssl_differs, report.ok() ? mtls::finding_severity::warning
                                                                : mtls::finding_severity::error));
            }
        }
    }
}

bool has_error_of(const mtls::chain_report& r, mtls::finding_basis basis)
{
    return std::any_of(r.findings().begin(), r.findings().end(), [&](const mtls::chain_finding& f) {
        return f.severity == mtls::finding_severity::error && f.basis == basis;
    });
}

TEST_CASE("differential: the JDK's PKIX validator, the platform's engine, agrees with the validator; where they "
          "differ, a rule of the platform's own or of the guide explains it")
{
    for (const key_family family : {key_family::rsa, key_family::ec}) {
        const chain_corpus& k = corpus(family);
        for (const chain_case& c : cases()) {
            if (!applies(c, family))
                continue;
            const jdk_verdict& jdk = jdk_verdicts().at(case_key(family, c));
            const auto guide = validate(k, c);
            const auto platform = validate(k, c, mtls::chain_verdict::platform);
            INFO(case_key(family, c));
            INFO("JDK: " << (jdk.accepted ? "accepts" : "refuses") << " (" << jdk.reason << ")");
            INFO("guide's verdict:" << describe(guide));
            INFO("platform's verdict:" << describe(platform));
            if (c.jdk_differs.empty()) {
                CHECK(guide.ok() == jdk.accepted);
            } else {
                CHECK(jdk.accepted);
                CHECK_FALSE(guide.ok());
                CHECK(guide.has(c.jdk_differs));
            }
            // A refusal the validator ascribes to the JDK is one the JDK makes, and the other way round.
            CHECK(has_error_of(platform, mtls::finding_basis::pkix) == !jdk.accepted);
            // Under the platform's verdict the validator refuses what the JDK refuses and what the
            // platform's own rules refuse, nothing else.
            const bool own_rule = c.platform_rule;
            CHECK(platform.ok() == (jdk.accepted && !own_rule));
            if (own_rule)
                CHECK(platform.has(c.jdk_differs));
            // connect() knows no uploaded certificate: it refuses nothing the platform accepts.
            const auto offline = validate(k, c, mtls::chain_verdict::platform, false);
            INFO("connect()'s verdict:" << describe(offline));
            if (jdk.accepted && !own_rule)
                CHECK(offline.ok());
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

TEST_CASE("extensions: what the platform's parser and validator refuse is named with its OID, once per certificate")
{
    const chain_corpus& k = corpus(key_family::ec);
    mtls::chain_validator_options o;
    o.at = now();
    o.max_chain_length = 3;
    const mtls::chain_validator validator(k.der({"root"}), o);

    const auto critical = validator.validate(k.der({"leaf_crit", "root"}));
    REQUIRE(critical.first_error() != nullptr);
    CHECK(critical.first_error()->rule == rule::critical_extension);
    CHECK(critical.first_error()->basis == mtls::finding_basis::pkix);
    CHECK(mtls::test::contains(critical.first_error()->message, "1.3.6.1.4.1.99999.1 marked critical"));

    const auto on_intermediate = validator.validate(k.der({"leaf_icrit", "inter_crit", "root"}));
    REQUIRE(on_intermediate.first_error() != nullptr);
    CHECK(on_intermediate.first_error()->index == 1u);

    const auto twice = validator.validate(k.der({"leaf_dup", "root"}));
    REQUIRE(twice.first_error() != nullptr);
    CHECK(twice.first_error()->rule == rule::duplicate_extension);
    CHECK(mtls::test::contains(twice.first_error()->message, "the extension 1.3.6.1.4.1.99999.2 twice"));
    CHECK(twice.error_count() == 1);

    const auto aia = validator.validate(k.der({"leaf_aia_crit", "root"}));
    REQUIRE(aia.first_error() != nullptr);
    CHECK(aia.first_error()->rule == rule::aia_critical);
    CHECK(aia.error_count() == 1); // named once, not also as an unknown critical extension
    CHECK(mtls::test::contains(aia.first_error()->message, "RFC 5280 4.2.2.1"));

    // The uploaded CA's critical extension is the JDK's business no more: a warning, both verdicts.
    const auto anchor = mtls::chain_validator(k.der({"root_crit"}), o).validate(k.der({"leaf_rcrit", "root_crit"}));
    CHECK(anchor.ok());
    CHECK(anchor.has(rule::critical_extension, mtls::finding_severity::warning));
    CHECK(mtls::test::contains(anchor.findings().front().message, "does not read the uploaded CA's extensions"));

    // A server's chain with an extension twice is not trusted either.
    const auto dup = k.der({"leaf_dup"});
    const mtls::detail::byte_view server_chain[] = {dup[0]};
    const auto e = mtls::detail::check_server_certificates(server_chain, "", false);
    REQUIRE(e);
    CHECK(e->code() == mtls::errc::server_not_trusted);
    CHECK(mtls::test::contains(e->detail(), "has the extension 1.3.6.1.4.1.99999.2 twice"));
}

TEST_CASE("the platform's verdict: what only the guide refuses is a warning; connect() judges so by default")
{
    const chain_corpus& k = corpus(key_family::rsa);
    mtls::chain_validator_options o;
    o.at = now();
    const auto sha1 = k.der({"leaf_sha1", "root"});
    CHECK_FALSE(mtls::chain_validator(k.der({"root"}), o).validate(sha1).ok());
    o.verdict = mtls::chain_verdict::platform;
    const auto platform = mtls::chain_validator(k.der({"root"}), o).validate(sha1);
    CHECK(platform.ok());
    CHECK(platform.verdict() == mtls::chain_verdict::platform);
    REQUIRE(platform.findings().size() == 1);
    CHECK(platform.findings()[0].rule == rule::signature_hash);
    CHECK(platform.findings()[0].severity == mtls::finding_severity::warning);
    CHECK(platform.findings()[0].basis == mtls::finding_basis::guide);
    // What the platform refuses stays an error.
    const auto colon = mtls::chain_validator(k.der({"root"}), o).validate(k.der({"leaf_colon", "root"}));
    CHECK(colon.has(rule::common_name));

    const mtls::connect_options defaults;
    CHECK(defaults.chain_rules.verdict == mtls::chain_verdict::platform);
    const std::string key = mtls::test::read_text(k.key("leaf"));
    const auto with_sha1 = mtls::credentials::from_pem(
        mtls::test::read_text(k.pem("leaf_sha1")) + mtls::test::read_text(k.pem("root")), key);
    CHECK(mtls::validate_credentials(with_sha1, "d:device-rsa", defaults.chain_rules).ok());
    const auto with_critical = mtls::credentials::from_pem(
        mtls::test::read_text(k.pem("leaf_crit")) + mtls::test::read_text(k.pem("root")), key);
    CHECK_ERROR(mtls::validate_credentials(with_critical, "d:device-rsa", defaults.chain_rules).throw_if_rejected(),
                mtls::errc::chain_rejected, "critical-extension: certificate 0 (/CN=device-rsa)");
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
    CHECK(mtls::test::contains(json, R"("rule":"common-name","severity":"error","basis":"platform","index":0,"subject":"/CN=device-ec:1")"));
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

    // The platform's verdict, and the basis of each finding, in the table and the JSON.
    const std::string sha1 = " --chain " + shell_quote(k.bundle("sha1", {"leaf_sha1", "root"}).string());
    out = doctor(sha1 + trusted, &code);
    CHECK(code == 1);
    CHECK(mtls::test::contains(out, "error    signature-hash  0     guide"));
    out = doctor(sha1 + trusted + " --verdict platform", &code);
    CHECK(code == 0);
    CHECK(mtls::test::contains(out, "the platform's verdict"));
    CHECK(mtls::test::contains(out, "warning  signature-hash  0     guide"));
    const std::string critical = " --chain " + shell_quote(k.bundle("critical", {"leaf_crit", "root"}).string());
    out = doctor(critical + trusted + " --verdict platform --json", &code);
    CHECK(code == 1);
    CHECK(mtls::test::contains(out, R"("rule":"critical-extension","severity":"error","basis":"pkix","index":0)"));
    CHECK(mtls::test::contains(out, R"("verdict":"platform")"));

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
    CHECK(mtls::test::contains(out, "wrong store password"));

    // Bad arguments and unreadable input.
    for (const std::string& args : {std::string(""), good, good + trusted + " --profile cloud",
                                   good + trusted + " --verdict jdk",
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
