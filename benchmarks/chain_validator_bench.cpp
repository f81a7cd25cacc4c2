// chain_validator_bench: validations per second of c8y::mtls::chain_validator, of OpenSSL's
// X509_verify_cert and of wolfSSL's certificate manager, in one run on the same chains
// (RSA-2048 and P-256, two and three certificates, made by the OpenSSL CLI with the platform
// guide's extensions), and the cost of the signature verifications alone: the floor.
//
//   chain_validator_bench [SECONDS_PER_SLICE [ROUNDS]]     (default 0.2 s, 9 rounds)
//
// The four methods take turns, one slice each, round after round, and each figure is the best
// slice: on a shared machine that is the one least disturbed by other work. Every figure includes parsing the chain from DER as the device sends it; the uploaded CA is
// loaded once. Prints a Markdown table and whether each target is met; exits 1 when a method
// refuses a chain.
#include <c8y/mtls/chain_validator.hpp>
#include <c8y/mtls/wolfssl/crypto.hpp>
#include <c8y/mtls/detail/x509_pem.hpp>

#include <wolfssl/ssl.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "chain_validator_bench.hpp"

namespace mtls = c8y::mtls;
namespace fs = std::filesystem;
using chain_bench::der;

namespace {

// The guide's v3_ca and v3_signed sections.
constexpr const char* config = R"([ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true, pathlen:10
keyUsage = digitalSignature, cRLSign, keyCertSign
[ v3_signed ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = nonRepudiation, digitalSignature, keyEncipherment
)";

void shell(const std::string& command)
{
    if (std::system(command.c_str()) != 0) {
        std::fprintf(stderr, "chain_validator_bench: failed: %s\n", command.c_str());
        std::exit(2);
    }
}

der read_der(const fs::path& pem)
{
    std::ifstream in(pem, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return mtls::detail::pem_certificates(text, pem.string()).at(0);
}

struct chains {
    std::vector<der> two;   // device, CA
    std::vector<der> three; // device, intermediate, CA
    der root;
};

// A CA, an intermediate and two devices (one under each), with the key type given to genpkey.
chains make_chains(const fs::path& dir, const std::string& keyopts)
{
    fs::create_directories(dir);
    std::ofstream(dir / "ca.cnf") << config;
    const std::string cd = "cd '" + dir.string() + "' && ";
    const auto key = [&](const std::string& name) {
        shell(cd + "openssl genpkey " + keyopts + " -out " + name + ".key 2>/dev/null");
    };
    const auto sign = [&](const std::string& name, const std::string& cn, const std::string& by, const std::string& ext) {
        shell(cd + "openssl req -config ca.cnf -new -key " + name + ".key -subj '/CN=" + cn + "' -out " + name +
              ".csr && openssl x509 -req -in " + name + ".csr -CA " + by + ".pem -CAkey " + by +
              ".key -set_serial 0x" + std::to_string(std::hash<std::string>{}(name) % 100000) +
              " -days 365 -sha256 -extfile ca.cnf -extensions " + ext + " -out " + name + ".pem 2>/dev/null");
    };
    for (const char* name : {"root", "inter", "leaf", "leaf_i"})
        key(name);
    shell(cd + "openssl req -config ca.cnf -new -x509 -key root.key -days 3650 -sha256 -extensions v3_ca "
               "-subj '/CN=Bench Root CA' -out root.pem");
    sign("inter", "Bench Intermediate CA", "root", "v3_ca");
    sign("leaf", "bench-device", "root", "v3_signed");
    sign("leaf_i", "bench-device", "inter", "v3_signed");
    chains c;
    c.root = read_der(dir / "root.pem");
    c.two = {read_der(dir / "leaf.pem"), c.root};
    c.three = {read_der(dir / "leaf_i.pem"), read_der(dir / "inter.pem"), c.root};
    return c;
}

// Runs f in batches for `seconds`; validations per second.
double rate(double seconds, const std::function<void()>& f)
{
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::size_t count = 0;
    double elapsed = 0;
    do {
        for (int i = 0; i < 50; ++i)
            f();
        count += 50;
        elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < seconds);
    return static_cast<double>(count) / elapsed;
}

[[noreturn]] void refused(const char* who, const std::string& chain)
{
    std::fprintf(stderr, "chain_validator_bench: %s refuses the %s chain\n", who, chain.c_str());
    std::exit(1);
}

struct result {
    double validator = 0, manager = 0, openssl = 0, floor = 0;
};

result measure(const std::string& name, const std::vector<der>& chain, const der& root, double seconds, int rounds)
{
    mtls::chain_validator_options options;
    options.max_chain_length = 3; // a dedicated installation's limit, so that both lengths are accepted
    const mtls::chain_validator validator({root}, options);
    if (!validator.validate(chain).ok())
        refused("chain_validator", name);

    // wolfSSL's manager keeps the CA loaded. An intermediate is part of what the device sends, so
    // it must be checked on every validation: the manager loads a CA without checking its
    // signature and would skip one it already holds, so each validation starts again from the CA
    // alone, verifies the intermediate, loads it, then verifies the device certificate.
    WOLFSSL_CERT_MANAGER* cm = wolfSSL_CertManagerNew();
    wolfSSL_CertManagerLoadCABuffer(cm, root.data(), static_cast<long>(root.size()), WOLFSSL_FILETYPE_ASN1);
    const auto manager_once = [&] {
        bool ok = true;
        if (chain.size() > 2) {
            wolfSSL_CertManagerUnloadCAs(cm);
            ok = wolfSSL_CertManagerLoadCABuffer(cm, root.data(), static_cast<long>(root.size()),
                                                 WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
        }
        for (std::size_t i = chain.size() - 2; i >= 1; --i) {
            const auto size = static_cast<long>(chain[i].size());
            ok = ok &&
                 wolfSSL_CertManagerVerifyBuffer(cm, chain[i].data(), size, WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
                 wolfSSL_CertManagerLoadCABuffer(cm, chain[i].data(), size, WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
        }
        return ok && wolfSSL_CertManagerVerifyBuffer(cm, chain[0].data(), static_cast<long>(chain[0].size()),
                                                     WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
    };
    if (!manager_once())
        refused("wolfSSL's CertManager", name);

    // The floor: the signature checks the validator makes (each certificate by the next, the
    // uploaded CA's own excepted), on parts already found in the DER.
    std::vector<mtls::signature_check> checks;
    std::vector<mtls::detail::parsed_certificate> parsed(chain.size());
    for (std::size_t i = 0; i < chain.size(); ++i)
        if (!mtls::detail::parse_certificate(chain[i], parsed[i]).empty())
            refused("the parser", name);
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
        mtls::signature_check check;
        check.scheme = parsed[i].signature_algorithm.scheme;
        check.hash = parsed[i].signature_algorithm.hash;
        check.signed_data = parsed[i].tbs;
        check.signature = parsed[i].signature;
        check.public_key = parsed[i + 1].public_key_info;
        checks.push_back(check);
    }
    const auto floor_once = [&] {
        bool ok = true;
        for (const auto& check : checks)
            ok = mtls::wolfssl_crypto::verify_signature(check) && ok;
        return ok;
    };
    if (!floor_once())
        refused("the signature floor", name);

    result best;
    for (int round = 0; round < rounds; ++round) {
        best.validator = std::max(best.validator, rate(seconds, [&] { (void)validator.validate(chain).ok(); }));
        best.manager = std::max(best.manager, rate(seconds, [&] { (void)manager_once(); }));
        const double openssl = chain_bench::openssl_verifications_per_second(chain, root, seconds);
        if (openssl < 0)
            refused("OpenSSL's X509_verify_cert", name);
        best.openssl = std::max(best.openssl, openssl);
        best.floor = std::max(best.floor, rate(seconds, [&] { (void)floor_once(); }));
    }
    wolfSSL_CertManagerFree(cm);
    return best;
}

} // namespace

int main(int argc, char** argv)
{
    const double seconds = argc > 1 ? std::atof(argv[1]) : 0.2;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 9;
    if (!(seconds > 0) || rounds < 1) {
        std::fprintf(stderr, "usage: chain_validator_bench [SECONDS_PER_SLICE [ROUNDS]]\n");
        return 2;
    }
    wolfSSL_Init();
    char pattern[] = "/tmp/c8y-chain-bench-XXXXXX";
    if (!mkdtemp(pattern)) {
        std::perror("mkdtemp");
        return 2;
    }
    const fs::path dir = pattern;
    const chains rsa = make_chains(dir / "rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
    const chains ec = make_chains(dir / "ec", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");

    std::printf("| chain | chain_validator | wolfSSL CertManager | OpenSSL X509_verify_cert | signatures alone (floor) "
                "| validator / manager | validator / OpenSSL | validator time / floor time |\n"
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    bool all_met = true;
    const struct {
        const char* name;
        const std::vector<der>* chain;
        const der* root;
    } rows[] = {{"RSA-2048, 2 certificates", &rsa.two, &rsa.root},
                {"RSA-2048, 3 certificates", &rsa.three, &rsa.root},
                {"P-256, 2 certificates", &ec.two, &ec.root},
                {"P-256, 3 certificates", &ec.three, &ec.root}};
    std::string notes;
    for (const auto& row : rows) {
        const result r = measure(row.name, *row.chain, *row.root, seconds, rounds);
        const double vs_manager = r.validator / r.manager;
        const double vs_openssl = r.validator / r.openssl;
        const double vs_floor = r.floor / r.validator; // time per validation over time of the signatures
        std::printf("| %s | %.0f/s | %.0f/s | %.0f/s | %.0f/s | %.2f | %.1f | %.2f |\n", row.name, r.validator, r.manager,
                    r.openssl, r.floor, vs_manager, vs_openssl, vs_floor);
        std::fflush(stdout);
        const auto target = [&](bool met, const std::string& what) {
            if (!met) {
                all_met = false;
                notes += std::string("missed: ") + row.name + ": " + what + "\n";
            }
        };
        target(vs_manager >= 1.0, "at least as fast as wolfSSL's CertManager");
        target(vs_openssl >= 5.0, "at least 5 times OpenSSL");
        target(vs_floor <= 1.2, "within 20% of the signature floor");
    }
    std::printf("\n%s", all_met ? "targets: all met (>= manager, >= 5x OpenSSL, <= 1.2x the floor's time)\n"
                                : notes.c_str());
    fs::remove_all(dir);
    wolfSSL_Cleanup();
    return 0;
}
