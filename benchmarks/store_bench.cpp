// store_bench: what a Store costs, in one run: c8y-mtls's client with the memory queue
// (memory_store), and with the durable SQLite store (sqlite_store) at synchronous NORMAL and FULL,
// connected to the same broker over mutual TLS. Prints a Markdown table with the ratio of each
// durable store to the memory queue, and whether the targets of issue 13 are met.
//
//   store_bench --port P --cafile SERVER_CA.pem --cert CHAIN.pem --key KEY.pem [--host H]
//               [--key-password-env VAR] [--messages N] [--payload BYTES] [--rounds N]
//               [--scaling N,N,...] [--dir DIR] [--no-memory]
//
// Defaults: host localhost, password in $DEVICE_KEY_PASSWORD, 20000 QoS 1 messages of 64 bytes on
// "s/us", 3 rounds, scaling 1000,10000,100000,300000, store files in a fresh directory under /tmp.
//
// Each round, for each store in turn, on a client connected anew (max_in_flight 20, a store big
// enough for every message):
// - accepted: publish() called --messages times in one go on the client's executor, each with a
//   completion handler that counts; nothing is sent meanwhile (the writer runs once the loop
//   returns), so every message waits in the store: the rate at which publish() accepts;
// - memory per queued message: the heap in use (glibc's mallinfo2) after that loop less before,
//   per message: the store's entry, the encoded packet, the waiting handler and whatever the
//   store itself allocates (SQLite's page cache included);
// - drained: from the end of that loop until the last PUBACK: the rate at which the store empties
//   into a connected session (for SQLite, the commit of the accepted messages included: it comes
//   once the loop returned to the executor);
// - end to end: messages over the whole time, accepted and drained.
// Scaling (memory queue only): the same at every count of --scaling, to show enqueue and drain
// stay linear.
//
// Exit 0 once the table is printed (a missed target is reported, not an error); 1 when a run
// fails; 2 for bad arguments.
#include <malloc.h>

#include <c8y/mtls.hpp>
#include <c8y/mtls/sqlite_store.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_args.hpp"

namespace mtls = c8y::mtls;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

using bench::median;
using bench::to_count;
using bench::usage_error;

constexpr std::string_view usage =
    "usage: store_bench --port P --cafile SERVER_CA.pem --cert CHAIN.pem --key KEY.pem [--host H]\n"
    "         [--key-password-env VAR] [--messages N] [--payload BYTES] [--rounds N]\n"
    "         [--scaling N,N,...] [--dir DIR] [--no-memory]\n";

constexpr std::string_view topic = "s/us";

struct settings {
    std::string host = "localhost";
    unsigned short port = 0;
    std::string cafile, chain, key, key_password;
    std::size_t messages = 20000;
    std::size_t payload = 64;
    std::size_t rounds = 3;
    std::vector<std::size_t> scaling = {1000, 10000, 100000, 300000};
    std::optional<fs::path> dir;
    bool memory = true;
};

settings parse(int argc, char** argv)
{
    settings s;
    std::string password_env = "DEVICE_KEY_PASSWORD";
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw usage_error{std::string(flag) + " wants a value"};
            return argv[++i];
        };
        if (flag == "--host")
            s.host = value();
        else if (flag == "--port")
            s.port = static_cast<unsigned short>(to_count(flag, value(), 1, 65535));
        else if (flag == "--cafile")
            s.cafile = value();
        else if (flag == "--cert")
            s.chain = value();
        else if (flag == "--key")
            s.key = value();
        else if (flag == "--key-password-env")
            password_env = value();
        else if (flag == "--messages")
            s.messages = to_count(flag, value(), 1, 10000000);
        else if (flag == "--payload")
            s.payload = to_count(flag, value(), 0, 16000);
        else if (flag == "--rounds")
            s.rounds = to_count(flag, value(), 1, 1000);
        else if (flag == "--scaling") {
            s.scaling.clear();
            std::stringstream list(value());
            for (std::string item; std::getline(list, item, ',');)
                s.scaling.push_back(to_count(flag, item, 1, 10000000));
        } else if (flag == "--dir")
            s.dir = value();
        else if (flag == "--no-memory")
            s.memory = false;
        else
            throw usage_error{"unknown argument '" + std::string(flag) + "'"};
    }
    s.key_password = bench::check_identity(s.port, s.cafile, s.chain, s.key, password_env);
    if (s.dir && !fs::is_directory(*s.dir))
        throw usage_error{"--dir " + s.dir->string() + ": no such directory"};
    return s;
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

