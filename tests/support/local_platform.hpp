// c8y-mtls tests: the local platform (scripts/local_platform.py) as an RAII object. Constructing
// one makes the certificates and starts a mosquitto that behaves like Cumulocity IoT for
// certificate devices (with the plugin) or a plain certificate-checking broker (without), and,
// with `https`, the platform's REST side (scripts/platform_https.py) with the tenant CA;
// destroying it stops them.
//
// The test build defines C8Y_TEST_SCRIPT_DIR (the scripts/ directory) and C8Y_TEST_PLUGIN_PATH
// (c8y_platform_plugin.so) as string literals.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#ifndef C8Y_TEST_SCRIPT_DIR
#error "C8Y_TEST_SCRIPT_DIR must name the directory of local_platform.py"
#endif
#ifndef C8Y_TEST_PLUGIN_PATH
#error "C8Y_TEST_PLUGIN_PATH must name c8y_platform_plugin.so"
#endif

namespace c8y::mtls::test {

/// `text` as one word for /bin/sh.
inline std::string shell_quote(const std::string& text)
{
    std::string quoted = "'";
    for (const char c : text) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return quoted + "'";
}

/// Runs `cmd` through /bin/sh and returns what it printed on stdout. With `exit_code`, the exit
/// status (128 + signal number when killed) is stored there; without it, a failure throws
/// std::runtime_error with the command and its output.
inline std::string run_command(const std::string& cmd, int* exit_code = nullptr)
{
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr) {
        throw std::runtime_error("cannot run: " + cmd);
    }
    std::string output;
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        output.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    const int code = status == -1          ? -1
                     : WIFEXITED(status)   ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : -1;
    if (exit_code != nullptr) {
        *exit_code = code;
    } else if (code != 0) {
        throw std::runtime_error("command failed (exit " + std::to_string(code) + "): " + cmd + "\n" +
                                 output);
    }
    return output;
}

struct local_platform_options {
    std::filesystem::path dir{}; ///< made if missing; reused certificates stay
    bool plugin = true; ///< false: plain broker, no identity rule, no tokens
    int lifespan = 3600; ///< token lifespan in seconds, at least 300
    std::vector<std::string> devices = {"device-0001"}; ///< certificate CNs (':' allowed)
    std::vector<std::string> intermediate_devices{}; ///< CNs signed by an intermediate CA below DIR/ca
    std::string tenant = "t0"; ///< "ten" claim of the tokens
    std::string secret{}; ///< HMAC key of the tokens; empty: random
    bool persistence = false; ///< sessions and queued messages survive restart()
    std::vector<std::filesystem::path> trusted_cas{}; ///< more CAs "uploaded to the platform" than DIR/ca
    /// Also the HTTPS listener: EST enrollment by the tenant CA (one-time passwords registered
    /// through the bulk CSV), re-enrollment and the device token over HTTP with the same secret
    /// and tenant as the plugin, the administrator's calls. Its state (registrations) is in
    /// memory: restart() and take_down() lose it.
    bool https = false;
    int certificate_days = 365; ///< with https: validity of the certificates the tenant CA issues
    std::string est_answer = "pkcs7"; ///< with https: the EST answer's form, "pkcs7" or "pem"
    std::string admin_password{}; ///< with https: the administrator's password; empty: random
};

/// A running local platform: certificates in dir(), a broker on 127.0.0.1:port().
class local_platform {
public:
    using options = local_platform_options;

    explicit local_platform(options opts) : opts_(std::move(opts))
    {
        stop(); // a broker left by a crashed run would hold the directory
        if (opts_.persistence) {
            std::filesystem::remove(opts_.dir / "mosquitto.db"); // sessions of an earlier run
        }
        std::string pki =
            "python3 " + shell_quote(script()) + " pki --dir " + shell_quote(opts_.dir.string());
        for (const std::string& device : opts_.devices) {
            pki += " --device " + shell_quote(device);
        }
        for (const std::string& device : opts_.intermediate_devices) {
            pki += " --intermediate-device " + shell_quote(device);
        }
        step(pki + " --tenant " + shell_quote(opts_.tenant));
        std::filesystem::remove(opts_.dir / "clock-offset");
        if (!opts_.admin_password.empty()) {
            // start takes the password in this file when it is given none.
            const std::filesystem::path file = opts_.dir / "admin-password.txt";
            std::ofstream(file, std::ios::trunc) << opts_.admin_password;
            std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        }
        start(0, 0);
    }

    local_platform(const local_platform&) = delete;
    local_platform& operator=(const local_platform&) = delete;

    ~local_platform() { stop(); }

    /// Stops the broker (SIGTERM: with persistence, it saves its sessions) and starts it again
    /// on the same port; the HTTPS listener too, on its port, with its state lost.
    void restart()
    {
        take_down();
        bring_up();
    }

