// c8y-mtls tests: a server program started for one test (openssl s_server, the wolfSSL test
// server, tls_probe.py), its output in a file, killed when the object goes.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace c8y::mtls::test {

class server_process {
public:
    /// For a program that listens on no port (a client): the constructor waits for nothing.
    static constexpr const char* no_port = "\n(no port)";

    /// Runs `argv` with stdout and stderr to `output_file`, then waits until its output names the
    /// port it listens on: after `port_marker` when given ("ACCEPT 127.0.0.1:" for s_server),
    /// else as the first line. Its stdin stays open and empty (s_server ends at its end).
    server_process(const std::vector<std::string>& argv, std::filesystem::path output_file, std::string port_marker = {})
        : output_(std::move(output_file))
    {
        int input[2];
        if (::pipe2(input, O_CLOEXEC) != 0)
            throw std::runtime_error("no pipe for " + argv[0]);
        stdin_ = input[1];
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);
        ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                           0644);
        ::posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
        std::vector<std::string> args = argv;
        std::vector<char*> raw;
        for (std::string& a : args)
            raw.push_back(a.data());
        raw.push_back(nullptr);
        const int spawned = ::posix_spawnp(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(input[0]);
        if (spawned != 0) {
            pid_ = 0;
            throw std::runtime_error("cannot run " + argv[0]);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (port_marker != no_port && port_ == 0) {
            const std::string text = output();
            if (const auto port = port_in(text, port_marker))
                port_ = *port;
            else if (exited() || std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error(argv[0] + " did not start listening: " + text);
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;
    ~server_process() { kill(); }

    std::uint16_t port() const noexcept { return port_; }
    pid_t pid() const noexcept { return pid_; }

    std::string output() const
    {
        std::ifstream in(output_);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    /// Its whole output, once it exited (killed after `bound`).
    std::string finish(std::chrono::milliseconds bound = std::chrono::seconds(10))
    {
        const auto deadline = std::chrono::steady_clock::now() + bound;
        while (!exited() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        kill();
        return output();
    }

    /// SIGKILL, at once.
    void kill_now() noexcept { kill(); }

private:
    static std::optional<std::uint16_t> port_in(const std::string& text, const std::string& marker)
    {
        std::size_t at = 0;
        if (!marker.empty()) {
            at = text.find(marker);
            if (at == std::string::npos)
                return std::nullopt;
            at += marker.size();
        }
        const std::size_t end = text.find_first_not_of("0123456789", at);
        if (end == std::string::npos || end == at || (marker.empty() && text[end] != '\n'))
            return std::nullopt;
        return static_cast<std::uint16_t>(std::stoi(text.substr(at, end - at)));
    }

    bool exited()
    {
        if (pid_ == 0)
            return true;
        if (::waitpid(pid_, nullptr, WNOHANG) != pid_)
            return false;
        pid_ = 0;
        return true;
    }

    void kill() noexcept
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = 0;
        }
        if (stdin_ >= 0)
            ::close(stdin_);
        stdin_ = -1;
    }

    std::filesystem::path output_;
    pid_t pid_ = 0;
    int stdin_ = -1;
    std::uint16_t port_ = 0;
};

} // namespace c8y::mtls::test
