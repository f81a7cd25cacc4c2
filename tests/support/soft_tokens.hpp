// c8y-mtls tests: PKCS#11 tokens made at test time by scripts/soft_tokens.py: a SoftHSM token in a
// directory of its own (softhsm_token), and a software TPM, swtpm, with a tpm2-pkcs11 token on it
// (software_tpm).
//
// The modules are loaded into the test process later, by the SDK, and find their tokens through
// the environment: these helpers set SOFTHSM2_CONF, TPM2_PKCS11_STORE and TPM2_PKCS11_TCTI with
// setenv(3), which the modules read at C_Initialize. SoftHSM sees a token made after its
// C_Initialize only after C_Finalize and C_Initialize again (keys imported into a token it knows it
// sees at once).
//
// PINs and key passwords reach the script in its environment, never on its command line (the
// script hands some of them to softhsm2-util and tpm2_ptool on theirs: see its docstring).
//
// The software TPM has no resource manager: swtpm holds 3 transient objects. libtpm2_pkcs11.so
// keeps each key it has used loaded until C_Logout or C_Finalize, and needs one or two more while
// it logs in: about two keys in use at once, in all processes together. A client killed before
// C_Finalize leaves its objects loaded: software_tpm::flush() clears them.
//
// The test build defines C8Y_TEST_SCRIPT_DIR (the scripts/ directory) as a string literal, and may
// define C8Y_TEST_WORK_DIR (where why_not_runnable() tries swtpm).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#ifndef C8Y_TEST_SCRIPT_DIR
#error "C8Y_TEST_SCRIPT_DIR must name the directory of soft_tokens.py"
#endif

extern char** environ;

