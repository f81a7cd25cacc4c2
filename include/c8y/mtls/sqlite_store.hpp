// c8y-mtls: a Store that keeps accepted messages across crashes, kill -9, power loss and reboots,
// in one small SQLite table (WAL mode). Opt-in: include this header and link SQLite
// (`sqlite3`) and zlib (`z`, for the checksum of every stored packet).
#pragma once

#include <sqlite3.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/detail/file.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/mqtt_session.hpp"
#include "c8y/mtls/store.hpp"

namespace c8y::mtls {

/// How a sqlite_store writes.
struct sqlite_store_options {
    /// SQLite's `synchronous` in WAL mode. normal: every accepted message survives the process
    /// being killed, the last ones may be lost with the power. full: they survive power loss
    /// too, at the cost of a sync for every write.
    enum class sync { normal, full };
    sync synchronous = sync::normal;
    /// QoS 0 messages are kept in memory only unless asked: at most once needs no disk.
    bool durable_qos0 = false;
};

namespace detail {

struct sqlite_closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct sqlite_finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using sqlite_statement = std::unique_ptr<sqlite3_stmt, sqlite_finalizer>;

inline std::uint32_t packet_checksum(std::string_view packet) noexcept
{
    return static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(packet.data()), static_cast<uInt>(packet.size())));
}

// Whether `packet` is one whole PUBLISH, as the client stores them.
inline bool is_publish_packet(std::string_view packet)
{
    try {
        mqtt::decoder d(packet.size() + 8);
        d.feed(packet);
        const auto p = d.next();
        return p && std::holds_alternative<mqtt::publish>(*p) && d.buffered() == 0;
    } catch (const error&) {
        return false;
    }
}

} // namespace detail

/// The durable Store: every message publish() accepts is in the file once the code that called
/// publish() returned to the executor (the client flush()es the changes of one turn of its
/// executor as one transaction), and leaves it when the broker acknowledged it (QoS 1/2) or it
/// was written (QoS 0, kept only with durable_qos0). A client made with it sends first, in
/// order, what the file holds. For a broker that keeps sessions (clean_session = false), the
/// packet ids of messages in flight are kept too, so that a restarted process resumes their
/// flows. The file stays locked while the store is open: a second store on it, in this process
/// or another, is refused with store_unusable, so that no two senders share one file.
///
/// The file is checked when opened: a file that is not a SQLite database, one of another
/// application or of another version of this store, a database that fails SQLite's quick
/// check, or a stored packet whose checksum or form is wrong are refused with store_corrupt or
/// store_incompatible naming the file; nothing of such a file is sent.
class sqlite_store {
public:
    static constexpr bool durable = true;
    static constexpr int schema_version = 1;
    static constexpr int application_id = 0x6338796D; // "c8ym"

