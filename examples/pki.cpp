// c8y-mtls-pki: the certificates of the platform's device certificate guide without the OpenSSL
// recipe: a CA, intermediate CAs, device keys with their certificates, chain files and keystores,
// the bulk registration CSV, and the CA's upload with its proof of possession. Other tools drive
// it: its subcommands, flags, files, output and exit codes are stable (see `synopsis` below).
//
// A CA directory holds ca.pem (the CA's certificate), ca.key (its PKCS#8 key) and chain.pem (the
// CA's chain up to the root); a device directory key.pem, cert.pem, chain.pem (device first) and
// optionally keystore.p12 (with --key-uri, the key is made in a PKCS#11 token instead, and key.uri
// names it there). Files holding a private key are made with mode 0600 and never
// overwritten. Everything is made in memory first: a failed run writes nothing.
//
// Exit 0 on success, 1 when the platform or a check refuses (an existing key file included), 2
// for bad arguments or unusable input (a missing file, a wrong password, a CN with ':').
#include <c8y/mtls.hpp>

#include "cli_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mtls = c8y::mtls;
namespace provisioning = c8y::mtls::provisioning;
namespace fs = std::filesystem;
using mtls::examples::secret_from_env;
using mtls::examples::to_number;
using mtls::examples::truststore_from;
using mtls::examples::usage_error;

