// mqtt_bench: c8y-mtls against libmosquitto, Paho C and Paho C++, in one run, over the same
// broker with mutual TLS and the same certificates. Prints a Markdown table of every figure with
// the ratio of c8y-mtls to each peer, and whether the target of issue 3 is met.
//
//   mqtt_bench --port P --cafile SERVER_CA.pem --cert CHAIN.pem --key KEY.pem [--host H]
//              [--key-password-env VAR] [--connects N] [--qos0 N] [--qos1 N] [--window N]
//              [--payload BYTES] [--rounds N] [--minimal-dir DIR] [--process-runs N]
//              [--idle-ms MS] [--no-memory]
//
// Defaults: host localhost, password in $DEVICE_KEY_PASSWORD, 30 connects, 100000 QoS 0 and 20000
// QoS 1 messages of 64 bytes, window 20, 5 rounds, 10 process runs, idle 500 ms.
//
// Figures, each library in turn and the rounds interleaved so that a disturbance of the machine
// hits every library alike:
// - connect latency: TCP, TLS handshake and CONNACK, median over --connects connects;
// - throughput: --qos0 QoS 0 messages followed by one QoS 1 message whose PUBACK proves that the
//   broker read them all, and --qos1 QoS 1 messages until the last PUBACK; at most --window
//   messages incomplete at any time for every library; median over --rounds; with the CPU time
//   the client's process spent per message, which a busy machine disturbs less than the rate;
// - with --minimal-dir (the programs of benchmarks/minimal/, built -O2 and stripped): the whole
//   process of connect, one QoS 1 publish and disconnect (median of --process-runs), the program's
//   size, and unless --no-memory (sanitizer builds) the peak resident memory of that process
//   holding its connection idle for --idle-ms (median of three) and its peak heap under valgrind's
//   massif.
//
// Exit 0 once the table is printed (a missed target is reported, not an error); 1 when a
// library or a program fails; 2 for bad arguments.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench_args.hpp"
#include "mqtt_bench.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace bench {
namespace {

constexpr std::string_view usage =
    "usage: mqtt_bench --port P --cafile SERVER_CA.pem --cert CHAIN.pem --key KEY.pem [--host H]\n"
    "         [--key-password-env VAR] [--connects N] [--qos0 N] [--qos1 N] [--window N] [--payload BYTES]\n"
    "         [--rounds N] [--minimal-dir DIR] [--process-runs N] [--idle-ms MS] [--no-memory]\n";

struct settings {
    broker where;
    std::size_t connects = 30;
    std::size_t qos0 = 100000;
    std::size_t qos1 = 20000;
    std::size_t window = 20;
    std::size_t payload = 64;
    std::size_t rounds = 5;
    std::optional<fs::path> minimal_dir;
    std::size_t process_runs = 10;
    std::size_t idle_ms = 500;
    bool memory = true;
};

settings parse(int argc, char** argv)
{
    settings s;
    s.where.host = "localhost"; // the broker certificate's name
    std::string password_env = "DEVICE_KEY_PASSWORD";
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw usage_error{std::string(flag) + " wants a value"};
            return argv[++i];
        };
        if (flag == "--host")
            s.where.host = value();
        else if (flag == "--port")
            s.where.port = static_cast<unsigned short>(to_count(flag, value(), 1, 65535));
        else if (flag == "--cafile")
            s.where.cafile = value();
        else if (flag == "--cert")
            s.where.chain = value();
        else if (flag == "--key")
            s.where.key = value();
        else if (flag == "--key-password-env")
            password_env = value();
        else if (flag == "--connects")
            s.connects = to_count(flag, value(), 1, 100000);
        else if (flag == "--qos0")
            s.qos0 = to_count(flag, value(), 1, 100000000);
        else if (flag == "--qos1")
            s.qos1 = to_count(flag, value(), 1, 100000000);
        else if (flag == "--window")
            s.window = to_count(flag, value(), 1, 65535); // MQTT packet ids bound the QoS 1 window
        else if (flag == "--payload")
            s.payload = to_count(flag, value(), 0, 16000); // the platform's limit, less the header
        else if (flag == "--rounds")
            s.rounds = to_count(flag, value(), 1, 1000);
        else if (flag == "--minimal-dir")
            s.minimal_dir = value();
        else if (flag == "--process-runs")
            s.process_runs = to_count(flag, value(), 1, 10000);
        else if (flag == "--idle-ms")
            s.idle_ms = to_count(flag, value(), 0, 3600000);
        else if (flag == "--no-memory")
            s.memory = false;
        else
            throw usage_error{"unknown argument '" + std::string(flag) + "'"};
    }
    s.where.key_password = check_identity(s.where.port, s.where.cafile, s.where.chain, s.where.key, password_env);
    if (s.minimal_dir && !fs::is_directory(*s.minimal_dir))
        throw usage_error{"--minimal-dir " + s.minimal_dir->string() + ": no such directory"};
    return s;
}