    explicit sqlite_store(std::filesystem::path file, sqlite_store_options options = {})
        : file_(std::move(file)), options_(options)
    {
        std::error_code ec;
        if (std::filesystem::exists(file_, ec))
            if (const std::string why = detail::unusable_file_reason(file_, static_cast<std::size_t>(-1)); !why.empty())
                throw error(errc::store_unusable, file_.string() + ": " + why);
        sqlite3* db = nullptr;
        const int rc = sqlite3_open_v2(file_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        db_.reset(db);
        if (rc != SQLITE_OK)
            fail(errc::store_unusable, "cannot be opened");
        sqlite3_extended_result_codes(db_.get(), 1);
        sqlite3_busy_timeout(db_.get(), 1000); // a process that just ended may still hold the lock
        open_schema();
        prepare();
        recover();
    }

    sqlite_store(sqlite_store&&) noexcept = default;
    sqlite_store& operator=(sqlite_store&&) = delete;
    ~sqlite_store() { commit_quietly(); }

    const std::filesystem::path& file() const noexcept { return file_; }

    // ---- the Store concept ---------------------------------------------------------------

    void limit(const send_queue_options& limits) { limits_ = limits; }

    std::uint64_t push(std::string packet, std::vector<stored_message>& dropped)
    {
        if (detail::must_drop_for(limits_, held_, packet.size()))
            while (!detail::fits(limits_, held_, packet.size()))
                dropped.push_back(drop_oldest_qos0());
        const std::uint64_t id = next_id_;
        const mqtt::qos q = mqtt::publish_qos(packet);
        const std::size_t size = packet.size();
        if (q == mqtt::qos::at_most_once && !options_.durable_qos0) {
            volatile_.push_back({id, std::move(packet)});
        } else {
            begin();
            sqlite3_stmt* s = insert_.get();
            bind_int(s, 1, id);
            sqlite3_bind_blob(s, 2, packet.data(), static_cast<int>(size), SQLITE_STATIC);
            bind_int(s, 3, detail::packet_checksum(packet));
            bind_int(s, 4, static_cast<std::uint64_t>(q));
            step_done(s, "storing a message");
        }
        ++next_id_;
        held_.add(size, q);
        return id;
    }

    std::optional<mqtt::qos> next_qos() const
    {
        const stored_message* next = peek();
        return next ? std::optional(mqtt::publish_qos(next->packet)) : std::nullopt;
    }

    std::optional<stored_message> take()
    {
        const stored_message* next = peek();
        if (!next)
            return std::nullopt;
        std::deque<stored_message>& from = !volatile_.empty() && next == &volatile_.front() ? volatile_ : ahead_;
        stored_message m = std::move(from.front());
        from.pop_front();
        held_.remove(m.packet.size(), mqtt::publish_qos(m.packet));
        return m;
    }

    void sent(std::uint64_t id, std::uint16_t packet_id)
    {
        begin();
        sqlite3_stmt* s = mark_sent_.get();
        bind_int(s, 1, packet_id);
        bind_int(s, 2, id);
        step_done(s, "keeping a packet id");
    }

    std::vector<stored_message> resumable()
    {
        std::vector<stored_message> out;
        sqlite3_stmt* s = select_sent_.get();
        while (step_row(s, "reading messages in flight"))
            out.push_back(row(s));
        sqlite3_reset(s);
        return out;
    }

    void release(std::uint64_t id)
    {
        begin();
        sqlite3_stmt* s = erase_.get();
        bind_int(s, 1, id);
        step_done(s, "removing a delivered message");
    }

    bool withdraw(std::uint64_t id)
    {
        for (auto& queue : {&volatile_, &ahead_})
            for (auto it = queue->begin(); it != queue->end(); ++it)
                if (it->id == id) {
                    if (queue == &ahead_)
                        release(id);
                    held_.remove(it->packet.size(), mqtt::publish_qos(it->packet));
                    queue->erase(it);
                    return true;
                }
        if (id <= read_up_to_)
            return false; // taken (in the session's hands), or gone already
        const auto stored = stored_packet(id);
        if (!stored)
            return false;
        release(id);
        held_.remove(stored->size(), mqtt::publish_qos(*stored));
        return true;
    }

    void rewind()
    {
        read_up_to_ = 0;
        ahead_.clear();
        count_queued();
    }

    void clear()
    {
        begin();
        exec("DELETE FROM messages", "clearing");
        volatile_.clear();
        rewind();
    }

    /// Commits what changed since the last flush() in one transaction: with synchronous normal
    /// it then survives the process being killed, with full a power loss too. Throws
    /// store_unusable (the disk full, an I/O error); the changes since the last flush() are
    /// then undone and what the file holds is queued again.
    void flush()
    {
        if (!in_transaction_)
            return;
        const int rc = sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) {
            in_transaction_ = false;
            return;
        }
        const std::string why = sqlite3_errmsg(db_.get());
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        in_transaction_ = false;
        rewind(); // what the file holds again, all of it queued
        throw error(errc::store_unusable, file_.string() + ": the changes could not be kept (SQLite: " + why + ")");
    }

    std::size_t queued_messages() const noexcept { return held_.messages; }
    std::size_t queued_bytes() const noexcept { return held_.bytes; }

    /// Messages in the file, taken or not.
    std::size_t stored_messages()
    {
        sqlite3_stmt* s = count_.get();
        step_row(s, "counting");
        const auto n = static_cast<std::size_t>(sqlite3_column_int64(s, 0));
        sqlite3_reset(s);
        return n;
    }

private:
    // Rows read ahead of the sender in one query, so that taking a message rarely asks SQLite.
    static constexpr int read_ahead = 64;

    [[noreturn]] void fail(errc code, const std::string& what) const
    {
        std::string detail = file_.string() + ": " + what;
        if (db_)
            detail += std::string(" (SQLite: ") + sqlite3_errmsg(db_.get()) + ")";
        throw error(code, std::move(detail));
    }

    // What SQLite's own result code says of the file.
    [[noreturn]] void fail_for(int rc, const std::string& doing) const
    {
        const int primary = rc & 0xFF;
        if (primary == SQLITE_NOTADB)
            fail(errc::store_corrupt, "is not a SQLite database, or its header is damaged");
        if (primary == SQLITE_CORRUPT)
            fail(errc::store_corrupt, "is corrupt (" + doing + ")");
        if (primary == SQLITE_BUSY)
            fail(errc::store_unusable, "is in use by another store, in this process or another");
        fail(errc::store_unusable, doing + " failed");
    }

    void exec(const char* sql, const std::string& doing)
    {
        char* message = nullptr;
        const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
        sqlite3_free(message);
        if (rc != SQLITE_OK)
            fail_for(rc, doing);
    }

    void begin()
    {
        if (!in_transaction_) {
            exec("BEGIN", "starting a transaction");
            in_transaction_ = true;
        }
    }

