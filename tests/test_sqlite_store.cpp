// The durable store (sqlite_store.hpp): what it keeps across reopening, what it refuses, and
// files cut or changed at random: refused with a named error or read back as they were written,
// never a crash, never garbage (run under AddressSanitizer by the sanitized builds).
#include <c8y/mtls.hpp>
#include <c8y/mtls/sqlite_store.hpp>
#include <c8y/mtls/testing.hpp>

#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"
#include "support/local_platform.hpp"
#include "support/memory_broker.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace mqtt = c8y::mtls::mqtt;
using namespace std::chrono_literals;

namespace {

fs::path scratch(const std::string& name)
{
    const fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "sqlite-store";
    fs::create_directories(dir);
    const fs::path file = dir / name;
    for (const char* suffix : {"", "-wal", "-shm"})
        fs::remove(file.string() + suffix);
    return file;
}

std::string packet(const std::string& payload, mqtt::qos q = mqtt::qos::at_least_once)
{
    return mqtt::encode(mqtt::publish{"s/us", payload, q, false, false,
                                      static_cast<std::uint16_t>(q == mqtt::qos::at_most_once ? 0 : 1)});
}

std::vector<std::string> drain(mtls::sqlite_store& store)
{
    std::vector<std::string> out;
    while (auto m = store.take())
        out.push_back(m->packet);
    return out;
}

std::string read_bytes(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

using durable_client = mtls::basic_client<mtls::testing::memory_transport, mtls::testing::plaintext_tls,
                                          mtls::testing::manual_clock, mtls::sqlite_store>;

// A client on the memory transport with `file` as its store, its device a self-signed
// certificate made once by the OpenSSL CLI.
durable_client make_client(asio::io_context& io, const fs::path& file)
{
    static const fs::path dir = [] {
        const fs::path d = fs::path(C8Y_TEST_WORK_DIR) / "sqlite-store";
        fs::create_directories(d);
        mtls::test::run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 "
                                "-subj /CN=store-device -keyout " + mtls::test::shell_quote((d / "key.pem").string()) +
                                " -out " + mtls::test::shell_quote((d / "cert.pem").string()) + " 2>&1");
        return d;
    }();
    return durable_client(io.get_executor(), mtls::credentials::from_pem_files(dir / "cert.pem", dir / "key.pem"),
                          mtls::truststore::from_path(dir / "cert.pem"), {}, mtls::sqlite_store(file));
}

mtls::connect_options broker_options()
{
    mtls::connect_options o;
    o.host = "broker";
    o.port = 1883;
    o.keepalive = 0s;
    return o;
}

} // namespace

TEST_CASE("sqlite_store: accepted messages outlive the store, in order, until released")
{
    const fs::path file = scratch("keeps.db");
    std::vector<mtls::stored_message> dropped;
    std::uint64_t first = 0;
    {
        mtls::sqlite_store store(file);
        store.limit({});
        first = store.push(packet("a"), dropped);
        store.push(packet("b", mqtt::qos::exactly_once), dropped);
        store.push(packet("volatile", mqtt::qos::at_most_once), dropped);
        const auto c = store.push(packet("c"), dropped);
        CHECK(store.queued_messages() == 4);
        const auto taken = store.take();
        REQUIRE(taken);
        CHECK(taken->id == first);
        store.release(taken->id);
        CHECK(store.withdraw(c));
        CHECK(store.stored_messages() == 1); // b: QoS 0 is kept in memory unless asked
    }
    mtls::sqlite_store again(file);
    again.limit({});
    CHECK(again.queued_messages() == 1);
    CHECK(drain(again) == std::vector<std::string>{packet("b", mqtt::qos::exactly_once)});
    // New ids come after every stored one.
    CHECK(again.push(packet("d"), dropped) > first + 1);
    again.rewind();
    CHECK(drain(again).size() == 2); // what was taken and not released is queued again
}

TEST_CASE("sqlite_store: QoS 0 messages are kept too when asked, and the limits and drop policy hold")
{
    const fs::path file = scratch("qos0.db");
    std::vector<mtls::stored_message> dropped;
    mtls::sqlite_store_options o;
    o.durable_qos0 = true;
    {
        mtls::sqlite_store store(file, o);
        mtls::send_queue_options limits;
        limits.max_messages = 3;
        limits.when_full = mtls::queue_full_policy::drop_oldest_qos0;
        store.limit(limits);
        store.push(packet("q1"), dropped);
        const auto old0 = store.push(packet("o0", mqtt::qos::at_most_once), dropped);
        store.push(packet("q2"), dropped);
        store.push(packet("n0", mqtt::qos::at_most_once), dropped);
        REQUIRE(dropped.size() == 1);
        CHECK(dropped[0].id == old0);
        CHECK(dropped[0].packet == packet("o0", mqtt::qos::at_most_once));
        store.push(packet("q3"), dropped); // n0 makes room
        CHECK(dropped.size() == 2);
        CHECK_ERROR(store.push(packet("q4"), dropped), mtls::errc::send_queue_full, "3 messages");
        CHECK(dropped.size() == 2); // nothing is dropped unless that makes room
    }
    mtls::sqlite_store again(file, o);
    again.limit({});
    CHECK(drain(again) == std::vector<std::string>{packet("q1"), packet("q2"), packet("q3")});
}

