// fleet_bench: a thousand devices in one process. N sessions, each with its own device key and
// certificate (so each its own TLS context), on one event loop on one thread, for c8y-mtls and
// for libmosquitto, against one broker requiring client certificates. For each library and N it
// reports connects per second and client CPU per connect (from the first session made to the
// last CONNACK, construction included: libmosquitto makes its TLS context at connect time), and
// what an idle session costs: heap in use (mallinfo2) and resident set after connecting and
// idling, minus before, divided by N.
//
// Every (library, N) runs in a child process of its own, so that one library's global state,
// caches and heap fragmentation never count for the other.
//
//   fleet_bench --host H --port P --cafile SERVER_CA.pem --ca-cert CA.pem --ca-key CA_KEY.pem
//               --dir DIR [--ca-password-env NAME] [--sessions 100,1000,3000] [--window 32]
//               [--idle-ms 1000] [--key-type ec256|rsa2048] [--libraries c8y-mtls,libmosquitto]
//               [--rounds 1]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "bench_args.hpp"
#include "fleet_bench.hpp"

namespace {

struct arguments {
    fleet::setup where;
    fleet::pki authority;
    std::string password_env = "DEVICE_CA_PASSWORD";
    std::vector<std::size_t> sessions{100, 1000, 3000};
    std::vector<std::string> libraries{"c8y-mtls", "libmosquitto"};
    std::size_t rounds = 1;
};

std::vector<std::string> split(const std::string& list)
{
    std::vector<std::string> parts;
    std::stringstream in(list);
    for (std::string part; std::getline(in, part, ',');)
        parts.push_back(part);
    return parts;
}

arguments parse(int argc, char** argv)
{
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc)
            throw bench::usage_error{flag + " needs a value"};
        const std::string value = argv[++i];
        if (flag == "--host")
            a.where.host = value;
        else if (flag == "--port")
            a.where.port = static_cast<unsigned short>(bench::to_count(flag, value, 1, 65535));
        else if (flag == "--cafile")
            a.where.cafile = value;
        else if (flag == "--ca-cert")
            a.authority.ca_cert = value;
        else if (flag == "--ca-key")
            a.authority.ca_key = value;
        else if (flag == "--ca-password-env")
            a.password_env = value;
        else if (flag == "--dir")
            a.authority.dir = value;
        else if (flag == "--window")
            a.where.window = bench::to_count(flag, value, 1, 100000);
        else if (flag == "--idle-ms")
            a.where.idle = std::chrono::milliseconds(bench::to_count(flag, value, 0, 600000));
        else if (flag == "--rounds")
            a.rounds = bench::to_count(flag, value, 1, 100);
        else if (flag == "--key-type") {
            if (value != "ec256" && value != "rsa2048")
                throw bench::usage_error{"--key-type wants ec256 or rsa2048, not '" + value + "'"};
            a.authority.key_type = value;
        } else if (flag == "--sessions") {
            a.sessions.clear();
            for (const std::string& n : split(value))
                a.sessions.push_back(bench::to_count(flag, n, 1, 100000));
        } else if (flag == "--libraries") {
            a.libraries = split(value);
            for (const std::string& l : a.libraries)
                if (l != "c8y-mtls" && l != "libmosquitto")
                    throw bench::usage_error{"--libraries: unknown library '" + l + "'"};
        } else
            throw bench::usage_error{"unknown flag " + flag};
    }
    if (a.where.host.empty() || a.where.port == 0 || a.where.cafile.empty() || a.authority.ca_cert.empty() ||
        a.authority.ca_key.empty() || a.authority.dir.empty())
        throw bench::usage_error{"--host, --port, --cafile, --ca-cert, --ca-key and --dir are required"};
    const char* password = std::getenv(a.password_env.c_str());
    if (password == nullptr)
        throw bench::usage_error{"the CA key's password is not in $" + a.password_env + " (--ca-password-env)"};
    a.authority.ca_password = password;
    return a;
}

// Room for every session's socket, with some to spare.
void raise_file_limit(std::size_t sessions)
{
    struct rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    const rlim_t wanted = static_cast<rlim_t>(sessions) + 256;
    if (limit.rlim_cur >= wanted)
        return;
    if (limit.rlim_max < wanted)
        throw fleet::failure("RLIMIT_NOFILE's hard limit " + std::to_string(limit.rlim_max) + " is below the " +
                             std::to_string(wanted) + " files " + std::to_string(sessions) + " sessions need");
    limit.rlim_cur = wanted;
    setrlimit(RLIMIT_NOFILE, &limit);
}