namespace {

constexpr std::string_view synopsis =
    "usage: c8y-mtls-pki ca --cn NAME --out DIR [--key-type TYPE] [--days N] [--pathlen N] [--password-env VAR]\n"
    "       c8y-mtls-pki intermediate --cn NAME --ca DIR --out DIR [--key-type TYPE] [--days N] [--pathlen N]\n"
    "                    [--password-env VAR] [--ca-password-env VAR]\n"
    "       c8y-mtls-pki device --cn ID --ca DIR --out DIR [--key-type TYPE] [--days N] [--key-password-env VAR]\n"
    "                    [--p12-password-env VAR] [--ca-password-env VAR]\n"
    "                    [--pkcs11-module PATH --key-uri URI [--pin-env VAR]]\n"
    "       c8y-mtls-pki bulk-csv --out FILE.csv [--type TYPE] [--otp] [--ids ID,...] [DEVICE_DIR...]\n"
    "       c8y-mtls-pki bulk-upload --url URL --user U --password-env VAR [--cafile TRUSTSTORE] FILE.csv\n"
    "       c8y-mtls-pki enroll --url URL --device-id ID --otp-env VAR --out DIR [--key-type TYPE]\n"
    "                    [--cafile TRUSTSTORE] [--tenant-ca CA.pem] [--retry-every SECONDS] [--max-wait SECONDS]\n"
    "                    [--pkcs11-module PATH --key-uri URI [--pin-env VAR]]\n"
    "       c8y-mtls-pki show --dir DEVICE_DIR [--json]\n"
    "       c8y-mtls-pki needs-renewal --dir DEVICE_DIR [--renew-before-days N]\n"
    "       c8y-mtls-pki renew --dir DEVICE_DIR --url URL --host H [--port P] --cafile TRUSTSTORE [--same-key]\n"
    "                    [--key-type TYPE] [--tenant-ca CA.pem] [--key-password-env VAR]\n"
    "       c8y-mtls-pki pop-sign --ca DIR --code CODE [--ca-password-env VAR]\n"
    "       c8y-mtls-pki upload --url URL --tenant T --user U --password-env VAR --ca DIR [--auto-register]\n"
    "                    [--pop [--ca-password-env VAR]] [--cafile TRUSTSTORE]\n"
    "       c8y-mtls-pki --help\n";

constexpr std::string_view details =
    "\n"
    "  ca, intermediate    write DIR/ca.pem, DIR/ca.key and DIR/chain.pem (the CA's chain up to the root)\n"
    "  device              writes DIR/key.pem, DIR/cert.pem, DIR/chain.pem (the device certificate first,\n"
    "                      up to the root) and, with --p12-password-env, DIR/keystore.p12 (key and chain)\n"
    "  device, enroll      with --key-uri, make the key pair inside the PKCS#11 token it names (object=:\n"
    "                      its label, id=: its id, random when absent) and sign the request there; they\n"
    "                      write DIR/key.uri (the key's URI, without the PIN) instead of DIR/key.pem\n"
    "  bulk-csv            the bulk registration CSV of the devices in the DEVICE_DIRs (ID: the CN of\n"
    "                      DEVICE_DIR/cert.pem) and of --ids (devices that will enroll, without a\n"
    "                      certificate yet); --type sets TYPE, and NAME to the ID, on every row;\n"
    "                      --otp gives each device a new one-time password for enrollment\n"
    "                      (ENROLLMENT_OTP), printed once as 'ID<TAB>PASSWORD' lines, and makes FILE.csv\n"
    "                      with mode 0600, never overwritten\n"
    "  bulk-upload         uploads FILE.csv as the tenant's bulk registration and prints the platform's\n"
    "                      result, row by row; exit 1 when it refused a row\n"
    "  enroll              enrolls the device with the platform's certificate authority (EST simpleenroll,\n"
    "                      Basic with the device id and the one-time password of its bulk registration):\n"
    "                      writes DIR/key.pem (made here, never sent), DIR/cert.pem and DIR/chain.pem (the\n"
    "                      certificate, then the --tenant-ca when given);\n"
    "                      retries every --retry-every seconds (30) for --max-wait seconds (600) while the\n"
    "                      device is not registered yet; --tenant-ca checks the issued chain against it\n"
    "  show                DEVICE_DIR/cert.pem's subject, issuer, serial, validity, status (valid, expires\n"
    "                      soon: within 30 days, expired, not yet valid) and SHA-1 and SHA-256 fingerprints\n"
    "  needs-renewal       exit 0 when DEVICE_DIR/cert.pem is due for renewal (it expires within\n"
    "                      --renew-before-days, 30 by default, or has expired), 1 when not, 2 on error\n"
    "  renew               renews DEVICE_DIR's certificate with the platform's certificate authority (EST\n"
    "                      simplereenroll): connects over MQTT with the current files (H:P, 8883 by default)\n"
    "                      for the device's token, sends a request for a new key (--same-key: the current\n"
    "                      one), writes the new files next to the current ones (key.pem.new, ...), connects\n"
    "                      with them, and only then replaces the current ones; prints the new serial\n"
    "  pop-sign            prints the signed verification code of the proof of possession (base64)\n"
    "  upload              uploads DIR/ca.pem as a trusted certificate named after its CN and prints its\n"
    "                      fingerprint; --pop then proves possession of DIR/ca.key\n"
    "\n"
    "  --key-type          rsa2048, rsa3072, rsa4096, ec256 or ec384 (default ec256)\n"
    "  --days              validity from now (default 3650 for ca, 1825 for intermediate, 365 for device)\n"
    "  --pathlen           how many intermediate CAs may follow this CA (default: no limit)\n"
    "  --password-env      ca, intermediate: encrypts ca.key (AES-256); upload: the user's password\n"
    "  --key-password-env  encrypts key.pem (AES-256); without it key.pem is not encrypted (renew: decrypts the\n"
    "                      current key.pem and encrypts the new one)\n"
    "  --p12-password-env  the password of keystore.p12\n"
    "  --ca-password-env   decrypts DIR/ca.key of --ca when it is encrypted\n"
    "  --cafile            the CA certificate(s) of the platform's server (default: /etc/ssl/certs): a PEM\n"
    "                      file, a directory, or a JKS or PKCS#12 truststore, whose password\n"
    "                      --cafile-password-env VAR gives\n"
    "  A *-env flag names an environment variable holding the password: never put it on the command line.\n"
    "  Key files (ca.key, key.pem, keystore.p12) are made with mode 0600 and never overwritten.\n"
    "\n"
    "Exit 0 on success, 1 when the platform or a check refuses, 2 for bad arguments or unusable input.\n";

/// `--help`: the usage on stdout, exit 0.
struct help_requested {};

/// A failure found by the CLI itself: exit 2 for input that cannot be used, 1 for a refusal.
struct failure {
    int exit_code;
    std::string what;
};
failure bad_input(std::string what) { return {2, std::move(what)}; }
failure refused(std::string what) { return {1, std::move(what)}; }

// What the SDK throws for input the user gave that cannot be used is a bad argument (2), like
// c8y-mtls-doctor's unreadable input; any other refusal, the platform's included, is 1.
int exit_code_of(const std::error_code& ec)
{
    if (ec.category() != mtls::error_category())
        return 1;
    switch (static_cast<mtls::errc>(ec.value())) {
    case mtls::errc::invalid_argument:
    case mtls::errc::file_unreadable:
    case mtls::errc::pem_malformed:
    case mtls::errc::no_certificate:
    case mtls::errc::private_key_malformed:
    case mtls::errc::private_key_password_wrong:
    case mtls::errc::truststore_empty:
    case mtls::errc::keystore_malformed:
    case mtls::errc::keystore_password_wrong:
    case mtls::errc::keystore_format_unsupported:
    case mtls::errc::validity_invalid:
    case mtls::errc::http_invalid_url:
        return 2;
    default:
        return 1;
    }
}

class command_line;

/// A subcommand: its function, its flags (`valued` take a value, `switches` do not) and whether
/// it takes operands after them.
struct subcommand {
    std::string_view name;
    int (*run)(const command_line&);
    std::vector<std::string_view> valued;
    std::vector<std::string_view> switches;
    bool takes_operands = false;
};

/// The arguments after the subcommand, read against its flags. An unknown flag, a flag given
/// twice or without a value (empty, or the next flag) and an operand where none is taken are
/// usage errors, so a typo never silently falls back to a default.
class command_line {
public:
    command_line(const subcommand& command, int argc, char** argv)
    {
        const auto among = [](const std::vector<std::string_view>& names, std::string_view arg) {
            return std::find(names.begin(), names.end(), arg) != names.end();
        };
        for (int i = 2; i < argc; ++i) {
            const std::string arg = argv[i];
            if (arg == "--help" || arg == "-h")
                throw help_requested{};
            if (!arg.starts_with("-")) {
                if (!command.takes_operands)
                    throw usage_error{"unexpected argument '" + arg + "'"};
                operands_.push_back(arg);
                continue;
            }
            const bool valued = among(command.valued, arg);
            if (!valued && !among(command.switches, arg))
                throw usage_error{"unknown flag '" + arg + "' for " + std::string(command.name)};
            if (values_.contains(arg))
                throw usage_error{arg + " is given twice"};
            std::string value;
            if (valued) {
                if (i + 1 >= argc || argv[i + 1][0] == '\0' || std::string_view(argv[i + 1]).starts_with("--"))
                    throw usage_error{arg + " needs a value"};
                value = argv[++i];
            }
            values_.emplace(arg, std::move(value));
        }
    }

    bool has(std::string_view flag) const { return values_.contains(flag); }

    std::string get(std::string_view flag, std::string fallback = {}) const
    {
        const auto at = values_.find(flag);
        return at == values_.end() ? std::move(fallback) : at->second;
    }

    std::string required(std::string_view flag) const
    {
        if (!has(flag))
            throw usage_error{std::string(flag) + " is required"};
        return get(flag);
    }

