// c8y-mtls-doctor: says, before a device ships, whether the platform will accept its certificate
// chain, and why not. Other tools drive it: its flags, output and exit codes are stable.
//
//   c8y-mtls-doctor (--chain CHAIN.pem [--key KEY.pem [--key-password-env VAR]]
//                    | --keystore FILE --password-env VAR [--alias NAME] [--key-password-env VAR]
//                    | [--chain CHAIN.pem] --pkcs11-module PATH --key-uri URI [--pin-env VAR])
//       --trusted CA.pem [--trusted MORE ...] [--trusted-password-env VAR] [--client-id ID] [--max-chain-length N]
//       [--profile guide|current] [--verdict guide|platform] [--at 2026-01-01T00:00:00Z]
//       [--expiry-margin-days N] [--json]
//
// --keystore takes JKS, PKCS#12 or PEM (told by the content); --trusted a PEM or DER file, a
// directory, or a JKS or PKCS#12 truststore (keytool -importcert's). --key-uri names a key in a
// PKCS#11 token (RFC 7512 URI; the PIN in the variable --pin-env names), whose public key is
// compared with the certificate's; without --chain, the chain is the token's.
// Exit 0 when the platform would accept the chain (warnings allowed), 1 when it would not, 2 for
// bad arguments or unreadable input. Under --verdict platform only what the platform certainly
// refuses is an error, as connect() judges.
#include <c8y/mtls.hpp>

#include "cli_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mtls = c8y::mtls;
using mtls::examples::device_credentials;
using mtls::examples::secret_from_env;
using mtls::examples::to_number;
using mtls::examples::truststore_from;
using mtls::examples::usage_error;

namespace {

constexpr std::string_view usage =
    "usage: c8y-mtls-doctor (--chain CHAIN.pem [--key KEY.pem [--key-password-env VAR]]\n"
    "                        | --keystore FILE --password-env VAR [--alias NAME] [--key-password-env VAR]\n"
    "                        | [--chain CHAIN.pem] --pkcs11-module PATH --key-uri URI [--pin-env VAR])\n"
    "           --trusted CA.pem [--trusted MORE ...] [--trusted-password-env VAR] [--client-id ID]\n"
    "           [--max-chain-length N]\n"
    "           [--profile guide|current] [--verdict guide|platform] [--at 2026-01-01T00:00:00Z]\n"
    "           [--expiry-margin-days N] [--json]\n";

struct arguments {
    std::string chain, key, key_password_env;
    std::string keystore, password_env, alias;
    mtls::examples::token_key_flags token_key;
    std::vector<std::string> trusted;
    std::string trusted_password_env;
    std::optional<std::string> client_id;
    mtls::chain_validator_options options;
    bool json = false;
};

// ISO-8601 UTC to the second, as format_time() prints it: 2026-01-01T00:00:00Z.
std::chrono::sys_seconds to_time(const std::string& value)
{
    const auto fail = [&] {
        return usage_error{"--at wants a UTC time like 2026-01-01T00:00:00Z, not '" + value + "'"};
    };
    const auto t = mtls::parse_time(value);
    if (!t)
        throw fail();
    return *t;
}

arguments parse(int argc, char** argv)
{
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw usage_error{std::string(flag) + " needs a value"};
            return argv[++i];
        };
        if (flag == "--chain") a.chain = value();
        else if (flag == "--key") a.key = value();
        else if (flag == "--key-password-env") a.key_password_env = value();
        else if (flag == "--keystore") a.keystore = value();
        else if (flag == "--password-env") a.password_env = value();
        else if (flag == "--alias") a.alias = value();
        else if (flag == "--trusted") a.trusted.push_back(value());
        else if (flag == "--trusted-password-env") a.trusted_password_env = value();
        else if (flag == "--client-id") a.client_id = value();
        else if (flag == "--max-chain-length")
            a.options.max_chain_length = static_cast<std::size_t>(to_number(flag, value(), 1, 1000));
        else if (flag == "--profile") {
            const std::string p = value();
            if (p == "guide") a.options.profile = mtls::chain_profile::guide;
            else if (p == "current") a.options.profile = mtls::chain_profile::current;
            else throw usage_error{"--profile is 'guide' or 'current', not '" + p + "'"};
        }
        else if (flag == "--verdict") {
            const std::string v = value();
            if (v == "guide") a.options.verdict = mtls::chain_verdict::guide;
            else if (v == "platform") a.options.verdict = mtls::chain_verdict::platform;
            else throw usage_error{"--verdict is 'guide' or 'platform', not '" + v + "'"};
        }
        else if (flag == "--at") a.options.at = to_time(value());
        else if (flag == "--expiry-margin-days")
            a.options.expiry_margin = std::chrono::days(to_number(flag, value(), 0, 3650));
        else if (flag == "--json") a.json = true;
        else if (a.token_key.take(flag, value)) continue;
        else if (flag == "--help" || flag == "-h") throw usage_error{};
        else throw usage_error{"unknown argument '" + std::string(flag) + "'"};
    }
    const bool pem = !a.chain.empty();
    const bool p12 = !a.keystore.empty();
    if (a.token_key.given())
        a.token_key.check(!a.key.empty() ? "--key" : p12 ? "--keystore" : "");
    else if (pem == p12)
        throw usage_error{"give either --chain (and optionally --key), --keystore, or --key-uri"};
    if (!a.key.empty() && !pem) throw usage_error{"--key goes with --chain"};
    if (p12 && a.password_env.empty()) throw usage_error{"--keystore needs --password-env"};
    if (pem && !a.password_env.empty()) throw usage_error{"--password-env is for --keystore; use --key-password-env"};
    if (!a.key_password_env.empty() && a.key.empty() && !p12)
        throw usage_error{"--key-password-env goes with --key or --keystore"};
    if (!a.alias.empty() && !p12) throw usage_error{"--alias goes with --keystore"};
    if (a.trusted.empty()) throw usage_error{"--trusted is required: the certificate(s) uploaded to the platform"};
    return a;
}