// Runs one library with N sessions in a child process; the child sends its result through a pipe.
fleet::result run_isolated(const arguments& a, const std::string& library, const std::vector<fleet::device>& devices)
{
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0)
        throw fleet::failure("pipe failed");
    std::cout.flush();
    const pid_t child = fork();
    if (child < 0)
        throw fleet::failure("fork failed");
    if (child == 0) {
        close(pipe_fds[0]);
        int status = 0;
        try {
            const fleet::result r = library == "c8y-mtls" ? fleet::run_c8y_mtls(a.where, devices)
                                                          : fleet::run_libmosquitto(a.where, devices);
            if (write(pipe_fds[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r))
                status = 1;
        } catch (const std::exception& e) {
            std::cerr << e.what() << '\n';
            status = 1;
        }
        std::_Exit(status); // neither the parent's buffers nor its destructors are the child's
    }
    close(pipe_fds[1]);
    fleet::result r;
    const ssize_t got = read(pipe_fds[0], &r, sizeof r);
    close(pipe_fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (got != static_cast<ssize_t>(sizeof r) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw fleet::failure(library + " with " + std::to_string(devices.size()) + " sessions failed");
    return r;
}

struct row {
    double connects_per_s, cpu_ms_per_connect, heap_kib, rss_kib;
};

row figures(const fleet::result& r, std::size_t n)
{
    const double count = static_cast<double>(n);
    const double seconds = std::chrono::duration<double>(r.connected.at - r.before.at).count();
    auto per_session_kib = [&](std::size_t before, std::size_t after) {
        return (static_cast<double>(after) - static_cast<double>(before)) / count / 1024.0;
    };
    return {count / seconds, (r.connected.cpu_s - r.before.cpu_s) * 1000.0 / count,
            per_session_kib(r.before.heap, r.idle.heap), per_session_kib(r.before.rss, r.idle.rss)};
}

} // namespace

int main(int argc, char** argv)
{
    arguments a;
    try {
        a = parse(argc, argv);
    } catch (const bench::usage_error& e) {
        std::cerr << "fleet_bench: " << e.what << "\n";
        std::cerr << "usage: fleet_bench --host H --port P --cafile SERVER_CA.pem --ca-cert CA.pem --ca-key CA_KEY.pem\n"
                     "                   --dir DIR [--ca-password-env NAME] [--sessions 100,1000,3000] [--window 32]\n"
                     "                   [--idle-ms 1000] [--key-type ec256|rsa2048]\n"
                     "                   [--libraries c8y-mtls,libmosquitto] [--rounds 1]\n";
        return 2;
    }
    try {
        std::size_t most = 0;
        for (const std::size_t n : a.sessions)
            most = std::max(most, n);
        raise_file_limit(most);
        const std::vector<fleet::device> all = fleet::make_devices(a.authority, most);

        std::printf("fleet: N sessions on one thread, each its own %s key and certificate; %zu connecting at once; "
                    "idle %lld ms before measuring; median of %zu round(s)\n",
                    a.authority.key_type.c_str(), a.where.window, static_cast<long long>(a.where.idle.count()),
                    a.rounds);
        std::printf("%-14s %9s %12s %15s %18s %17s\n", "library", "sessions", "connects/s", "CPU ms/connect",
                    "heap KiB/session", "RSS KiB/session");
        for (const std::size_t n : a.sessions) {
            const std::vector<fleet::device> devices(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
            for (const std::string& library : a.libraries) {
                std::vector<double> rate, cpu, heap, rss;
                for (std::size_t round = 0; round < a.rounds; ++round) {
                    const row f = figures(run_isolated(a, library, devices), n);
                    rate.push_back(f.connects_per_s);
                    cpu.push_back(f.cpu_ms_per_connect);
                    heap.push_back(f.heap_kib);
                    rss.push_back(f.rss_kib);
                }
                std::printf("%-14s %9zu %12.0f %15.2f %18.1f %17.1f\n", library.c_str(), n, bench::median(rate),
                            bench::median(cpu), bench::median(heap), bench::median(rss));
                std::fflush(stdout);
            }
        }
    } catch (const std::exception& e) {
        std::cerr << "fleet_bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