    const std::vector<std::string>& operands() const noexcept { return operands_; }

private:
    std::map<std::string, std::string, std::less<>> values_;
    std::vector<std::string> operands_;
};

provisioning::key_type key_type_of(const command_line& args)
{
    static constexpr std::array<std::pair<std::string_view, provisioning::key_type>, 5> types{{
        {"rsa2048", provisioning::key_type::rsa2048},
        {"rsa3072", provisioning::key_type::rsa3072},
        {"rsa4096", provisioning::key_type::rsa4096},
        {"ec256", provisioning::key_type::ec256},
        {"ec384", provisioning::key_type::ec384},
    }};
    const std::string name = args.get("--key-type", "ec256");
    for (const auto& [n, type] : types)
        if (name == n)
            return type;
    throw usage_error{"--key-type is rsa2048, rsa3072, rsa4096, ec256 or ec384, not '" + name + "'"};
}

// The CN and validity of a new certificate; the CN is checked now, before a key is generated.
provisioning::certificate_options certificate_options_of(const command_line& args, int default_days)
{
    provisioning::certificate_options options;
    options.common_name = args.required("--cn");
    provisioning::check_common_name(options.common_name);
    if (args.has("--days"))
        options.days = static_cast<int>(to_number("--days", args.get("--days"), 1, 36500));
    else
        options.days = default_days;
    return options;
}

std::optional<int> pathlen_of(const command_line& args)
{
    if (!args.has("--pathlen"))
        return std::nullopt;
    return static_cast<int>(to_number("--pathlen", args.get("--pathlen"), 0, 127));
}

// The password in the environment variable that `flag` names; empty when the flag is absent. An
// empty variable is refused: it would leave a key unencrypted without a word.
mtls::secret_string password_of(const command_line& args, std::string_view flag)
{
    if (!args.has(flag))
        return {};
    const std::string variable = args.get(flag);
    mtls::secret_string password = secret_from_env(variable);
    if (password.empty())
        throw usage_error{"environment variable " + variable + " (" + std::string(flag) + ") is empty"};
    return password;
}

// The truststore of --cafile (/etc/ssl/certs by default), a JKS or PKCS#12 one's password in the
// variable of --cafile-password-env.
mtls::truststore server_truststore(const command_line& args)
{
    return truststore_from(args.get("--cafile", "/etc/ssl/certs"), args.get("--cafile-password-env"),
                           "--cafile-password-env");
}

// The DER of certificates read (each checked to be one by mtls::certificate).
std::vector<mtls::der_certificate> ders_of(const std::vector<mtls::certificate>& certificates)
{
    std::vector<mtls::der_certificate> out;
    for (const auto& c : certificates)
        out.push_back(c.der());
    return out;
}

/// A CA directory as `ca` and `intermediate` write it (the guide's OpenSSL recipe leaves out
/// chain.pem, which is then taken to be ca.pem alone).
struct ca_directory {
    fs::path dir;
    mtls::der_certificate certificate;
    std::vector<mtls::der_certificate> chain; ///< the CA's certificate first, then each issuer
    std::string common_name;
    std::chrono::sys_seconds not_after{};
    std::optional<provisioning::private_key> key; ///< when asked for
};

// --ca DIR: the certificate must be a CA's, chain.pem must start with it in the guide's order,
// and ca.key (when `with_key`) must be its key, so that nothing is signed that would not verify.
ca_directory read_ca(const command_line& args, bool with_key)
{
    ca_directory ca;
    ca.dir = args.required("--ca");
    const fs::path certificate_file = ca.dir / "ca.pem";
    auto certificates = ders_of(mtls::certificate::from_pem_file(certificate_file));
    if (certificates.size() != 1)
        throw bad_input(certificate_file.string() +
                        (certificates.empty() ? ": no PEM certificate in it"
                                              : ": " + std::to_string(certificates.size()) +
                                                    " certificates; only the CA's own belongs there (its issuers go "
                                                    "in chain.pem)"));
    ca.certificate = std::move(certificates.front());
    const auto parsed = mtls::certificate::from_der(ca.certificate, certificate_file.string());
    if (!parsed.is_ca())
        throw bad_input(certificate_file.string() + " is not a CA certificate (no basicConstraints CA:TRUE)");
    ca.common_name = mtls::certificate::from_der(ca.certificate).common_name();
    ca.not_after = parsed.not_after();

    const fs::path chain_file = ca.dir / "chain.pem";
    std::error_code ec;
    if (fs::exists(chain_file, ec)) {
        ca.chain = ders_of(mtls::certificate::from_pem_file(chain_file));
        if (ca.chain.empty() || ca.chain.front() != ca.certificate)
            throw bad_input(chain_file.string() + " does not start with the certificate of " + certificate_file.string());
        try {
            provisioning::chain_pem(ca.chain);
        } catch (const mtls::error& e) {
            throw bad_input(chain_file.string() + ": " + e.detail());
        }
    } else {
        ca.chain = {ca.certificate};
    }

    if (with_key) {
        const fs::path key_file = ca.dir / "ca.key";
        const mtls::secret_string pem = mtls::read_secret_file(key_file);
        const mtls::secret_string password = password_of(args, "--ca-password-env");
        try {
            ca.key = provisioning::private_key::from_pem(pem, password, key_file.string());
        } catch (const mtls::error& e) {
            if (e.code() == mtls::errc::private_key_password_wrong && password.empty())
                throw bad_input(key_file.string() + " is encrypted: give its password with --ca-password-env VAR");
            throw;
        }
        const auto& der = ca.key->der();
        if (mtls::default_crypto::private_key_matches({der.data(), der.size()}, parsed.public_key_info()) !=
            mtls::key_match::matches)
            throw refused(key_file.string() + " is not the private key of " + certificate_file.string());
    }
    return ca;
}

// A CA that expired signs nothing the platform accepts; a certificate outliving its CA is
// refused by the platform from the CA's end on, which the user may not expect.
void check_validity(const ca_directory& ca, const provisioning::certificate_options& options)
{
    if (ca.not_after <= options.not_before)
        throw refused((ca.dir / "ca.pem").string() + " expired on " + mtls::format_time(ca.not_after));
    const auto until = options.not_before + std::chrono::days(options.days);
    if (until > ca.not_after)
        std::cerr << "c8y-mtls-pki: warning: the certificate is valid until " << mtls::format_time(until)
                  << ", its CA only until " << mtls::format_time(ca.not_after) << "\n";
}

/// A file to write. The text of one holding a private key is wiped once written or given up.
struct output_file {
    output_file(std::string file_name, std::string text, bool key)
        : name(std::move(file_name)), content(std::move(text)), holds_key(key)
    {
    }
    output_file(output_file&&) = default;
    output_file& operator=(output_file&&) = delete;
    ~output_file()
    {
        if (holds_key)
            mtls::wipe(content);
    }