TEST_CASE("sqlite_store: packet ids of messages in flight are kept for a broker that keeps sessions")
{
    const fs::path file = scratch("resume.db");
    std::vector<mtls::stored_message> dropped;
    {
        mtls::sqlite_store store(file);
        store.limit({});
        store.push(packet("one"), dropped);
        store.push(packet("two"), dropped);
        const auto m = store.take();
        store.sent(m->id, 7);
        CHECK(store.resumable().size() == 1);
    }
    mtls::sqlite_store again(file);
    again.limit({});
    const auto resumed = again.resumable();
    REQUIRE(resumed.size() == 1);
    CHECK(resumed[0].packet == packet("one"));
    CHECK(drain(again) == std::vector<std::string>{packet("two")}); // the resumed one is not taken twice
}

TEST_CASE("sqlite_store: a file that is not a store of this SDK is refused, naming it and why")
{
    const fs::path junk = scratch("junk.db");
    write_bytes(junk, "this is no database, whatever its name says\n");
    CHECK_ERROR(mtls::sqlite_store{junk}, mtls::errc::store_corrupt, junk.string() + ": is not a SQLite database");

    const fs::path other = scratch("other.db");
    sqlite3* db = nullptr;
    sqlite3_open(other.c_str(), &db);
    sqlite3_exec(db, "CREATE TABLE notes (text TEXT)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    CHECK_ERROR(mtls::sqlite_store{other}, mtls::errc::store_incompatible, "a SQLite database of another application");

    const fs::path newer = scratch("newer.db");
    { mtls::sqlite_store created(newer); }
    sqlite3_open(newer.c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version=2", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    CHECK_ERROR(mtls::sqlite_store{newer}, mtls::errc::store_incompatible,
                "is a store of version 2; this SDK reads version 1");

    const fs::path dir = scratch("a-directory");
    fs::create_directories(dir);
    CHECK_ERROR(mtls::sqlite_store{dir}, mtls::errc::store_unusable, dir.string() + ": is a directory, not a file");
    const fs::path fifo = scratch("a-fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_ERROR(mtls::sqlite_store{fifo}, mtls::errc::store_unusable, "is a FIFO");
}

TEST_CASE("sqlite_store: a file held open by another store is refused, and free again once it closed")
{
    const fs::path file = scratch("held.db");
    std::vector<mtls::stored_message> dropped;
    {
        mtls::sqlite_store first(file);
        first.limit({});
        first.push(packet("kept"), dropped);
        first.flush();
        CHECK_ERROR(mtls::sqlite_store{file}, mtls::errc::store_unusable,
                    file.string() + ": is in use by another store, in this process or another");
        // The lock is SQLite's own: any other connection to the file meets it.
        sqlite3* other = nullptr;
        REQUIRE(sqlite3_open(file.c_str(), &other) == SQLITE_OK);
        const int rc = sqlite3_exec(other, "SELECT count(*) FROM messages", nullptr, nullptr, nullptr);
        CHECK((rc & 0xFF) == SQLITE_BUSY);
        sqlite3_close(other);
    }
    mtls::sqlite_store again(file);
    again.limit({});
    CHECK(drain(again) == std::vector<std::string>{packet("kept")});
}

TEST_CASE("sqlite_store: a file cut or changed at random is refused with a named error or read back unchanged")
{
    const fs::path original = scratch("original.db");
    std::set<std::string> written;
    {
        mtls::sqlite_store store(original);
        store.limit({});
        std::vector<mtls::stored_message> dropped;
        for (int i = 0; i < 60; ++i) {
            const std::string p = packet("measurement " + std::to_string(i) + std::string(static_cast<std::size_t>(i * 7), 'x'));
            written.insert(p);
            store.push(p, dropped);
        }
    }
    const std::string bytes = read_bytes(original);
    REQUIRE(bytes.size() > 4096);
    std::mt19937 rng(20261201);
    const fs::path damaged = scratch("damaged.db");
    int refused = 0, opened = 0;
    for (int round = 0; round < 400; ++round) {
        std::string copy = bytes;
        if (round % 2 == 0) {
            copy.resize(std::uniform_int_distribution<std::size_t>(0, copy.size() - 1)(rng));
        } else {
            const int changes = std::uniform_int_distribution<int>(1, 8)(rng);
            for (int c = 0; c < changes; ++c)
                copy[std::uniform_int_distribution<std::size_t>(0, copy.size() - 1)(rng)] =
                    static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
        }
        for (const char* suffix : {"-wal", "-shm"})
            fs::remove(damaged.string() + suffix);
        write_bytes(damaged, copy);
        CAPTURE(round);
        try {
            mtls::sqlite_store store(damaged);
            store.limit({});
            ++opened;
            // Whatever it gives back is exactly what was written.
            for (const std::string& p : drain(store))
                CHECK_MESSAGE(written.contains(p), "garbage read back from a damaged store");
        } catch (const mtls::error& e) {
            ++refused;
            const bool named = e.code() == mtls::errc::store_corrupt || e.code() == mtls::errc::store_incompatible ||
                               e.code() == mtls::errc::store_unusable;
            CHECK_MESSAGE(named, e.what());
            CHECK(mtls::test::contains(e.detail(), damaged.string()));
        }
    }
    MESSAGE("damaged stores: " << refused << " refused, " << opened << " read back unchanged");
    CHECK(refused > 0);
    CHECK(opened > 0);
}

TEST_CASE("sqlite_store: a client sends first what the store kept from an earlier client, in order")
{
    const fs::path file = scratch("client.db");
    const auto make = [&](asio::io_context& io) { return make_client(io, file); };
    const mtls::connect_options o = broker_options();
    {
        // Accepted while the broker is away; the process "dies" with them unsent.
        asio::io_context io;
        durable_client client = make(io);
        mtls::test::run(io, [&]() -> asio::awaitable<void> {
            mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
            auto connecting = mtls::test::start(io.get_executor(), client.connect(o));
            mtls::test::broker_connection broker(co_await listener.accept());
            co_await broker.handshake();
            co_await mtls::testing::settle();
            broker.close();
            co_await mtls::testing::settle();
            for (int i = 1; i <= 3; ++i)
                mtls::test::start(io.get_executor(), client.publish("s/us", "m" + std::to_string(i), mqtt::qos::at_least_once));
            co_await mtls::testing::settle();
            CHECK(client.queued_messages() == 3);
        }());
    }
    {
        asio::io_context io;
        durable_client client = make(io);
        CHECK(client.queued_messages() == 3);
        mtls::test::run(io, [&]() -> asio::awaitable<void> {
            mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
            auto connecting = mtls::test::start(io.get_executor(), client.connect(o));
            mtls::test::broker_connection broker(co_await listener.accept());
            co_await broker.handshake();
            for (int i = 1; i <= 3; ++i) {
                const mqtt::publish p = co_await broker.expect<mqtt::publish>();
                CHECK(p.payload == "m" + std::to_string(i));
                const mqtt::packet ack = mqtt::puback{p.packet_id};
                co_await broker.send(ack);
            }
            co_await mtls::testing::settle();
            CHECK(client.queued_messages() == 0);
            CHECK(client.store().queued_messages() == 0);
            client.close();
        }());
    }
    mtls::sqlite_store after(file); // the client closed the file with it
    CHECK(after.stored_messages() == 0);
}

TEST_CASE("sqlite_store: a store that can no longer write stops the client with store_unusable, and keeps what it had")
{
    // The process may write no file beyond 64 KiB (RLIMIT_FSIZE): SQLite's next write into the
    // WAL past that fails as on a full disk.
    const fs::path file = scratch("full.db");
    int committed = 0;
    std::optional<mtls::error> refused;
    std::vector<char> failed(200, 0); // by message: its publish() failed
    {
        asio::io_context io;
        durable_client client = make_client(io, file);
        mtls::test::run(io, [&]() -> asio::awaitable<void> {
            mtls::testing::memory_listener listener(io.get_executor(), "broker", 1883);
            auto connecting = mtls::test::start(io.get_executor(), client.connect(broker_options()));
            mtls::test::broker_connection broker(co_await listener.accept());
            co_await broker.handshake();
            co_await mtls::testing::settle();
            broker.close(); // the messages wait in the store from now on
            co_await mtls::testing::settle();

            ::rlimit unlimited{};
            REQUIRE(::getrlimit(RLIMIT_FSIZE, &unlimited) == 0);
            const ::rlimit tight{64 * 1024, unlimited.rlim_max};
            const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
            REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
            for (std::size_t i = 0; i < failed.size() && !refused; ++i) {
                client.publish("s/us", std::string(1000, 'm'), mqtt::qos::at_least_once, false,
                               [&failed, &refused, i](std::error_code ec) {
                                   if (!ec)
                                       return;
                                   failed[i] = 1;
                                   if (!refused)
                                       refused = *mtls::completion_error();
                               });
                co_await mtls::testing::settle(); // one turn: one transaction, flushed
                if (!failed[i] && client.state() != mtls::connection_state::stopped)
                    ++committed;
            }
            ::setrlimit(RLIMIT_FSIZE, &unlimited);
            std::signal(SIGXFSZ, previous_handler);
        }());
        REQUIRE(refused);
        CHECK(refused->code() == mtls::errc::store_unusable);
        CHECK(mtls::test::contains(refused->detail(), file.string()));
        CHECK(client.state() == mtls::connection_state::stopped);
        REQUIRE(client.failure());
        CHECK(client.failure()->code() == mtls::errc::store_unusable);
        MESSAGE("the store refused after " << committed << " transactions: " << std::string(refused->what()));
    }
    CHECK(committed >= 5);
    mtls::sqlite_store after(file); // the failed write left the file readable
    CHECK(after.stored_messages() == static_cast<std::size_t>(committed));
}