namespace c8y::mtls::test {

namespace soft_tokens_detail {

// Variables that carry secrets to the script (it is told their names, never the values).
inline constexpr const char* pin_variable = "C8Y_SOFT_TOKENS_PIN";
inline constexpr const char* so_pin_variable = "C8Y_SOFT_TOKENS_SO_PIN";
inline constexpr const char* key_password_variable = "C8Y_SOFT_TOKENS_KEY_PASSWORD";

struct script_result {
    int code = -1; ///< exit status, 128 + signal number when killed
    std::string out;
    std::string err;
};

/// Runs `python3 scripts/soft_tokens.py args...` with this process's environment and `env` (which
/// replaces variables of the same name), without a shell; collects stdout and stderr.
inline script_result run_script(const std::vector<std::string>& args,
                                const std::vector<std::pair<std::string, std::string>>& env = {})
{
    std::vector<std::string> words = {"python3", std::string(C8Y_TEST_SCRIPT_DIR) + "/soft_tokens.py"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<std::string> variables;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string text = *entry;
        bool replaced = false;
        for (const auto& [name, value] : env) {
            replaced = replaced || text.compare(0, name.size() + 1, name + "=") == 0;
        }
        if (!replaced) {
            variables.push_back(text);
        }
    }
    for (const auto& [name, value] : env) {
        variables.push_back(name + "=" + value);
    }
    std::vector<char*> argv;
    for (std::string& word : words) {
        argv.push_back(word.data());
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& variable : variables) {
        envp.push_back(variable.data());
    }
    envp.push_back(nullptr);

    int out_pipe[2] = {-1, -1};
    int err_pipe[2] = {-1, -1};
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("soft tokens: pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, "python3", &actions, nullptr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    script_result result;
    if (spawned != 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        result.code = 127;
        result.err = std::string("cannot run python3: ") + std::strerror(spawned);
        return result;
    }
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_count = 2;
    while (open_count > 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            char buffer[4096];
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0) {
                sinks[i]->append(buffer, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_count;
            }
        }
    }
    for (const pollfd& fd : fds) {
        if (fd.fd >= 0) {
            ::close(fd.fd);
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    return result;
}

inline std::string trimmed(std::string text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

/// Runs the script and returns its stdout; a failure throws std::runtime_error with the
/// subcommand and what the script said on stderr (it names the cause and never a PIN).
inline std::string script(const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& env = {})
{
    const script_result result = run_script(args, env);
    if (result.code != 0) {
        std::string command = "soft_tokens.py";
        for (const std::string& arg : args) {
            command += " " + arg;
        }
        throw std::runtime_error("soft tokens: " + command + " failed (exit " + std::to_string(result.code) +
                                 "):\n" + trimmed(result.err + result.out));
    }
    return result.out;
}

inline void set_environment(const std::string& name, const std::string& value)
{
    if (::setenv(name.c_str(), value.c_str(), 1) != 0) {
        throw std::runtime_error("soft tokens: setenv " + name + ": " + std::strerror(errno));
    }
}

/// The key arguments of `tpm token` and `tpm key`, with the key's password added to `env`.
inline std::vector<std::string> key_arguments(const std::string& object, const std::string& id_hex,
                                              const std::string& key_type, const std::filesystem::path& key,
                                              const std::string& key_password, const std::filesystem::path& cert,
                                              std::vector<std::pair<std::string, std::string>>& env)
{
    std::vector<std::string> args = {"--object", object, "--id", id_hex};
    if (key.empty()) {
        args.insert(args.end(), {"--key-type", key_type});
    } else {
        args.insert(args.end(), {"--key", key.string()});
        if (!key_password.empty()) {
            args.insert(args.end(), {"--key-pass-env", key_password_variable});
            env.emplace_back(key_password_variable, key_password);
        }
    }
    if (!cert.empty()) {
        args.insert(args.end(), {"--cert", cert.string()});
    }
    return args;
}

} // namespace soft_tokens_detail

/// A SoftHSM token in a directory of its own; SOFTHSM2_CONF names its configuration.
struct softhsm_token {
    static constexpr const char* module = "/usr/lib/softhsm/libsofthsm2.so";
    static constexpr const char* default_pin = "c8y-user-pin"; ///< SoftHSM takes 4 to 255 characters
    static constexpr const char* default_so_pin = "c8y-so-pin";

    std::filesystem::path dir;  ///< softhsm2.conf and tokens/
    std::filesystem::path conf; ///< dir/softhsm2.conf, the value of SOFTHSM2_CONF
    std::string label;          ///< the token's label (CKA_LABEL of CK_TOKEN_INFO)
    std::string pin = default_pin;
    std::string so_pin = default_so_pin;

    /// Imports the private key in `key_pem` (any form `openssl pkey` reads; with `key_password`
    /// when encrypted) as a private and a public key object with CKA_LABEL `object` and CKA_ID
    /// `id_hex` (hex bytes), and with `cert_pem` (PEM or DER) a certificate object with the same
    /// label and id. The private key: CKA_SIGN, CKA_SENSITIVE, not CKA_EXTRACTABLE. An id already
    /// in the token is refused.
    void import_key(const std::filesystem::path& key_pem, const std::string& object, const std::string& id_hex,
                    const std::optional<std::filesystem::path>& cert_pem = std::nullopt,
                    const std::string& key_password = {}) const
    {
        using namespace soft_tokens_detail;
        std::vector<std::pair<std::string, std::string>> env = {{pin_variable, pin}};
        std::vector<std::string> args = {"softhsm-import", "--dir", dir.string(), "--label", label,
                                         "--pin-env", pin_variable, "--key", key_pem.string(),
                                         "--object", object, "--id", id_hex};
        if (cert_pem) {
            args.insert(args.end(), {"--cert", cert_pem->string()});
        }
        if (!key_password.empty()) {
            args.insert(args.end(), {"--key-pass-env", key_password_variable});
            env.emplace_back(key_password_variable, key_password);
        }
        script(args, env);
    }
};

/// Makes a fresh SoftHSM token labelled `label` in `dir` (emptying dir/tokens) and points
/// SOFTHSM2_CONF at it, for the module loaded later in this process and for child processes.
inline softhsm_token make_softhsm_token(const std::filesystem::path& dir, const std::string& label = "c8y-test",
                                        const std::string& pin = softhsm_token::default_pin,
                                        const std::string& so_pin = softhsm_token::default_so_pin)
{
    using namespace soft_tokens_detail;
    softhsm_token token;
    token.dir = std::filesystem::absolute(dir);
    token.label = label;
    token.pin = pin;
    token.so_pin = so_pin;
    token.conf = trimmed(script({"softhsm", "--dir", token.dir.string(), "--label", label, "--pin-env",
                                 pin_variable, "--so-pin-env", so_pin_variable},
                                {{pin_variable, pin}, {so_pin_variable, so_pin}}));
    set_environment("SOFTHSM2_CONF", token.conf.string());
    return token;
}

struct software_tpm_options {
    std::filesystem::path dir{}; ///< swtpm's state (dir/state) and the tpm2-pkcs11 store (dir/store)
    std::string label = "c8y-tpm"; ///< the token's label
    std::string pin = "c8y-user-pin";
    std::string so_pin = "c8y-so-pin";
    std::string object = "device-key"; ///< CKA_LABEL of the token's first key; empty: no key
    std::string key_type = "ec";       ///< made in the TPM: "ec" (P-256) or "rsa" (2048)
    std::filesystem::path key{};       ///< instead: this private key imported (any form openssl reads)
    std::string key_password{};        ///< key's password, when it is encrypted
    std::string id_hex = "01";         ///< CKA_ID of the key's objects, hex bytes
    std::filesystem::path cert{};      ///< a certificate (PEM or DER) stored with the key
};

/// swtpm running with its state in options::dir, and a fresh tpm2-pkcs11 token on it (with a key
/// made in the TPM, or imported); TPM2_PKCS11_STORE and TPM2_PKCS11_TCTI set for the module loaded
/// later in this process and for child processes. Destroying it stops swtpm.
class software_tpm {
public:
    using options = software_tpm_options;
    static constexpr const char* module = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";

    explicit software_tpm(options opts) : opts_(std::move(opts))
    {
        using namespace soft_tokens_detail;
        opts_.dir = std::filesystem::absolute(opts_.dir);
        tcti_ = trimmed(script({"tpm", "start", "--dir", opts_.dir.string()}));
        try {
            std::vector<std::pair<std::string, std::string>> env = {{pin_variable, opts_.pin},
                                                                    {so_pin_variable, opts_.so_pin}};
            std::vector<std::string> args = {"tpm", "token", "--dir", opts_.dir.string(), "--label", opts_.label,
                                             "--pin-env", pin_variable, "--so-pin-env", so_pin_variable};
            if (!opts_.object.empty()) {
                const std::vector<std::string> key = key_arguments(opts_.object, opts_.id_hex, opts_.key_type,
                                                                   opts_.key, opts_.key_password, opts_.cert, env);
                args.insert(args.end(), key.begin(), key.end());
            }
            // VAR=VALUE lines: TPM2_PKCS11_STORE, TPM2_PKCS11_TCTI.
            const std::string output = script(args, env);
            std::size_t begin = 0;
            while (begin < output.size()) {
                const std::size_t end = output.find('\n', begin);
                const std::string line = output.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
                const std::size_t equals = line.find('=');
                if (equals != std::string::npos && line.compare(0, 5, "TPM2_") == 0) {
                    set_environment(line.substr(0, equals), line.substr(equals + 1));
                }
                begin = end == std::string::npos ? output.size() : end + 1;
            }
            const char* store = std::getenv("TPM2_PKCS11_STORE");
            if (store == nullptr || store != this->store().string()) {
                throw std::runtime_error("soft tokens: `tpm token` printed no TPM2_PKCS11_STORE=" +
                                         this->store().string() + ":\n" + output);
            }
        } catch (...) {
            stop();
            throw;
        }
    }

    software_tpm(const software_tpm&) = delete;
    software_tpm& operator=(const software_tpm&) = delete;

    /// Stops swtpm: sessions the module still has on it fail from then on.
    ~software_tpm() { stop(); }

    /// One more key in the token, made in the TPM: "ec" (P-256) or "rsa" (2048).
    void add_key(const std::string& object, const std::string& id_hex, const std::string& key_type = "ec")
    {
        add({}, object, id_hex, key_type, {}, {}, {});
    }

    /// One more key in the token, imported from `key` (any form openssl reads; with `key_password`
    /// when encrypted), and with `cert` its certificate.
    void import_key(const std::filesystem::path& key, const std::string& object, const std::string& id_hex,
                    const std::optional<std::filesystem::path>& cert = std::nullopt,
                    const std::string& key_password = {})
    {
        add(key, object, id_hex, {}, key_password, cert.value_or(std::filesystem::path{}), {});
    }

    /// Stores `cert` (PEM or DER) as a certificate object with the label and CKA_ID of the key
    /// `object`: for a key made in the TPM, a certificate issued for public_key(object).
    void add_certificate(const std::string& object, const std::filesystem::path& cert)
    {
        soft_tokens_detail::script({"tpm", "cert", "--dir", opts_.dir.string(), "--label", opts_.label,
                                    "--object", object, "--cert", cert.string()});
    }

    /// The public key of the key `object` as PEM, written to dir()/<object>.pub.pem.
    std::filesystem::path public_key(const std::string& object) const
    {
        const std::filesystem::path out = opts_.dir / (object + ".pub.pem");
        soft_tokens_detail::script({"tpm", "public-key", "--dir", opts_.dir.string(), "--label", opts_.label,
                                    "--object", object, "--out", out.string()});
        return out;
    }

    /// Flushes the TPM's transient objects and sessions, which a client killed before C_Finalize
    /// leaves behind. Never while a client has a session open.
    void flush() const { soft_tokens_detail::script({"tpm", "flush", "--dir", opts_.dir.string()}); }

    const std::filesystem::path& dir() const { return opts_.dir; }
    const std::string& label() const { return opts_.label; }
    const std::string& pin() const { return opts_.pin; }
    const std::string& so_pin() const { return opts_.so_pin; }
    /// "swtpm:host=127.0.0.1,port=N", the value of TPM2_PKCS11_TCTI (and of TPM2TOOLS_TCTI for tpm2-tools).
    const std::string& tcti() const { return tcti_; }
    /// The tpm2-pkcs11 store, the value of TPM2_PKCS11_STORE.
    std::filesystem::path store() const { return opts_.dir / "store"; }

    /// Why the software TPM cannot run here (a tool or module missing, tpm2_ptool's Python modules
    /// missing, swtpm failing to start or to answer), or nothing when it can. Found out once per
    /// process, by starting and stopping a swtpm.
    static std::optional<std::string> why_not_runnable()
    {
        static const std::optional<std::string> reason = []() -> std::optional<std::string> {
#ifdef C8Y_TEST_WORK_DIR
            const std::filesystem::path dir = std::filesystem::path(C8Y_TEST_WORK_DIR) / "tpm-check";
#else
            const std::filesystem::path dir =
                std::filesystem::temp_directory_path() / ("c8y-tpm-check-" + std::to_string(::getpid()));
#endif
            const soft_tokens_detail::script_result result =
                soft_tokens_detail::run_script({"tpm", "check", "--dir", dir.string()});
            std::error_code ignored;
            std::filesystem::remove_all(dir, ignored);
            if (result.code == 0) {
                return std::nullopt;
            }
            return soft_tokens_detail::trimmed(result.err.empty() ? result.out : result.err);
        }();
        return reason;
    }

private:
    void add(const std::filesystem::path& key, const std::string& object, const std::string& id_hex,
             const std::string& key_type, const std::string& key_password, const std::filesystem::path& cert,
             std::vector<std::pair<std::string, std::string>> env)
    {
        using namespace soft_tokens_detail;
        env.emplace_back(pin_variable, opts_.pin);
        std::vector<std::string> args = {"tpm", "key", "--dir", opts_.dir.string(), "--label", opts_.label,
                                         "--pin-env", pin_variable};
        const std::vector<std::string> more = key_arguments(object, id_hex, key_type, key, key_password, cert, env);
        args.insert(args.end(), more.begin(), more.end());
        script(args, env);
    }

    void stop() noexcept
    {
        try {
            soft_tokens_detail::run_script({"tpm", "stop", "--dir", opts_.dir.string()});
        } catch (...) { // a destructor must not throw; the next start stops a swtpm left running
        }
    }

    options opts_;
    std::string tcti_;
};

} // namespace c8y::mtls::test