    std::string name;
    std::string content;
    bool holds_key;
};

// The directory --out names: made when missing, but never a file of that name (a bad argument).
fs::path output_directory(const command_line& args)
{
    fs::path out = args.required("--out");
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
        throw bad_input("--out " + out.string() + " is a file, not a directory");
    return out;
}

// Checked before a key is generated; write_file's O_EXCL checks again when writing.
void refuse_existing_key(const fs::path& path)
{
    std::error_code ec;
    if (fs::exists(path, ec))
        throw refused(path.string() + " exists already: a private key is never overwritten");
}

// A key file is created, never replaced, with mode 0600 from the start: its content is never
// readable by others, not even for a moment.
void write_file(const fs::path& path, std::string_view content, bool holds_key)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (holds_key ? O_EXCL : O_TRUNC),
                          holds_key ? 0600 : 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            throw refused(path.string() + " exists already: a private key is never overwritten");
        throw refused(path.string() + ": " + std::strerror(errno));
    }
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int why = errno;
            ::close(fd);
            throw refused(path.string() + ": " + std::strerror(why));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0)
        throw refused(path.string() + ": " + std::strerror(errno));
}

// Makes `dir` when missing, writes the files into it and prints their paths on stdout. When one
// fails, those created so far are removed again: a failed run leaves no half-made set behind.
void write_all(const fs::path& dir, const std::vector<output_file>& files)
{
    std::error_code ec;
    if (!dir.empty())
        fs::create_directories(dir, ec);
    if (ec)
        throw refused(dir.string() + ": " + ec.message());
    std::vector<fs::path> created;
    try {
        for (const output_file& f : files) {
            const fs::path path = dir / f.name;
            if (!fs::exists(path, ec))
                created.push_back(path);
            write_file(path, f.content, f.holds_key);
        }
    } catch (...) {
        for (const fs::path& path : created)
            fs::remove(path, ec);
        throw;
    }
    for (const output_file& f : files)
        std::cout << (dir / f.name).string() << "\n";
}

// The files of a CA directory: its key (encrypted when a password is given), its certificate and
// its chain (`chain`: the CA's certificate first).
std::vector<output_file> ca_files(const provisioning::private_key& key, std::string_view password,
                                  const std::vector<mtls::der_certificate>& chain)
{
    std::vector<output_file> files;
    files.emplace_back("ca.key", key.to_pem(password), true);
    files.emplace_back("ca.pem", provisioning::certificate_pem(chain.front()), false);
    files.emplace_back("chain.pem", provisioning::chain_pem(chain), false);
    return files;
}

int make_ca(const command_line& args)
{
    const provisioning::certificate_options options = certificate_options_of(args, 3650);
    const provisioning::key_type type = key_type_of(args);
    const std::optional<int> pathlen = pathlen_of(args);
    const fs::path out = output_directory(args);
    const mtls::secret_string password = password_of(args, "--password-env");
    refuse_existing_key(out / "ca.key");

    const auto key = provisioning::private_key::generate(type);
    const std::vector<mtls::der_certificate> chain{provisioning::make_ca_certificate(key, options, pathlen)};
    write_all(out, ca_files(key, password, chain));
    return 0;
}

int make_intermediate(const command_line& args)
{
    const provisioning::certificate_options options = certificate_options_of(args, 1825);
    const provisioning::key_type type = key_type_of(args);
    const std::optional<int> pathlen = pathlen_of(args);
    const fs::path out = output_directory(args);
    const mtls::secret_string password = password_of(args, "--password-env");
    ca_directory ca = read_ca(args, true);
    check_validity(ca, options);
    // Each CA above limits how many intermediate CAs may follow it (pathlen): one more must fit,
    // or the platform would refuse every device under the new one.
    for (std::size_t i = 0; i < ca.chain.size(); ++i) {
        const auto above = mtls::certificate::from_der(ca.chain[i]);
        if (above.path_length() && *above.path_length() < i + 1)
            throw refused("CN=" + mtls::certificate::from_der(ca.chain[i]).common_name() + " (" +
                          (ca.dir / (i == 0 ? "ca.pem" : "chain.pem")).string() + ") has pathlen " +
                          std::to_string(*above.path_length()) + ": no room for another intermediate CA");
    }
    refuse_existing_key(out / "ca.key");

    const auto key = provisioning::private_key::generate(type);
    const provisioning::signing_authority issuer{ca.certificate, std::move(*ca.key)};
    std::vector<mtls::der_certificate> chain{provisioning::make_intermediate_certificate(key, options, issuer, pathlen)};
    chain.insert(chain.end(), ca.chain.begin(), ca.chain.end());
    write_all(out, ca_files(key, password, chain));
    return 0;
}