double milliseconds(clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU time of this process, every thread, user and system (µs): the library's threads included.
double cpu_microseconds()
{
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

void progress(const std::string& line) { std::cerr << "mqtt_bench: " << line << std::endl; }

// ---- the table -------------------------------------------------------------------------------

// The libraries in the order of the table's columns; c8y-mtls first, the others its peers.
const std::array<std::string_view, 4> library_names = {"c8y-mtls", "libmosquitto", "Paho C", "Paho C++"};
constexpr std::size_t library_count = library_names.size();

enum class better { lower, higher };
enum class target { none, at_least_as_good, strictly_better };

struct figure {
    std::string label;
    better direction;
    target goal;
    int decimals;
    std::array<std::optional<double>, library_count> values{};
};

std::string format(double value, int decimals)
{
    std::ostringstream out;
    out << std::fixed << std::setprecision(decimals) << value;
    return out.str();
}

// How many times better c8y-mtls is than the peer: above 1 is better, whichever way the figure
// counts.
std::optional<double> advantage(const figure& f, std::size_t peer)
{
    if (!f.values[0] || !f.values[peer] || *f.values[0] <= 0 || *f.values[peer] <= 0)
        return std::nullopt;
    return f.direction == better::lower ? *f.values[peer] / *f.values[0] : *f.values[0] / *f.values[peer];
}

std::string verdict(const figure& f)
{
    if (f.goal == target::none)
        return "no target";
    std::vector<std::string> behind;
    for (std::size_t peer = 1; peer < library_count; ++peer) {
        const auto a = advantage(f, peer);
        if (!a)
            continue;
        const bool met = f.goal == target::at_least_as_good ? *a >= 1.0 : *a > 1.0;
        if (!met)
            behind.emplace_back(library_names[peer]);
    }
    if (behind.empty())
        return "met";
    std::string text = "MISSED (behind ";
    for (std::size_t i = 0; i < behind.size(); ++i)
        text += (i ? ", " : "") + behind[i];
    return text + ")";
}

void print_table(const std::vector<figure>& figures)
{
    std::cout << "| figure |";
    for (const auto name : library_names)
        std::cout << ' ' << name << " |";
    for (std::size_t peer = 1; peer < library_count; ++peer)
        std::cout << " c8y-mtls vs " << library_names[peer] << " |";
    std::cout << " target |\n|---|";
    for (std::size_t i = 0; i < library_count * 2 - 1; ++i)
        std::cout << "---:|";
    std::cout << "---|\n";
    for (const figure& f : figures) {
        std::cout << "| " << f.label << " |";
        for (const auto& value : f.values)
            std::cout << ' ' << (value ? format(*value, f.decimals) : std::string("n/a")) << " |";
        for (std::size_t peer = 1; peer < library_count; ++peer) {
            const auto a = advantage(f, peer);
            std::cout << ' ' << (a ? format(*a, 2) + "×" : std::string("n/a")) << " |";
        }
        std::cout << ' ' << verdict(f) << " |\n";
    }
    std::cout << "\nRatios: how many times better c8y-mtls is than the peer (above 1.00: c8y-mtls is better; "
                 "lower time, memory and size, higher throughput).\n";
}

// ---- connect latency and throughput ----------------------------------------------------------

void measure_network(const settings& s, std::vector<std::unique_ptr<mqtt_library>>& libraries,
                     std::vector<figure>& figures)
{
    figure latency{"connect latency, median of " + std::to_string(s.connects) + " (ms)", better::lower,
                   target::at_least_as_good, 2};
    figure qos0{"QoS 0 throughput, " + std::to_string(s.qos0) + " × " + std::to_string(s.payload) +
                    " B (messages/s)",
                better::higher, target::at_least_as_good, 0};
    figure qos1{"QoS 1 throughput, " + std::to_string(s.qos1) + " × " + std::to_string(s.payload) +
                    " B, window " + std::to_string(s.window) + " (messages/s)",
                better::higher, target::at_least_as_good, 0};
    figure qos0_cpu{"client CPU time per QoS 0 message (µs)", better::lower, target::none, 2};
    figure qos1_cpu{"client CPU time per QoS 1 message (µs)", better::lower, target::none, 2};

    std::vector<std::vector<double>> connect_ms(library_count);
    progress("connect latency: " + std::to_string(s.connects) + " connects per library");
    for (std::size_t i = 0; i < s.connects; ++i)
        for (std::size_t l = 0; l < library_count; ++l) {
            connect_ms[l].push_back(milliseconds(libraries[l]->connect()));
            libraries[l]->disconnect();
        }

    const std::string topic = "bench/mqtt";
    const std::string payload(s.payload, 'x');
    std::vector<std::vector<double>> qos0_rate(library_count), qos1_rate(library_count);
    std::vector<std::vector<double>> qos0_us(library_count), qos1_us(library_count);
    for (std::size_t round = 1; round <= s.rounds; ++round)
        for (std::size_t l = 0; l < library_count; ++l) {
            mqtt_library& library = *libraries[l];
            progress("throughput round " + std::to_string(round) + "/" + std::to_string(s.rounds) + ": " +
                     std::string(library.name()));
            library.connect();
            // Untimed warm-up: first-use allocations and the broker's session set up.
            library.publish(topic, payload, 1, std::min<std::size_t>(1000, s.qos1), s.window);

            auto start = clock::now();
            auto cpu_start = cpu_microseconds();
            library.publish(topic, payload, 0, s.qos0, s.window);
            library.publish(topic, payload, 1, 1, 1); // its PUBACK: the broker read every QoS 0 message
            qos0_rate[l].push_back(static_cast<double>(s.qos0) / (milliseconds(clock::now() - start) / 1000));
            qos0_us[l].push_back((cpu_microseconds() - cpu_start) / static_cast<double>(s.qos0));

            start = clock::now();
            cpu_start = cpu_microseconds();
            library.publish(topic, payload, 1, s.qos1, s.window);
            qos1_rate[l].push_back(static_cast<double>(s.qos1) / (milliseconds(clock::now() - start) / 1000));
            qos1_us[l].push_back((cpu_microseconds() - cpu_start) / static_cast<double>(s.qos1));
            library.disconnect();
        }

    for (std::size_t l = 0; l < library_count; ++l) {
        latency.values[l] = median(connect_ms[l]);
        qos0.values[l] = median(qos0_rate[l]);
        qos1.values[l] = median(qos1_rate[l]);
        qos0_cpu.values[l] = median(qos0_us[l]);
        qos1_cpu.values[l] = median(qos1_us[l]);
    }
    figures.push_back(latency);
    figures.push_back(qos0);
    figures.push_back(qos1);
    figures.push_back(qos0_cpu);
    figures.push_back(qos1_cpu);
}

// ---- the minimal programs: process time, memory, size ----------------------------------------

// The programs of benchmarks/minimal/, in the order of library_names.
const std::array<std::string_view, library_count> minimal_programs = {"c8y-mtls-minimal", "mosquitto-minimal",
                                                                      "paho-c-minimal", "paho-cpp-minimal"};
const std::string mqtt_bench_peak_rss_module = "mqtt-bench-peak-rss.so";

struct process_times {
    double wall_ms = 0;
    double cpu_ms = 0; ///< user and system, the process's own (a child's rusage is not inherited)
};

// Runs `argv` with `settings` added to its environment; fails unless it exits 0.
process_times run_process(const std::vector<std::string>& argv, const std::vector<std::string>& settings)
{
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry = *e;
        const bool replaced = std::any_of(settings.begin(), settings.end(), [&](const std::string& s) {
            return entry.substr(0, entry.find('=') + 1) == s.substr(0, s.find('=') + 1);
        });
        if (!replaced)
            environment.emplace_back(entry);
    }
    environment.insert(environment.end(), settings.begin(), settings.end());
    std::vector<char*> args, envp;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& e : environment)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    const auto start = clock::now();
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), envp.data());
    if (rc != 0)
        throw failure("cannot start " + argv[0] + ": " + std::strerror(rc));
    int status = 0;
    rusage usage{};
    pid_t waited = 0;
    do
        waited = ::wait4(pid, &status, 0, &usage);
    while (waited == -1 && errno == EINTR);
    const auto end = clock::now();
    if (waited != pid)
        throw failure("cannot wait for " + argv[0] + ": " + std::strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw failure(argv[0] + (WIFEXITED(status) ? " exited with status " + std::to_string(WEXITSTATUS(status))
                                                   : " was killed by signal " + std::to_string(WTERMSIG(status))) +
                      " (its error output is above)");
    const double cpu_us = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
                          static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
    return {milliseconds(end - start), cpu_us / 1000};
}