    /// Stops the broker cleanly until bring_up(): an outage. The HTTPS listener stops too.
    void take_down()
    {
        const std::string stopped = step("python3 " + shell_quote(script()) + " stop --dir " +
                                         shell_quote(opts_.dir.string()));
        if (stopped.find("killed") != std::string::npos) {
            throw std::runtime_error("local platform: the broker did not stop cleanly: " + stopped);
        }
    }

    /// Starts the broker taken down again, on the same port (the HTTPS listener on its own).
    void bring_up() { start(port_, https_port_); }

    /// Stops the broker where it is (SIGSTOP): connections stay open but nothing is answered.
    void suspend() const { signal_broker(SIGSTOP); }
    /// Lets a suspended broker run again (SIGCONT).
    void resume() const { signal_broker(SIGCONT); }

    /// Moves the plugin's clock `seconds` ahead of the system clock (from where it is now), so
    /// that token lifetimes pass without waiting.
    void advance_clock(std::chrono::seconds seconds)
    {
        clock_offset_ += seconds;
        std::ofstream(opts_.dir / "clock-offset") << clock_offset_.count() << "\n";
    }

    /// The broker's process id.
    int pid() const
    {
        std::ifstream file(opts_.dir / "mosquitto.pid");
        int pid = 0;
        if (!(file >> pid) || pid <= 0) {
            throw std::runtime_error("local platform: no broker pid in " + (opts_.dir / "mosquitto.pid").string());
        }
        return pid;
    }

    /// The broker's TLS port on 127.0.0.1 (its certificate names localhost only).
    int port() const { return port_; }

    /// The HTTPS listener's port on 127.0.0.1 (the broker's certificate); only with options::https.
    int https_port() const
    {
        if (!opts_.https) {
            throw std::logic_error("local platform: started without https, there is no HTTPS listener");
        }
        return https_port_;
    }
    /// "https://localhost:PORT" followed by `path`: the platform's URL for the SDK's REST calls.
    std::string https_url(const std::string& path = {}) const
    {
        return "https://localhost:" + std::to_string(https_port()) + path;
    }
    /// The administrator of the HTTPS listener (HTTP Basic).
    std::string admin_user() const { return "admin"; }
    std::string admin_password() const
    {
        std::ifstream file(opts_.dir / "admin-password.txt");
        std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
        if (text.empty()) {
            throw std::runtime_error("local platform: no administrator password in " +
                                     (opts_.dir / "admin-password.txt").string() + " (started without https?)");
        }
        return text;
    }

    const std::filesystem::path& dir() const { return opts_.dir; }

    /// The CA that signed the broker's certificate: what devices trust.
    std::filesystem::path server_ca() const { return opts_.dir / "server" / "serverCaCert.pem"; }
    /// The CA "uploaded to the platform": the broker trusts chains that end in it.
    std::filesystem::path trusted_ca() const { return opts_.dir / "ca" / "caCert.pem"; }
    /// The broker's log, where the plugin names the cause of every refusal.
    std::filesystem::path log() const { return opts_.dir / "mosquitto.log"; }
    /// The tenant CA (O=Cumulocity, CN=the tenant, EC P-256), made as the platform makes it: the
    /// broker trusts it, the HTTPS listener signs enrolled devices with it.
    std::filesystem::path tenant_ca() const { return opts_.dir / "tenant-ca" / "caCert.pem"; }
    /// Its private key, unencrypted.
    std::filesystem::path tenant_ca_key() const { return opts_.dir / "tenant-ca" / "caKey.pem"; }

    /// The files of a device by its CN; a ':' in the CN is '_' in the directory name.
    std::filesystem::path device_dir(const std::string& name) const
    {
        std::string directory = name;
        for (char& c : directory) {
            c = c == ':' ? '_' : c;
        }
        return opts_.dir / "devices" / directory;
    }
    std::filesystem::path chain(const std::string& name) const
    {
        return device_dir(name) / "deviceCertChain.pem";
    }
    std::filesystem::path certificate(const std::string& name) const
    {
        return device_dir(name) / "deviceCert.pem";
    }
    /// The device's aes256-encrypted private key; its password is password(name).
    std::filesystem::path key(const std::string& name) const { return device_dir(name) / "deviceKey.pem"; }
    /// PKCS#12 with the key and chain (alias devicekeyentry), protected by password(name).
    std::filesystem::path keystore(const std::string& name) const
    {
        return device_dir(name) / "deviceKeystore.p12";
    }
    std::string password(const std::string& name) const { return read_password(device_dir(name)); }
    /// The device's key without encryption (made on first use), for mosquitto_pub/_sub, which
    /// would prompt for a password.
    std::filesystem::path plain_key(const std::string& name) const
    {
        const std::filesystem::path out = device_dir(name) / "plainKey.pem";
        if (!std::filesystem::exists(out)) {
            run_command("openssl pkey -in " + shell_quote(key(name).string()) + " -passin pass:" + password(name) +
                        " -out " + shell_quote(out.string()));
        }
        return out;
    }