// --pkcs11-module, --key-uri and --pin-env: a key made in a PKCS#11 token.
mtls::examples::token_key_flags token_key_of(const command_line& args)
{
    mtls::examples::token_key_flags token;
    token.module = args.get("--pkcs11-module");
    token.uri = args.get("--key-uri");
    token.pin_env = args.get("--pin-env");
    token.check(args.has("--key-password-env") ? "--key-password-env"
                : args.has("--p12-password-env") ? "--p12-password-env"
                                                  : "");
    return token;
}

// A new device key: in the token the flags name, else in memory.
provisioning::private_key new_device_key(const mtls::examples::token_key_flags& token, provisioning::key_type type)
{
    if (!token.given())
        return provisioning::private_key::generate(type);
    return provisioning::private_key::generate_in_token(token.module, token.uri, secret_from_env(token.pin_env), type);
}

// The file that holds the device key, or names it in its token.
output_file key_file(const provisioning::private_key& key, std::string_view password)
{
    if (const mtls::pkcs11_key* in_token = key.token_key())
        return {"key.uri", in_token->uri.text() + "\n", false};
    return {"key.pem", key.to_pem(password), true};
}

int make_device(const command_line& args)
{
    const mtls::examples::token_key_flags token = token_key_of(args);
    const provisioning::certificate_options options = certificate_options_of(args, 365);
    const provisioning::key_type type = key_type_of(args);
    const fs::path out = output_directory(args);
    const mtls::secret_string key_password = password_of(args, "--key-password-env");
    const mtls::secret_string p12_password = password_of(args, "--p12-password-env");
    ca_directory ca = read_ca(args, true);
    check_validity(ca, options);
    std::error_code ec;
    if (fs::exists(out / "ca.key", ec)) // the device's chain.pem would replace the CA's
        throw bad_input("--out " + out.string() + " is a CA directory (it holds ca.key): give the device its own");
    refuse_existing_key(out / "key.pem");
    if (!p12_password.empty())
        refuse_existing_key(out / "keystore.p12");

    const auto key = new_device_key(token, type);
    const provisioning::signing_authority issuer{ca.certificate, std::move(*ca.key)};
    std::vector<mtls::der_certificate> chain{provisioning::make_device_certificate(key, options, issuer)};
    chain.insert(chain.end(), ca.chain.begin(), ca.chain.end());

    std::vector<output_file> files;
    files.push_back(key_file(key, key_password));
    if (!p12_password.empty()) {
        const std::vector<unsigned char> p12 = provisioning::make_pkcs12(key, chain, p12_password, options.common_name);
        files.emplace_back("keystore.p12", std::string(p12.begin(), p12.end()), true);
    }
    files.emplace_back("cert.pem", provisioning::certificate_pem(chain.front()), false);
    files.emplace_back("chain.pem", provisioning::chain_pem(chain), false);
    write_all(out, files);
    return 0;
}

int bulk_csv(const command_line& args)
{
    const fs::path out = args.required("--out");
    if (out.filename().empty())
        throw usage_error{"--out wants a file name, not the directory " + out.string()};
    const std::string type = args.get("--type");
    // Each device with where its ID came from: a DEVICE_DIR's certificate, or --ids (devices that
    // will enroll, and have no certificate yet).
    std::vector<std::pair<std::string, std::string>> named;
    for (const std::string& dir : args.operands()) {
        const fs::path file = fs::path(dir) / "cert.pem";
        const auto certificates = ders_of(mtls::certificate::from_pem_file(file));
        if (certificates.empty())
            throw bad_input(file.string() + ": no PEM certificate in it");
        const std::string id = mtls::certificate::from_der(certificates.front()).common_name();
        if (id.empty())
            throw refused(file.string() + ": the certificate has no CN, which would be the device's ID");
        named.emplace_back(id, file.string() + ": CN '" + id + "'");
    }
    if (args.has("--ids")) {
        const std::string ids = args.get("--ids");
        for (std::size_t start = 0; start <= ids.size();) {
            const std::size_t comma = std::min(ids.find(',', start), ids.size());
            const std::string id = ids.substr(start, comma - start);
            if (id.empty())
                throw usage_error{"--ids wants device IDs separated by commas, not '" + ids + "'"};
            named.emplace_back(id, "--ids: '" + id + "'");
            start = comma + 1;
        }
    }
    if (named.empty())
        throw usage_error{"bulk-csv needs at least one DEVICE_DIR or --ids"};
    std::vector<provisioning::bulk_device> devices;
    std::map<std::string, std::string> source_of; // ID -> where it came from
    for (const auto& [id, source] : named) {
        provisioning::bulk_device device;
        device.id = id;
        if (device.id.find(':') != std::string::npos)
            throw refused(source + " contains ':', which a device ID cannot");
        if (const auto [at, added] = source_of.emplace(device.id, source); !added)
            throw refused("device '" + device.id + "' is given twice: " + at->second + " and " + source);
        if (!type.empty()) {
            device.type = type;
            device.name = device.id;
        }
        devices.push_back(std::move(device));
    }
    const bool otp = args.has("--otp");
    if (otp)
        for (provisioning::bulk_device& device : devices)
            device.enrollment_otp = provisioning::make_one_time_password();
    std::vector<output_file> files;
    files.emplace_back(out.filename().string(), provisioning::bulk_registration_csv(devices), otp);
    write_all(out.parent_path(), files);
    if (otp)
        for (const provisioning::bulk_device& device : devices)
            std::cout << device.id << '\t' << device.enrollment_otp.view() << '\n';
    return 0;
}