// The peak resident memory (KiB) that peak_rss.c, preloaded, wrote for the last program.
double read_peak_rss(const fs::path& file)
{
    std::ifstream in(file);
    double kib = -1;
    if (!(in >> kib) || kib <= 0)
        throw failure("no peak resident memory in " + file.string() + " (was " + mqtt_bench_peak_rss_module +
                      " preloaded?)");
    return kib;
}

// The largest heap in use (bytes the program asked for) over a massif profile.
double massif_peak_heap(const fs::path& profile)
{
    std::ifstream in(profile);
    if (!in)
        throw failure("cannot read the massif profile " + profile.string());
    double peak = -1;
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("mem_heap_B=", 0) == 0)
            peak = std::max(peak, std::stod(line.substr(11)));
    if (peak < 0)
        throw failure("no heap snapshot in the massif profile " + profile.string());
    return peak;
}

// The program's size plus that of the shared libraries it loads, glibc's own left out: every
// Linux device has those, while libstdc++ and the TLS and MQTT libraries are the program's cost.
double size_with_libraries(const fs::path& program)
{
    static const std::set<std::string> glibc = {"linux-vdso.so.1", "libc.so.6",  "libm.so.6",  "libpthread.so.0",
                                                "libdl.so.2",      "librt.so.1", "ld-linux-x86-64.so.2"};
    const std::string command = "ldd '" + program.string() + "' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr)
        throw failure("cannot run ldd");
    std::string output;
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
        output.append(buffer.data(), n);
    if (::pclose(pipe) != 0)
        throw failure("ldd " + program.string() + " failed:\n" + output);
    auto total = static_cast<double>(fs::file_size(program));
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        // "\tlibfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" or "\t/lib64/ld-linux... (0x...)"
        std::istringstream words(line);
        std::string soname, arrow, path;
        words >> soname >> arrow >> path;
        if (glibc.contains(fs::path(soname).filename().string()))
            continue;
        if (arrow != "=>" || path.empty() || path[0] != '/')
            throw failure("ldd " + program.string() + ": cannot resolve '" + line + "'");
        total += static_cast<double>(fs::file_size(fs::canonical(path)));
    }
    return total;
}

