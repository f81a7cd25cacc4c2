// c8y-mtls tests: the HTTPS server that plays the platform's REST API
// (scripts/platform_https.py) as an RAII object.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "local_platform.hpp"

namespace c8y::mtls::test {

/// A fresh HMAC key for the tokens of one test program.
inline std::string random_secret()
{
    std::random_device random;
    std::string secret = "secret-";
    for (int i = 0; i < 16; ++i)
        secret += "0123456789abcdef"[random() % 16];
    return secret;
}

inline std::string https_server_script() { return std::string(C8Y_TEST_SCRIPT_DIR) + "/platform_https.py"; }

/// scripts/platform_https.py, started on a free port with the local platform's server
/// certificate; it asks for client certificates of the platform's trusted CA. `extra` is added to
/// its command line (`--tenant t7`). Killed by its pid when destroyed.
class https_server {
public:
    https_server(const local_platform& platform, const std::string& secret, const std::string& extra = {})
        : secret_(secret)
    {
        const std::filesystem::path server = platform.dir() / "server";
        const std::string cmd = "exec python3 " + shell_quote(https_server_script()) + " serve --cert " +
                                shell_quote((server / "serverCert.pem").string()) + " --key " +
                                shell_quote((server / "serverKey.pem").string()) + " --client-ca " +
                                shell_quote(platform.trusted_ca().string()) + " --secret " + shell_quote(secret) +
                                " --log " + shell_quote((platform.dir() / "https_server.log").string()) + " " + extra;
        pipe_ = ::popen(cmd.c_str(), "r");
        if (pipe_ == nullptr)
            throw std::runtime_error("cannot start " + cmd);
        int port = 0;
        long pid = 0;
        if (std::fscanf(pipe_, "%d %ld", &port, &pid) != 2) {
            ::pclose(pipe_);
            throw std::runtime_error("the HTTPS test server did not print its port: " + cmd);
        }
        port_ = port;
        pid_ = static_cast<pid_t>(pid);
    }
    https_server(const https_server&) = delete;
    https_server& operator=(const https_server&) = delete;
    ~https_server()
    {
        ::kill(pid_, SIGTERM);
        ::pclose(pipe_);
    }

    std::string url(const std::string& path) const { return "https://localhost:" + std::to_string(port_) + path; }

    // A token signed with the plugin's secret (or another), as the plugin would make it.
    std::string mint(const std::string& subject, std::int64_t iat, std::int64_t exp,
                     const std::string& secret = {}) const
    {
        std::string jwt = run_command("python3 " + shell_quote(https_server_script()) + " mint --secret " +
                                      shell_quote(secret.empty() ? secret_ : secret) + " --sub " +
                                      shell_quote(subject) + " --iat " + std::to_string(iat) + " --exp " +
                                      std::to_string(exp));
        while (!jwt.empty() && (jwt.back() == '\n' || jwt.back() == '\r'))
            jwt.pop_back();
        return jwt;
    }

private:
    std::string secret_;
    FILE* pipe_ = nullptr;
    int port_ = 0;
    pid_t pid_ = 0;
};

} // namespace c8y::mtls::test