// Runs `work` on `io` to its end and rethrows what it threw. Closing the HTTPS client's kept-alive
// connection when done lets io.run() return at once.
void run_to_end(asio::io_context& io, mtls::https_client& http, asio::awaitable<void> work)
{
    std::exception_ptr failed;
    asio::co_spawn(io, std::move(work), [&failed, &http](std::exception_ptr e) {
        failed = e;
        http.close();
    });
    io.run();
    if (failed)
        std::rethrow_exception(failed);
}

asio::awaitable<void> upload_bulk(provisioning::platform_admin& admin, std::string csv, int& exit_code)
{
    const provisioning::bulk_registration_result r = co_await admin.upload_bulk_registration(std::move(csv));
    std::cout << "rows " << r.all << ", created " << r.created << ", updated " << r.credentials_updated.size()
              << ", failed " << r.failed << "\n";
    for (const std::string& id : r.credentials_updated)
        std::cout << "updated\t" << id << "\n";
    for (const provisioning::bulk_registration_failure& f : r.failures)
        std::cout << "failed\t" << f.device_id << "\t" << f.reason << "\t" << f.line << "\n";
    exit_code = r.failed == 0 && r.failures.empty() ? 0 : 1;
}

int bulk_upload(const command_line& args)
{
    const std::string url = args.required("--url");
    const std::string user = args.required("--user");
    if (!args.has("--password-env"))
        throw usage_error{"--password-env is required (the user's password, from the environment)"};
    if (args.operands().size() != 1)
        throw usage_error{"bulk-upload takes one FILE.csv"};
    mtls::secret_string password = password_of(args, "--password-env");
    // The file may hold one-time passwords: read as a secret.
    mtls::secret_string csv = mtls::read_secret_file(args.operands().front());
    const mtls::truststore trust = server_truststore(args);

    asio::io_context io;
    mtls::https_client http(io.get_executor(), trust);
    provisioning::platform_admin admin(http, url, mtls::basic_credentials(user, password));
    password.clear();
    int exit_code = 1;
    run_to_end(io, http, upload_bulk(admin, std::string(csv.view()), exit_code));
    return exit_code;
}

// The CA of --tenant-ca, which the issued chain is checked against and ends with; none without it.
std::optional<mtls::der_certificate> tenant_ca_of(const command_line& args)
{
    if (!args.has("--tenant-ca"))
        return std::nullopt;
    const auto certificates = ders_of(mtls::certificate::from_pem_file(args.get("--tenant-ca")));
    if (certificates.empty())
        throw bad_input(args.get("--tenant-ca") + ": no PEM certificate in it");
    return certificates.front();
}

asio::awaitable<void> enroll_into(mtls::https_client& http, std::string url, provisioning::enrollment_options options,
                                  mtls::secret_string otp, std::optional<provisioning::private_key> key,
                                  std::optional<provisioning::enrolled_device>& out)
{
    if (key)
        out.emplace(co_await provisioning::enroll(http, url, std::move(options), std::move(otp), std::move(*key)));
    else
        out.emplace(co_await provisioning::enroll(http, url, std::move(options), std::move(otp)));
}

int enroll(const command_line& args)
{
    const mtls::examples::token_key_flags token = token_key_of(args);
    const std::string url = args.required("--url");
    provisioning::enrollment_options options;
    options.device_id = args.required("--device-id");
    if (!args.has("--otp-env"))
        throw usage_error{"--otp-env is required (the one-time password, from the environment)"};
    options.key = key_type_of(args);
    options.retry_every = std::chrono::seconds(to_number("--retry-every", args.get("--retry-every", "30"), 1, 3600));
    options.max_wait = std::chrono::seconds(to_number("--max-wait", args.get("--max-wait", "600"), 0, 86400));
    options.tenant_ca = tenant_ca_of(args);
    const fs::path out = output_directory(args);
    refuse_existing_key(out / "key.pem");
    mtls::secret_string otp = password_of(args, "--otp-env");
    if (otp.empty())
        throw usage_error{"the variable named by --otp-env holds no one-time password"};
    const mtls::truststore trust = server_truststore(args);
    options.log.sink = [](mtls::log_level, std::string_view line) { std::cerr << line << "\n"; };

    std::optional<provisioning::private_key> key;
    if (token.given())
        key = new_device_key(token, options.key);
    asio::io_context io;
    mtls::https_client http(io.get_executor(), trust);
    std::optional<provisioning::enrolled_device> enrolled;
    run_to_end(io, http, enroll_into(http, url, std::move(options), std::move(otp), std::move(key), enrolled));
    std::vector<output_file> files;
    files.push_back(key_file(enrolled->key, {}));
    files.emplace_back("cert.pem", provisioning::certificate_pem(enrolled->chain.front()), false);
    files.emplace_back("chain.pem", provisioning::chain_pem(enrolled->chain), false);
    write_all(out, files);
    return 0;
}

// The device certificate of a device directory (its cert.pem's first certificate).
mtls::certificate device_certificate(const command_line& args)
{
    const fs::path file = fs::path(args.required("--dir")) / "cert.pem";
    const auto certificates = mtls::certificate::from_pem_file(file);
    if (certificates.empty())
        throw bad_input(file.string() + ": no PEM certificate in it");
    return certificates.front();
}

constexpr std::chrono::days default_renew_before{30}; // thin-edge.io's certificate.validity.minimum_duration