struct run_result {
    double accepted_per_s = 0;
    double drained_per_s = 0;
    double end_to_end_per_s = 0;
    double heap_per_message = 0;
};

// One run: a client with `store`, connected; `count` publishes accepted in one go, then drained.
template <class Store>
run_result measure(const settings& s, Store store, std::size_t count)
{
    asio::io_context io;
    mtls::basic_client<mtls::asio_tcp_transport, mtls::wolfssl_tls, std::chrono::system_clock, Store> client(
        io.get_executor(), mtls::credentials::from_pem_files(s.chain, s.key, s.key_password),
        mtls::truststore::from_path(s.cafile), {}, std::move(store));
    mtls::connect_options options;
    options.host = s.host;
    options.port = s.port;
    options.send_queue.max_messages = count;
    options.send_queue.max_bytes = count * (s.payload + topic.size() + 16 + mtls::queued_message_overhead);

    std::exception_ptr failure;
    auto run_until = [&](auto done, std::string_view what) {
        while (!done() && !failure)
            if (io.run_one_for(std::chrono::minutes(5)) == 0)
                throw std::runtime_error(std::string(what) + " did not complete within 5 minutes");
        if (failure)
            std::rethrow_exception(failure);
    };

    bool connected = false;
    asio::co_spawn(io, client.connect(options), [&](std::exception_ptr e) {
        failure = e;
        connected = true;
    });
    run_until([&] { return connected; }, "connect");

    const std::string payload(s.payload, 'x');
    std::size_t completed = 0;
    run_result r;
    steady::time_point start, accepted;
    std::size_t heap_before = 0, heap_after = 0;
    bool posted = false;
    asio::post(io, [&] {
        heap_before = heap_in_use();
        start = steady::now();
        for (std::size_t i = 0; i < count; ++i)
            client.publish(std::string(topic), payload, mtls::mqtt::qos::at_least_once, false,
                           [&](std::error_code ec) {
                               if (ec && !failure)
                                   failure = std::make_exception_ptr(*mtls::completion_error());
                               ++completed;
                           });
        accepted = steady::now();
        heap_after = heap_in_use();
        posted = true;
    });
    run_until([&] { return posted && completed == count; }, "publishing");
    const auto drained = steady::now();

    bool left = false;
    asio::co_spawn(io, client.disconnect(), [&](std::exception_ptr e) {
        failure = e;
        left = true;
    });
    run_until([&] { return left; }, "disconnect");

    const auto seconds = [](steady::duration d) { return std::chrono::duration<double>(d).count(); };
    r.accepted_per_s = static_cast<double>(count) / seconds(accepted - start);
    r.drained_per_s = static_cast<double>(count) / seconds(drained - accepted);
    r.end_to_end_per_s = static_cast<double>(count) / seconds(drained - start);
    r.heap_per_message = (static_cast<double>(heap_after) - static_cast<double>(heap_before)) / static_cast<double>(count);
    return r;
}

std::string fixed(double value, int decimals)
{
    std::ostringstream out;
    out << std::fixed << std::setprecision(decimals) << value;
    return out.str();
}

void progress(const std::string& line) { std::cerr << "store_bench: " << line << std::endl; }

enum store_kind { memory, sqlite_normal, sqlite_full };
constexpr std::array<std::string_view, 3> store_names = {"memory queue", "SQLite NORMAL", "SQLite FULL"};

run_result measure_kind(const settings& s, store_kind kind, std::size_t count, const fs::path& dir)
{
    if (kind == memory)
        return measure(s, mtls::memory_store{}, count);
    const fs::path file = dir / (kind == sqlite_normal ? "normal.db" : "full.db");
    for (const char* suffix : {"", "-wal", "-shm"})
        fs::remove(file.string() + suffix);
    mtls::sqlite_store_options options;
    options.synchronous = kind == sqlite_normal ? mtls::sqlite_store_options::sync::normal
                                                : mtls::sqlite_store_options::sync::full;
    return measure(s, mtls::sqlite_store(file, options), count);
}