    void commit_quietly() noexcept
    {
        if (db_ && in_transaction_)
            sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
    }

    // `sql`, prepared and stepped to its first row.
    detail::sqlite_statement first_row(const char* sql, const std::string& doing)
    {
        detail::sqlite_statement s = statement(sql, doing);
        if (const int rc = sqlite3_step(s.get()); rc != SQLITE_ROW)
            fail_for(rc, doing);
        return s;
    }

    long long query_int(const char* sql, const std::string& doing)
    {
        return sqlite3_column_int64(first_row(sql, doing).get(), 0);
    }

    std::string query_text(const char* sql, const std::string& doing)
    {
        const detail::sqlite_statement s = first_row(sql, doing);
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
        return text ? text : "";
    }

    void open_schema()
    {
        // Held from the first read until closed; in WAL mode without a shared-memory index.
        exec("PRAGMA locking_mode=EXCLUSIVE", "locking the file");
        const long long app = query_int("PRAGMA application_id", "reading the file's header");
        const long long version = query_int("PRAGMA user_version", "reading the file's header");
        if (app == 0 && version == 0) {
            const long long objects = query_int("SELECT count(*) FROM sqlite_schema", "reading the schema");
            if (objects != 0)
                fail(errc::store_incompatible, "is a SQLite database of another application");
            exec("PRAGMA journal_mode=WAL", "switching to WAL");
            exec("BEGIN IMMEDIATE;"
                 "CREATE TABLE messages (id INTEGER PRIMARY KEY, packet BLOB NOT NULL, checksum INTEGER NOT NULL,"
                 " qos INTEGER NOT NULL, packet_id INTEGER);"
                 "PRAGMA application_id=1664645485; PRAGMA user_version=1; COMMIT",
                 "creating the store");
        } else if (app != application_id) {
            fail(errc::store_incompatible, "is a SQLite database of another application (application_id " +
                                               std::to_string(app) + ")");
        } else if (version != schema_version) {
            fail(errc::store_incompatible, "is a store of version " + std::to_string(version) +
                                               "; this SDK reads version " + std::to_string(schema_version));
        } else {
            exec("PRAGMA journal_mode=WAL", "switching to WAL");
        }
        exec(options_.synchronous == sqlite_store_options::sync::full ? "PRAGMA synchronous=FULL"
                                                                      : "PRAGMA synchronous=NORMAL",
             "setting synchronous");
        const std::string check = query_text("PRAGMA quick_check", "checking the file");
        if (check != "ok")
            fail(errc::store_corrupt, "fails SQLite's check: " + check);
    }

    void prepare()
    {
        insert_ = statement("INSERT INTO messages (id, packet, checksum, qos) VALUES (?, ?, ?, ?)");
        select_ahead_ = statement("SELECT id, packet, checksum FROM messages WHERE id > ? AND packet_id IS NULL "
                                  "ORDER BY id LIMIT " + std::to_string(read_ahead));
        select_sent_ = statement("SELECT id, packet, checksum FROM messages WHERE packet_id IS NOT NULL ORDER BY id");
        select_one_ = statement("SELECT id, packet, checksum FROM messages WHERE id = ? AND packet_id IS NULL");
        mark_sent_ = statement("UPDATE messages SET packet_id = ? WHERE id = ?");
        erase_ = statement("DELETE FROM messages WHERE id = ?");
        count_ = statement("SELECT count(*) FROM messages");
        select_qos0_ = statement("SELECT id, packet, checksum FROM messages WHERE id > ? AND packet_id IS NULL AND "
                                 "qos = 0 ORDER BY id LIMIT 1");
    }

    detail::sqlite_statement statement(const std::string& sql, const std::string& doing = "preparing a statement")
    {
        sqlite3_stmt* raw = nullptr;
        const int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
        detail::sqlite_statement s(raw);
        if (rc != SQLITE_OK)
            fail_for(rc, doing);
        return s;
    }

    // Every stored packet is read once, checked in full, and counted: a damaged one refuses
    // the file. Later reads check the checksum: the file is ours alone while it is open.
    void recover()
    {
        sqlite3_stmt* raw = nullptr;
        sqlite3_prepare_v2(db_.get(), "SELECT id, packet, checksum FROM messages ORDER BY id", -1, &raw, nullptr);
        detail::sqlite_statement all(raw);
        if (!all)
            fail(errc::store_corrupt, "its table cannot be read");
        std::uint64_t last = 0;
        while (step_row(all.get(), "reading the stored messages")) {
            const stored_message m = row(all.get());
            if (!detail::is_publish_packet(m.packet))
                fail(errc::store_corrupt, "message " + std::to_string(m.id) + " is not an MQTT PUBLISH packet");
            last = m.id;
        }
        next_id_ = last + 1;
        count_queued();
    }