// Certificates of a PEM file, or of a file holding one DER certificate: the chain as the device
// sends it.
std::vector<mtls::der_certificate> certificates_of(const std::string& path)
{
    const std::string content = mtls::read_file(path);
    auto certificates = mtls::pem_certificates(content, path);
    if (certificates.empty() && !content.empty() && static_cast<unsigned char>(content[0]) == 0x30)
        certificates.emplace_back(content.begin(), content.end());
    if (certificates.empty())
        throw mtls::error(mtls::errc::no_certificate, path + ": no PEM certificate in it");
    // Bytes that are not a certificate at all are undecodable input (exit 2), not a verdict.
    for (std::size_t i = 0; i < certificates.size(); ++i)
        (void)mtls::certificate::from_der(certificates[i], path + ": certificate " + std::to_string(i));
    return certificates;
}

std::string pad(std::string text, std::size_t width)
{
    if (text.size() < width)
        text.append(width - text.size(), ' ');
    return text;
}

void print_table(const mtls::chain_report& report)
{
    const auto& certificates = report.certificates();
    std::cout << "chain of " << certificates.size() << " certificate" << (certificates.size() == 1 ? "" : "s")
              << ", profile " << (report.profile() == mtls::chain_profile::guide ? "guide" : "current")
              << " (at most " << report.max_chain_length() << "), checked at " << mtls::format_time(report.checked_at())
              << (report.checked_trust() ? "" : ", no uploaded certificate given")
              << (report.verdict() == mtls::chain_verdict::platform ? ", the platform's verdict" : "") << "\n\n";

    std::size_t subject_width = 7, issuer_width = 6, key_width = 3;
    for (const auto& c : certificates) {
        subject_width = std::max(subject_width, c.subject.size());
        issuer_width = std::max(issuer_width, c.issuer.size());
        key_width = std::max(key_width, c.key.size());
    }
    std::cout << "  #   " << pad("subject", subject_width) << "  " << pad("issuer", issuer_width) << "  "
              << pad("not after", 20) << "  " << pad("key", key_width) << "  signature\n";
    for (std::size_t i = 0; i < certificates.size(); ++i) {
        const auto& c = certificates[i];
        std::cout << "  " << pad(std::to_string(i), 4) << pad(c.subject, subject_width) << "  "
                  << pad(c.issuer, issuer_width) << "  "
                  << pad(c.parsed ? mtls::format_time(c.not_after) : "", 20) << "  " << pad(c.key, key_width) << "  "
                  << c.signature << "\n";
    }

    if (!report.findings().empty()) {
        std::size_t rule_width = 4;
        for (const auto& f : report.findings())
            rule_width = std::max(rule_width, f.rule.size());
        std::cout << "\n  " << pad("severity", 9) << pad("rule", rule_width + 2) << pad("cert", 6) << pad("basis", 10)
                  << "message\n";
        for (const auto& f : report.findings()) {
            const std::string where = f.index ? std::to_string(*f.index) : f.subject.empty() ? "-" : "up";
            std::cout << "  " << pad(f.severity == mtls::finding_severity::error ? "error" : "warning", 9)
                      << pad(std::string(f.rule), rule_width + 2) << pad(where, 6)
                      << pad(std::string(mtls::basis_name(f.basis)), 10) << f.message << "\n";
        }
    }
    const auto plural = [](std::size_t n, const char* word) {
        return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
    };
    std::cout << "\nverdict: the platform would " << (report.ok() ? "accept" : "refuse") << " this chain ("
              << plural(report.error_count(), "error") << ", " << plural(report.warning_count(), "warning") << ")\n";
}

int run(const arguments& a)
{
    std::vector<mtls::der_certificate> trusted;
    for (const std::string& file : a.trusted) {
        const mtls::truststore uploaded = truststore_from(file, a.trusted_password_env, "--trusted-password-env");
        trusted.insert(trusted.end(), uploaded.certificates().begin(), uploaded.certificates().end());
    }
    const mtls::chain_validator validator(std::move(trusted), a.options);

    std::optional<std::string_view> client_id;
    if (a.client_id)
        client_id = *a.client_id;
    mtls::chain_report report;
    if (a.token_key.given()) {
        report = validator.validate(a.token_key.load(a.chain), client_id);
    } else if (!a.keystore.empty()) {
        const auto device = device_credentials(a.keystore, {}, {}, a.password_env, a.key_password_env, a.alias);
        report = validator.validate(device, client_id);
    } else {
        const auto chain = certificates_of(a.chain);
        std::optional<mtls::provisioning::private_key> key;
        if (!a.key.empty())
            key = mtls::provisioning::private_key::from_pem(mtls::read_secret_file(a.key),
                                                            secret_from_env(a.key_password_env), a.key);
        const mtls::secure_bytes none;
        const mtls::secure_bytes& der = key ? key->der() : none;
        report = validator.validate(chain, std::span<const unsigned char>(der.data(), der.size()), client_id);
    }
    if (a.json)
        std::cout << report.to_json() << "\n";
    else
        print_table(report);
    return report.ok() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(parse(argc, argv));
    } catch (const usage_error& e) {
        if (!e.what.empty())
            std::cerr << "c8y-mtls-doctor: " << e.what << "\n";
        std::cerr << usage;
        return 2;
    } catch (const mtls::error& e) {
        std::cerr << "c8y-mtls-doctor: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "c8y-mtls-doctor: " << e.what() << "\n";
        return 2;
    }
}