int run(const settings& s)
{
    const fs::path dir = s.dir ? *s.dir : fs::path(::mkdtemp(std::string("/tmp/store_bench.XXXXXX").data()));
    const bool own_dir = !s.dir;

    std::array<std::vector<run_result>, 3> results;
    for (std::size_t round = 1; round <= s.rounds; ++round)
        for (const store_kind kind : {memory, sqlite_normal, sqlite_full}) {
            progress("round " + std::to_string(round) + ": " + std::string(store_names[kind]));
            results[kind].push_back(measure_kind(s, kind, s.messages, dir));
        }

    auto figure = [&](store_kind kind, double run_result::*field) {
        std::vector<double> values;
        for (const run_result& r : results[kind])
            values.push_back(r.*field);
        return median(values);
    };

    const std::string what = std::to_string(s.messages) + " × " + std::to_string(s.payload) + " B, QoS 1";
    std::cout << "| figure (" << what << ", median of " << s.rounds << ") | memory queue | SQLite NORMAL | SQLite FULL"
              << " | NORMAL / memory | FULL / memory | target |\n|---|---:|---:|---:|---:|---:|---|\n";
    auto row = [&](const std::string& label, double run_result::*field, int decimals, const std::string& target) {
        const double m = figure(memory, field), n = figure(sqlite_normal, field), f = figure(sqlite_full, field);
        std::cout << "| " << label << " | " << fixed(m, decimals) << " | " << fixed(n, decimals) << " | "
                  << fixed(f, decimals) << " | " << fixed(n / m, 2) << " | " << fixed(f / m, 2) << " | " << target
                  << " |\n";
    };
    const double normal_ratio = figure(sqlite_normal, &run_result::end_to_end_per_s) /
                                figure(memory, &run_result::end_to_end_per_s);
    row("accepted (messages/s)", &run_result::accepted_per_s, 0, "no target");
    row("drained into the session (messages/s)", &run_result::drained_per_s, 0, "no target");
    row("accepted and drained, end to end (messages/s)", &run_result::end_to_end_per_s, 0,
        normal_ratio >= 0.5 ? "met (NORMAL ≥ 0.5 × memory)" : "MISSED (NORMAL < 0.5 × memory)");
    if (s.memory) {
        const double bound = static_cast<double>(topic.size() + s.payload + mtls::queued_message_overhead);
        std::cout << "| heap per queued message (bytes; bound: topic + payload + 64 = " << fixed(bound, 0) << ")";
        for (const store_kind kind : {memory, sqlite_normal, sqlite_full})
            std::cout << " | " << fixed(figure(kind, &run_result::heap_per_message), 1);
        bool met = true;
        for (const store_kind kind : {memory, sqlite_normal, sqlite_full})
            met = met && figure(kind, &run_result::heap_per_message) <= bound;
        std::cout << " | | | " << (met ? "met" : "MISSED") << " |\n";
    }

    if (!s.scaling.empty()) {
        std::cout << "\n| memory queue: messages queued at once | µs per publish() accepted | drained (messages/s)";
        if (s.memory)
            std::cout << " | heap per queued message (bytes)";
        std::cout << " |\n|---:|---:|---:|" << (s.memory ? "---:|" : "") << "\n";
        for (const std::size_t count : s.scaling) {
            progress("scaling: " + std::to_string(count) + " messages");
            const run_result r = measure_kind(s, memory, count, dir);
            std::cout << "| " << count << " | " << fixed(1e6 / r.accepted_per_s, 2) << " | " << fixed(r.drained_per_s, 0);
            if (s.memory)
                std::cout << " | " << fixed(r.heap_per_message, 1);
            std::cout << " |\n";
        }
    }
    if (own_dir)
        fs::remove_all(dir);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(parse(argc, argv));
    } catch (const usage_error& e) {
        std::cerr << "store_bench: " << e.what << "\n" << usage;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "store_bench: " << e.what() << "\n";
        return 1;
    }
}