    // Queued: every stored message not in flight for a kept session, and the volatile QoS 0.
    void count_queued()
    {
        held_ = {};
        const detail::sqlite_statement s =
            statement("SELECT length(packet), qos FROM messages WHERE packet_id IS NULL", "counting the stored messages");
        while (step_row(s.get(), "counting the stored messages"))
            held_.add(static_cast<std::size_t>(sqlite3_column_int64(s.get(), 0)),
                      static_cast<mqtt::qos>(sqlite3_column_int(s.get(), 1)));
        for (const stored_message& m : volatile_)
            held_.add(m.packet.size(), mqtt::qos::at_most_once);
    }

    // A row of (id, packet, checksum), its checksum checked.
    stored_message row(sqlite3_stmt* s) const
    {
        stored_message m;
        m.id = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
        const auto* data = static_cast<const char*>(sqlite3_column_blob(s, 1));
        m.packet.assign(data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(s, 1)));
        const auto checksum = static_cast<std::uint32_t>(sqlite3_column_int64(s, 2));
        if (sqlite3_column_type(s, 0) != SQLITE_INTEGER || m.packet.empty() ||
            detail::packet_checksum(m.packet) != checksum)
            fail(errc::store_corrupt, "message " + std::to_string(m.id) + " is damaged (its checksum is wrong)");
        return m;
    }

    bool step_row(sqlite3_stmt* s, const std::string& doing) const
    {
        const int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            return true;
        if (rc != SQLITE_DONE) {
            sqlite3_reset(s);
            fail_for(rc, doing);
        }
        return false;
    }

    void step_done(sqlite3_stmt* s, const std::string& doing)
    {
        const int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE)
            fail_for(rc, doing);
    }

    static void bind_int(sqlite3_stmt* s, int index, std::uint64_t value)
    {
        sqlite3_bind_int64(s, index, static_cast<sqlite3_int64>(value));
    }

    // The next message to send: the older of the first volatile QoS 0 and the first stored
    // message not taken (read ahead in batches).
    const stored_message* peek() const
    {
        if (ahead_.empty()) {
            sqlite3_stmt* s = select_ahead_.get();
            bind_int(s, 1, read_up_to_);
            while (step_row(s, "reading the next messages")) {
                ahead_.push_back(row(s));
                read_up_to_ = ahead_.back().id;
            }
            sqlite3_reset(s);
        }
        if (!volatile_.empty() && (ahead_.empty() || volatile_.front().id < ahead_.front().id))
            return &volatile_.front();
        return ahead_.empty() ? nullptr : &ahead_.front();
    }

    std::optional<std::string> stored_packet(std::uint64_t id)
    {
        sqlite3_stmt* s = select_one_.get();
        bind_int(s, 1, id);
        std::optional<std::string> packet;
        if (step_row(s, "reading a message"))
            packet = row(s).packet;
        sqlite3_reset(s);
        return packet;
    }

    // Called only while QoS 0 messages are queued (must_drop_for() checked): the oldest, the
    // first volatile one or one in the file that is not taken.
    stored_message drop_oldest_qos0()
    {
        std::optional<stored_message> from_file;
        if (options_.durable_qos0) {
            for (const stored_message& m : ahead_)
                if (mqtt::publish_qos(m.packet) == mqtt::qos::at_most_once) {
                    from_file = m;
                    break;
                }
            if (!from_file) {
                sqlite3_stmt* s = select_qos0_.get();
                bind_int(s, 1, read_up_to_);
                if (step_row(s, "finding a QoS 0 message to drop"))
                    from_file = row(s);
                sqlite3_reset(s);
            }
        }
        if (!volatile_.empty() && (!from_file || volatile_.front().id < from_file->id)) {
            stored_message m = std::move(volatile_.front());
            volatile_.pop_front();
            held_.remove(m.packet.size(), mqtt::qos::at_most_once);
            return m;
        }
        withdraw(from_file->id);
        return std::move(*from_file);
    }

    std::filesystem::path file_;
    sqlite_store_options options_;
    std::unique_ptr<sqlite3, detail::sqlite_closer> db_;
    detail::sqlite_statement insert_, select_ahead_, select_sent_, select_one_, select_qos0_, mark_sent_, erase_, count_;
    send_queue_options limits_{};
    detail::store_counts held_;
    std::deque<stored_message> volatile_;        // queued QoS 0 messages kept in memory only
    mutable std::deque<stored_message> ahead_;   // stored messages read and not taken, in order
    mutable std::uint64_t read_up_to_ = 0;       // stored messages up to this id are read (ahead_) or taken
    std::uint64_t next_id_ = 1;
    bool in_transaction_ = false;                // changes since the last flush()
};

static_assert(Store<sqlite_store>);

} // namespace c8y::mtls