std::string_view validity_status(const mtls::certificate& c, std::chrono::seconds renew_before)
{
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    if (now < c.not_before())
        return "not yet valid";
    if (now > c.not_after())
        return "expired";
    return c.not_after() - now <= renew_before ? "expires soon" : "valid";
}

// A JSON string of `text`: quotes, backslashes and control characters escaped.
std::string json_string(std::string_view text)
{
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            static constexpr char digits[] = "0123456789abcdef";
            out += "\\u00";
            out += digits[(c >> 4) & 0xF];
            out += digits[c & 0xF];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

int show(const command_line& args)
{
    const mtls::certificate c = device_certificate(args);
    const std::string status(validity_status(c, default_renew_before));
    const std::string sha1 = c.fingerprint(mtls::hash_function::sha1);
    const std::string sha256 = c.fingerprint(mtls::hash_function::sha256);
    if (args.has("--json")) {
        std::cout << "{\"subject\":" << json_string(c.subject()) << ",\"issuer\":" << json_string(c.issuer())
                  << ",\"serial\":" << json_string(c.serial()) << ",\"not_before\":"
                  << json_string(mtls::format_time(c.not_before())) << ",\"not_after\":"
                  << json_string(mtls::format_time(c.not_after())) << ",\"status\":" << json_string(status)
                  << ",\"sha1\":" << json_string(sha1) << ",\"sha256\":" << json_string(sha256) << "}\n";
        return 0;
    }
    std::cout << "subject:    " << c.subject() << "\nissuer:     " << c.issuer() << "\nserial:     " << c.serial()
              << "\nnot before: " << mtls::format_time(c.not_before())
              << "\nnot after:  " << mtls::format_time(c.not_after()) << "\nstatus:     " << status
              << "\nsha1:       " << sha1 << "\nsha256:     " << sha256 << "\n";
    return 0;
}

// thin-edge.io's convention, so that a timer can call it: 0 due, 1 not due, 2 error.
int needs_renewal(const command_line& args)
{
    try {
        const std::chrono::days before(
            to_number("--renew-before-days", args.get("--renew-before-days", std::to_string(default_renew_before.count())),
                      0, 3650));
        const mtls::certificate c = device_certificate(args);
        const std::string_view status = validity_status(c, before);
        const bool due = status == "expires soon" || status == "expired";
        std::cout << (due ? "renewal due: " : "no renewal due: ") << "the certificate "
                  << (status == "expired" ? "expired on " : "expires on ") << mtls::format_time(c.not_after())
                  << " (renew within " << before.count() << " days of it)\n";
        return due ? 0 : 1;
    } catch (const usage_error& e) {
        std::cerr << "c8y-mtls-pki: " << e.what << "\n";
    } catch (const failure& e) {
        std::cerr << "c8y-mtls-pki: " << e.what << "\n";
    } catch (const std::exception& e) {
        std::cerr << "c8y-mtls-pki: " << e.what() << "\n";
    }
    return 2;
}

asio::awaitable<void> renew_over(mtls::client& device, mtls::https_client& http, mtls::connect_options options,
                                 std::string url, mtls::platform_renewal_options renewal,
                                 std::optional<mtls::certificate>& renewed)
{
    co_await device.connect(std::move(options));
    mtls::token_keeper tokens(device);
    tokens.start();
    std::exception_ptr failed;
    try {
        const mtls::certificate_renewal renew =
            mtls::renewal_through_platform(device, http, tokens, std::move(url), std::move(renewal));
        renewed.emplace(co_await renew());
    } catch (...) {
        failed = std::current_exception();
    }
    tokens.stop();
    co_await device.disconnect();
    if (failed)
        std::rethrow_exception(failed);
}

int renew(const command_line& args)
{
    const fs::path dir = args.required("--dir");
    const std::string url = args.required("--url");
    mtls::connect_options options;
    options.host = args.required("--host");
    options.port = static_cast<std::uint16_t>(to_number("--port", args.get("--port", "8883"), 1, 65535));
    (void)args.required("--cafile"); // renew has no default: the broker's CA is named
    const mtls::truststore trust = server_truststore(args);
    mtls::platform_renewal_options renewal;
    renewal.files = mtls::credential_files::in_directory(dir);
    renewal.same_key = args.has("--same-key");
    if (args.has("--key-password-env"))
        renewal.key_password = password_of(args, "--key-password-env");
    renewal.enrollment.key = key_type_of(args);
    renewal.enrollment.tenant_ca = tenant_ca_of(args);
    renewal.enrollment.log.sink = [](mtls::log_level, std::string_view line) { std::cerr << line << "\n"; };
    switch (mtls::recover_credential_files(*renewal.files)) {
    case mtls::credential_recovery::nothing_staged: break;
    case mtls::credential_recovery::discarded:
        std::cerr << "files of a renewal that never connected were removed\n";
        break;
    case mtls::credential_recovery::completed:
        std::cerr << "a renewal a crash interrupted was completed\n";
        break;
    }
    const mtls::certificate current = device_certificate(args);
    if (validity_status(current, {}) == "expired")
        throw mtls::expired_certificate_error(current);

    asio::io_context io;
    mtls::client device(io.get_executor(),
                        mtls::credentials::from_pem_files(renewal.files->chain, renewal.files->key,
                                                          renewal.key_password.view()),
                        trust);
    mtls::https_client http(io.get_executor(), trust);
    std::optional<mtls::certificate> renewed;
    run_to_end(io, http, renew_over(device, http, std::move(options), url, std::move(renewal), renewed));
    std::cout << "renewed: serial " << renewed->serial() << ", valid until " << mtls::format_time(renewed->not_after())
              << "\n";
    return 0;
}

int pop_sign(const command_line& args)
{
    const std::string code = args.required("--code");
    const ca_directory ca = read_ca(args, true);
    std::cout << provisioning::sign_verification_code(*ca.key, code) << "\n";
    return 0;
}

// The upload, then with `pop_key` the proof of possession. The fingerprint goes to stdout as soon
// as the platform holds the certificate, so that the caller has it even when the proof fails.
asio::awaitable<void> upload_and_prove(provisioning::platform_admin& admin, provisioning::certificate_upload upload,
                                       const provisioning::private_key* pop_key)
{
    const std::string name = upload.name;
    const provisioning::trusted_certificate stored = co_await admin.upload_certificate(std::move(upload));
    std::cout << stored.fingerprint << std::endl;
    std::cerr << "uploaded '" << name << "', auto-registration " << (stored.auto_registration_enabled ? "on" : "off")
              << "\n";
    if (pop_key == nullptr)
        co_return;
    std::string fingerprint = stored.fingerprint;
    const provisioning::trusted_certificate proven = co_await admin.prove_possession(std::move(fingerprint), *pop_key);
    if (!proven.proof_of_possession_valid)
        throw refused("the platform took the signed verification code but does not mark " + stored.fingerprint +
                      " as proven");
    std::cerr << "possession of the CA's private key proven\n";
}

int upload(const command_line& args)
{
    const std::string url = args.required("--url");
    const std::string tenant = args.required("--tenant");
    const std::string user = args.required("--user");
    if (!args.has("--password-env"))
        throw usage_error{"--password-env is required (the user's password, from the environment)"};
    const bool pop = args.has("--pop");
    if (args.has("--ca-password-env") && !pop)
        throw usage_error{"--ca-password-env goes with --pop: only the proof of possession needs the CA's key"};
    mtls::secret_string password = password_of(args, "--password-env");
    const ca_directory ca = read_ca(args, pop);
    if (ca.common_name.empty())
        throw bad_input((ca.dir / "ca.pem").string() + " has no CN to name the uploaded certificate after");
    const mtls::truststore trust = server_truststore(args);

    asio::io_context io;
    mtls::https_client http(io.get_executor(), trust);
    provisioning::platform_admin admin(http, url, mtls::basic_credentials(user, password), tenant);
    password.clear(); // the admin keeps its own copy, in memory it wipes
    provisioning::certificate_upload request;
    request.name = ca.common_name;
    request.certificate_pem = provisioning::certificate_pem(ca.certificate);
    request.enabled = true;
    request.auto_registration = args.has("--auto-register");
    run_to_end(io, http, upload_and_prove(admin, std::move(request), ca.key ? &*ca.key : nullptr));
    return 0;
}

int run(int argc, char** argv)
{
    static const std::array<subcommand, 11> subcommands{{
        {"ca", make_ca, {"--cn", "--out", "--key-type", "--days", "--pathlen", "--password-env"}, {}, false},
        {"intermediate", make_intermediate,
         {"--cn", "--ca", "--out", "--key-type", "--days", "--pathlen", "--password-env", "--ca-password-env"}, {},
         false},
        {"device", make_device,
         {"--cn", "--ca", "--out", "--key-type", "--days", "--key-password-env", "--p12-password-env",
          "--ca-password-env", "--pkcs11-module", "--key-uri", "--pin-env"},
         {}, false},
        {"bulk-csv", bulk_csv, {"--out", "--type", "--ids"}, {"--otp"}, true},
        {"bulk-upload", bulk_upload, {"--url", "--user", "--password-env", "--cafile", "--cafile-password-env"}, {},
         true},
        {"enroll", enroll,
         {"--url", "--device-id", "--otp-env", "--out", "--key-type", "--cafile", "--cafile-password-env",
          "--tenant-ca", "--retry-every", "--max-wait", "--pkcs11-module", "--key-uri", "--pin-env"},
         {}, false},
        {"show", show, {"--dir"}, {"--json"}, false},
        {"needs-renewal", needs_renewal, {"--dir", "--renew-before-days"}, {}, false},
        {"renew", renew, {"--dir", "--url", "--host", "--port", "--cafile", "--cafile-password-env", "--key-type",
                   "--tenant-ca", "--key-password-env"},
         {"--same-key"},
         false},
        {"pop-sign", pop_sign, {"--ca", "--code", "--ca-password-env"}, {}, false},
        {"upload", upload,
         {"--url", "--tenant", "--user", "--password-env", "--ca", "--ca-password-env", "--cafile",
          "--cafile-password-env"},
         {"--auto-register", "--pop"}, false},
    }};
    if (argc < 2)
        throw usage_error{"give a subcommand"};
    const std::string_view name = argv[1];
    if (name == "--help" || name == "-h")
        throw help_requested{};
    for (const subcommand& command : subcommands)
        if (command.name == name)
            return command.run(command_line(command, argc, argv));
    throw usage_error{"unknown subcommand '" + std::string(name) + "'"};
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(argc, argv);
    } catch (const help_requested&) {
        std::cout << synopsis << details;
        return 0;
    } catch (const usage_error& e) {
        if (!e.what.empty())
            std::cerr << "c8y-mtls-pki: " << e.what << "\n";
        std::cerr << synopsis;
        return 2;
    } catch (const failure& e) {
        std::cerr << "c8y-mtls-pki: " << e.what << "\n";
        return e.exit_code;
    } catch (const mtls::error& e) {
        std::cerr << "c8y-mtls-pki: " << e.what() << "\n";
        return exit_code_of(e.code());
    } catch (const std::exception& e) {
        std::cerr << "c8y-mtls-pki: " << e.what() << "\n";
        return 1;
    }
}