    /// A device (CN rogue-device) whose CA the broker does not trust; same files as a device.
    std::filesystem::path rogue_device_dir() const
    {
        return opts_.dir / "rogue" / "devices" / "rogue-device";
    }
    std::string rogue_password() const { return read_password(rogue_device_dir()); }

    /// A device signed by the intermediate CA; its chain is certificate, intermediate, CA.
    std::filesystem::path intermediate_device_dir(const std::string& name) const
    {
        return opts_.dir / "intermediate" / "devices" / name;
    }
    std::string intermediate_password(const std::string& name) const
    {
        return read_password(intermediate_device_dir(name));
    }

private:
    // Starts the broker on `port` and, with https, the HTTPS listener on `https_port` (0: free
    // ones), and keeps the ports.
    void start(int port, int https_port)
    {
        std::string cmd = "python3 " + shell_quote(script()) + " start --dir " + shell_quote(opts_.dir.string()) +
                          " --port " + std::to_string(port);
        if (opts_.persistence) {
            cmd += " --persistence";
        }
        for (const std::filesystem::path& ca : opts_.trusted_cas) {
            cmd += " --trust " + shell_quote(ca.string());
        }
        if (opts_.plugin) {
            cmd += " --plugin " + shell_quote(plugin_path());
        }
        if (opts_.https) {
            cmd += " --https --https-port " + std::to_string(https_port) + " --certificate-days " +
                   std::to_string(opts_.certificate_days) + " --est-answer " + shell_quote(opts_.est_answer);
        }
        if (opts_.plugin || opts_.https) {
            cmd += " --lifespan " + std::to_string(opts_.lifespan) + " --tenant " + shell_quote(opts_.tenant);
            if (!opts_.secret.empty()) {
                cmd += " --secret " + shell_quote(opts_.secret);
            }
            cmd += " --clock-offset-file " + shell_quote((opts_.dir / "clock-offset").string());
        }
        // The script prints the broker's port alone on a line, then, with https, the HTTPS
        // listener's on the last line.
        const std::string output = step(cmd);
        std::vector<std::string> lines;
        std::size_t begin = 0;
        while (begin < output.size()) {
            const std::size_t end = output.find('\n', begin);
            const std::string line = output.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
            if (!line.empty() && line.size() <= 5 && line.find_first_not_of("0123456789") == std::string::npos) {
                lines.push_back(line);
            }
            begin = end == std::string::npos ? output.size() : end + 1;
        }
        const std::size_t wanted = opts_.https ? 2 : 1;
        if (lines.size() < wanted) {
            stop();
            throw std::runtime_error("local platform: no port in the output of: " + cmd + "\n" + output);
        }
        port_ = std::stoi(lines[lines.size() - wanted]);
        if (opts_.https) {
            https_port_ = std::stoi(lines.back());
        }
    }

    static std::string script() { return std::string(C8Y_TEST_SCRIPT_DIR) + "/local_platform.py"; }

    // A sanitizer build's plugin cannot load into an uninstrumented mosquitto: such runs point
    // C8Y_TEST_PLUGIN at the plugin of a plain build.
    static std::string plugin_path()
    {
        const char* override_path = std::getenv("C8Y_TEST_PLUGIN");
        return override_path && *override_path ? override_path : C8Y_TEST_PLUGIN_PATH;
    }

    // Runs a step of the script; its stderr joins the output so that a failure shows why.
    static std::string step(const std::string& cmd)
    {
        int code = 0;
        std::string output = run_command(cmd + " 2>&1", &code);
        if (code != 0) {
            throw std::runtime_error("local platform: command failed (exit " + std::to_string(code) +
                                     "): " + cmd + "\n" + output);
        }
        return output;
    }

    void signal_broker(int sig) const
    {
        if (::kill(pid(), sig) != 0) {
            throw std::runtime_error("local platform: cannot signal the broker (pid " + std::to_string(pid()) + ")");
        }
    }

    static std::string read_password(const std::filesystem::path& directory)
    {
        std::ifstream file(directory / "password.txt");
        if (!file) {
            throw std::runtime_error("local platform: cannot read " + (directory / "password.txt").string());
        }
        std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
            text.pop_back();
        }
        return text;
    }

    void stop() noexcept
    {
        try {
            int code = 0;
            run_command("python3 " + shell_quote(script()) + " stop --dir " +
                            shell_quote(opts_.dir.string()) + " 2>&1",
                        &code);
        } catch (...) { // a destructor must not throw; the next start reports a broker left running
        }
    }

    options opts_;
    int port_ = 0;
    int https_port_ = 0;
    std::chrono::seconds clock_offset_{0};
};

} // namespace c8y::mtls::test