void measure_programs(const settings& s, std::vector<figure>& figures)
{
    const fs::path dir = *s.minimal_dir;
    auto arguments = [&](std::size_t l, std::size_t idle_ms) {
        return std::vector<std::string>{(dir / minimal_programs[l]).string(),
                                        s.where.host,
                                        std::to_string(s.where.port),
                                        s.where.cafile,
                                        s.where.chain,
                                        s.where.key,
                                        std::to_string(idle_ms)};
    };
    for (std::size_t l = 0; l < library_count; ++l)
        if (!fs::is_regular_file(dir / minimal_programs[l]))
            throw failure((dir / minimal_programs[l]).string() + ": no such program (build benchmarks/minimal/)");
    const std::vector<std::string> password = {"DEVICE_KEY_PASSWORD=" + s.where.key_password};

    figure process{"connect, publish, disconnect: whole process, median of " + std::to_string(s.process_runs) + " (ms)",
                   better::lower, target::at_least_as_good, 1};
    figure process_cpu{"CPU time of that process (ms)", better::lower, target::none, 2};
    figure rss{"peak resident memory, one client connected and idle " + std::to_string(s.idle_ms) + " ms (KiB)",
               better::lower, target::strictly_better, 0};
    figure heap{"peak heap (massif), same process (KiB)", better::lower, target::strictly_better, 1};
    figure size{"stripped minimal program (KiB)", better::lower, target::strictly_better, 1};
    figure size_all{"stripped minimal program + its shared libraries but glibc (KiB)", better::lower,
                    target::strictly_better, 0};

    progress("minimal programs: " + std::to_string(s.process_runs) + " runs each");
    std::vector<std::vector<double>> wall(library_count), cpu(library_count);
    for (std::size_t i = 0; i < s.process_runs; ++i)
        for (std::size_t l = 0; l < library_count; ++l) {
            const process_times times = run_process(arguments(l, 0), password);
            wall[l].push_back(times.wall_ms);
            cpu[l].push_back(times.cpu_ms);
        }
    for (std::size_t l = 0; l < library_count; ++l) {
        process.values[l] = median(wall[l]);
        process_cpu.values[l] = median(cpu[l]);
        size.values[l] = static_cast<double>(fs::file_size(dir / minimal_programs[l])) / 1024;
        size_all.values[l] = size_with_libraries(dir / minimal_programs[l]) / 1024;
    }
    figures.push_back(process);
    figures.push_back(process_cpu);

    if (s.memory) {
        const fs::path module = fs::absolute(dir / mqtt_bench_peak_rss_module);
        if (!fs::is_regular_file(module))
            throw failure(module.string() + ": no such module (build benchmarks/minimal/)");
        const fs::path scratch = fs::temp_directory_path() / ("mqtt_bench-" + std::to_string(::getpid()));
        fs::create_directories(scratch);
        progress("minimal programs: peak resident memory, idle " + std::to_string(s.idle_ms) + " ms");
        std::vector<std::vector<double>> resident(library_count);
        const fs::path rss_file = scratch / "peak-rss";
        std::vector<std::string> preload = password;
        preload.push_back("LD_PRELOAD=" + module.string());
        preload.push_back("MQTT_BENCH_PEAK_RSS_FILE=" + rss_file.string());
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t l = 0; l < library_count; ++l) {
                fs::remove(rss_file);
                run_process(arguments(l, s.idle_ms), preload);
                resident[l].push_back(read_peak_rss(rss_file));
            }
        for (std::size_t l = 0; l < library_count; ++l) {
            rss.values[l] = median(resident[l]);
            progress("minimal programs: heap profile of " + std::string(library_names[l]) + " (valgrind massif)");
            const fs::path profile = scratch / ("massif-" + std::string(minimal_programs[l]));
            std::vector<std::string> command = {"valgrind", "--tool=massif", "--quiet", "--stacks=no",
                                                "--peak-inaccuracy=0.0", "--massif-out-file=" + profile.string()};
            const auto program = arguments(l, s.idle_ms);
            command.insert(command.end(), program.begin(), program.end());
            run_process(command, password);
            heap.values[l] = massif_peak_heap(profile) / 1024;
        }
        fs::remove_all(scratch);
        figures.push_back(rss);
        figures.push_back(heap);
    }
    figures.push_back(size);
    figures.push_back(size_all);
}

} // namespace
} // namespace bench

int main(int argc, char** argv)
{
    using namespace bench;
    settings s;
    try {
        s = parse(argc, argv);
    } catch (const usage_error& e) {
        std::cerr << "mqtt_bench: " << e.what << "\n" << usage;
        return 2;
    }
    try {
        std::vector<std::unique_ptr<mqtt_library>> libraries;
        libraries.push_back(make_c8y_mtls(s.where));
        libraries.push_back(make_libmosquitto(s.where));
        libraries.push_back(make_paho_c(s.where));
        libraries.push_back(make_paho_cpp(s.where));

        std::vector<figure> figures;
        measure_network(s, libraries, figures);
        if (s.minimal_dir)
            measure_programs(s, figures);

        std::cout << "MQTT over mutual TLS to mosquitto on " << s.where.host << ":" << s.where.port << "; payload "
                  << s.payload << " B, window " << s.window << ", " << s.rounds << " rounds.\n\n";
        print_table(figures);
        return 0;
    } catch (const failure& e) {
        std::cerr << "mqtt_bench: " << e.what() << "\n";
        return 1;
    }
}
