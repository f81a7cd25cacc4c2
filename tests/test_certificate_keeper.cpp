// The certificate keeper's schedule under the manual clock (nothing before renew_before, one
// renewal after, the jitter's bounds, backoff while the platform is down, the named error once
// expired), and the credential files' staging, promotion and recovery after a crash.
#include <c8y/mtls.hpp>
#include <c8y/mtls/testing.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/async.hpp"
#include "support/check_error.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace provisioning = c8y::mtls::provisioning;
using mtls::errc;
using mtls::testing::manual_clock;
using namespace std::chrono_literals;

namespace {

using keeper = mtls::basic_certificate_keeper<manual_clock>;

std::chrono::sys_seconds wall_now() { return std::chrono::floor<std::chrono::seconds>(manual_clock::now()); }

// A certificate for "keeper-device" valid for `days` from the manual clock's now.
mtls::certificate certificate_from_now(int days = 365)
{
    static const provisioning::private_key key = provisioning::private_key::generate(provisioning::key_type::ec256);
    provisioning::certificate_options o;
    o.common_name = "keeper-device";
    o.not_before = wall_now();
    o.days = days;
    return mtls::certificate::from_der(provisioning::make_ca_certificate(key, o));
}

// A renewal that answers as `outcome(attempt)` says: a new certificate from now, or the error.
struct scripted_renewal {
    explicit scripted_renewal(std::function<std::optional<mtls::error>(int attempt)> f) : outcome(std::move(f)) {}

    std::function<std::optional<mtls::error>(int attempt)> outcome;
    int attempts = 0;
    std::vector<std::chrono::sys_seconds> times;

    mtls::certificate_renewal get()
    {
        return [this]() -> asio::awaitable<mtls::certificate> { return attempt(this); };
    }

    static asio::awaitable<mtls::certificate> attempt(scripted_renewal* self)
    {
        ++self->attempts;
        self->times.push_back(wall_now());
        if (const auto failure = self->outcome(self->attempts))
            throw *failure;
        co_return certificate_from_now();
    }
};

// For keepers that never start.
asio::awaitable<mtls::certificate> unused_renewal()
{
    throw std::logic_error("this keeper was not meant to renew");
    co_return certificate_from_now();
}

mtls::certificate_keeper_options options_30_days()
{
    mtls::certificate_keeper_options o;
    o.renew_before = std::chrono::days(30);
    o.jitter = std::chrono::hours(24);
    o.retry_initial_delay = 1min;
    o.retry_max_delay = 8min;
    return o;
}

} // namespace

TEST_CASE("certificate keeper: nothing before renew_before, one renewal after it, then nothing until the next")
{
    asio::io_context io;
    const mtls::certificate first = certificate_from_now(365);
    scripted_renewal renewal{[](int) { return std::optional<mtls::error>(); }};
    keeper k(io.get_executor(), first, renewal.get(), options_30_days());
    CHECK(k.renewal_due() <= first.not_after() - std::chrono::days(30));
    CHECK(k.renewal_due() >= first.not_after() - std::chrono::days(31));
    mtls::test::run(io, [&]() -> asio::awaitable<void> {
        k.start();
        co_await mtls::testing::settle();
        CHECK(renewal.attempts == 0);
        // 334 days: just before the earliest the jitter allows (365 - 30 - 1 days).
        for (int day = 0; day < 333; ++day)
            co_await mtls::testing::advance(24h, 4);
        co_await mtls::testing::advance(23h);
        CHECK(renewal.attempts == 0);
        CHECK(k.renewals() == 0);
        // Past the latest (365 - 30 days): renewed once, within the bounds.
        for (int hour = 0; hour < 26; ++hour)
            co_await mtls::testing::advance(1h, 4);
        co_await mtls::testing::settle();
        REQUIRE(renewal.attempts == 1);
        CHECK(k.renewals() == 1);
        CHECK(renewal.times[0] >= first.not_after() - std::chrono::days(31));
        CHECK(renewal.times[0] <= first.not_after() - std::chrono::days(30) + 1h);
        CHECK(k.current().serial() != first.serial());
        CHECK(k.current().not_after() > first.not_after());
        CHECK(k.renewal_due() > k.current().not_after() - std::chrono::days(31));
        // The new certificate is a year away from its own renewal.
        for (int day = 0; day < 30; ++day)
            co_await mtls::testing::advance(24h, 4);
        CHECK(renewal.attempts == 1);
        k.stop();
    }());
}

TEST_CASE("certificate keeper: renewed() completes with the renewal, and current() holds the new certificate")
{
    asio::io_context io;
    const mtls::certificate first = certificate_from_now(40); // due in 9 to 10 days
    scripted_renewal renewal{[](int) { return std::optional<mtls::error>(); }};
    keeper k(io.get_executor(), first, renewal.get(), options_30_days());
    mtls::test::run(io, [&]() -> asio::awaitable<void> {
        k.start();
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            for (int hour = 0; hour < 11 * 24; ++hour)
                co_await mtls::testing::advance(1h, 4);
        }, asio::detached);
        co_await k.renewed();
        CHECK(renewal.attempts == 1);
        CHECK(k.current().serial() != first.serial());
        CHECK(k.current().not_after() - wall_now() >= std::chrono::days(364));
        k.stop();
    }());
    CHECK(mtls::test::failure_of(io, k.renewed()).code() == errc::operation_aborted);
}

TEST_CASE("certificate keeper: the jitter spreads the renewal over [notAfter - renew_before - jitter, notAfter - renew_before]")
{
    asio::io_context io;
    const mtls::certificate c = certificate_from_now(365);
    const auto latest = c.not_after() - std::chrono::days(30);
    const auto earliest = latest - std::chrono::hours(24);
    std::vector<std::chrono::sys_seconds> due;
    for (int i = 0; i < 200; ++i) {
        keeper k(io.get_executor(), c, unused_renewal, options_30_days());
        due.push_back(k.renewal_due());
    }
    const auto [low, high] = std::minmax_element(due.begin(), due.end());
    CHECK(*low >= earliest);
    CHECK(*high <= latest);
    CHECK(*high - *low > std::chrono::hours(12)); // spread, not one value (200 draws)

    auto o = options_30_days();
    o.jitter = 0s;
    keeper exact(io.get_executor(), c, unused_renewal, o);
    CHECK(exact.renewal_due() == latest);
}

TEST_CASE("certificate keeper: while the platform is down, retries back off from the initial delay to the max")
{
    asio::io_context io;
    const mtls::certificate first = certificate_from_now(10); // due at once
    scripted_renewal renewal{[](int attempt) {
        return attempt <= 5 ? std::optional(mtls::error(errc::platform_unavailable, "503 (test)")) : std::nullopt;
    }};
    keeper k(io.get_executor(), first, renewal.get(), options_30_days());
    mtls::test::run(io, [&]() -> asio::awaitable<void> {
        k.start();
        co_await mtls::testing::settle();
        REQUIRE(renewal.attempts == 1);
        REQUIRE(k.last_failure());
        CHECK(k.last_failure()->code() == errc::platform_unavailable);
        // 1, 2, 4, 8, 8 minutes (the max): each attempt exactly when its delay passed.
        for (const auto delay : {1min, 2min, 4min, 8min, 8min}) {
            const int before = renewal.attempts;
            co_await mtls::testing::advance(delay - 1s);
            CHECK(renewal.attempts == before);
            co_await mtls::testing::advance(1s);
            CHECK(renewal.attempts == before + 1);
        }
        CHECK(k.renewals() == 1);
        CHECK_FALSE(k.last_failure());
        k.stop();
    }());
}

TEST_CASE("certificate keeper: once the certificate expired, it stops with device_certificate_expired")
{
    asio::io_context io;
    SUBCASE("expired while the platform stayed down")
    {
        const mtls::certificate first = certificate_from_now(1);
        scripted_renewal renewal{[](int) { return std::optional(mtls::error(errc::platform_unavailable, "down")); }};
        keeper k(io.get_executor(), first, renewal.get(), options_30_days());
        const mtls::error e = mtls::test::failure_of(io, [&]() -> asio::awaitable<void> {
            k.start();
            asio::co_spawn(io, [&]() -> asio::awaitable<void> {
                for (int i = 0; i < 30 * 24; ++i)
                    co_await mtls::testing::advance(10min, 4);
            }, asio::detached);
            co_await k.renewed();
        }());
        CHECK(e.code() == errc::device_certificate_expired);
        CHECK(mtls::test::contains(e.what(), "one-time password"));
        CHECK(mtls::test::contains(e.what(), first.serial()));
        CHECK_FALSE(k.running());
        CHECK(renewal.attempts > 5);
        CHECK(renewal.times.back() < first.not_after());
    }
    SUBCASE("expired before it started")
    {
        const mtls::certificate first = certificate_from_now(1);
        manual_clock::advance(std::chrono::days(2));
        scripted_renewal renewal{[](int) { return std::optional<mtls::error>(); }};
        keeper k(io.get_executor(), first, renewal.get(), options_30_days());
        const mtls::error e = mtls::test::failure_of(io, [&]() -> asio::awaitable<void> {
            k.start();
            co_await k.renewed();
        }());
        CHECK(e.code() == errc::device_certificate_expired);
        CHECK(renewal.attempts == 0);
    }
}

TEST_CASE("certificate keeper: a refusal a retry cannot pass stops it with that error, after one attempt")
{
    asio::io_context io;
    scripted_renewal renewal{[](int) {
        return std::optional(mtls::error(errc::platform_refused, "400 no tenant CA (test)"));
    }};
    keeper k(io.get_executor(), certificate_from_now(10), renewal.get(), options_30_days());
    const mtls::error e = mtls::test::failure_of(io, [&]() -> asio::awaitable<void> {
        k.start();
        co_await k.renewed();
    }());
    CHECK(e.code() == errc::platform_refused);
    CHECK(renewal.attempts == 1);
    CHECK_FALSE(k.running());
}

TEST_CASE("certificate keeper: options no schedule can be made of are refused")
{
    asio::io_context io;
    const mtls::certificate c = certificate_from_now();
    
    auto refused = [&](auto change) {
        auto o = options_30_days();
        change(o);
        CHECK_ERROR(keeper(io.get_executor(), c, unused_renewal, o), errc::invalid_argument, "renew_before");
    };
    refused([](auto& o) { o.renew_before = -1s; });
    refused([](auto& o) { o.jitter = -1s; });
    refused([](auto& o) { o.retry_initial_delay = 0ms; });
    refused([](auto& o) { o.retry_max_delay = o.retry_initial_delay / 2; });
    CHECK_ERROR(keeper(io.get_executor(), c, nullptr, options_30_days()), errc::invalid_argument, "renewal");
}

// ---- the files ---------------------------------------------------------------------------------

namespace {

fs::path fresh_dir(const std::string& name)
{
    const fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / ("credential-files-" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string content(const fs::path& p)
{
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// A directory holding the "old" set, staged with the "new" one.
mtls::credential_files staged_set(const std::string& name)
{
    const fs::path dir = fresh_dir(name);
    const auto files = mtls::credential_files::in_directory(dir);
    write(files.key, "old key");
    write(files.certificate, "old cert");
    write(files.chain, "old chain");
    mtls::stage_credentials(files, "new key", "new cert", "new chain");
    return files;
}

bool staged_any(const mtls::credential_files& f)
{
    return fs::exists(mtls::credential_files::staged(f.key)) ||
           fs::exists(mtls::credential_files::staged(f.certificate)) ||
           fs::exists(mtls::credential_files::staged(f.chain));
}

} // namespace

TEST_CASE("credential files: staged next to the current ones, which stay; promoted, they replace them")
{
    const auto files = staged_set("promote");
    CHECK(content(files.key) == "old key");
    CHECK(content(files.certificate) == "old cert");
    CHECK(content(mtls::credential_files::staged(files.key)) == "new key");
    CHECK(content(mtls::credential_files::staged(files.chain)) == "new chain");
    struct stat st {};
    REQUIRE(::stat(mtls::credential_files::staged(files.key).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    mtls::promote_staged_credentials(files);
    CHECK(content(files.key) == "new key");
    CHECK(content(files.certificate) == "new cert");
    CHECK(content(files.chain) == "new chain");
    CHECK_FALSE(staged_any(files));
    REQUIRE(::stat(files.key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(mtls::recover_credential_files(files) == mtls::credential_recovery::nothing_staged);
    CHECK_ERROR(mtls::promote_staged_credentials(files), errc::credentials_unwritable, "not staged");
}

TEST_CASE("credential files: discarded, the current ones are untouched")
{
    const auto files = staged_set("discard");
    mtls::discard_staged_credentials(files);
    CHECK_FALSE(staged_any(files));
    CHECK(content(files.key) == "old key");
    CHECK(content(files.chain) == "old chain");
}

TEST_CASE("credential files: after a crash, recovery leaves one consistent set")
{
    SUBCASE("while staging (the key staged, the certificates not yet): the staging is discarded")
    {
        const auto files = staged_set("crash-staging");
        fs::remove(mtls::credential_files::staged(files.certificate));
        fs::remove(mtls::credential_files::staged(files.chain));
        CHECK(mtls::recover_credential_files(files) == mtls::credential_recovery::discarded);
        CHECK_FALSE(staged_any(files));
        CHECK(content(files.key) == "old key");
        CHECK(content(files.certificate) == "old cert");
    }
    SUBCASE("staged, never promoted (the connection with them was not made): discarded")
    {
        const auto files = staged_set("crash-staged");
        CHECK(mtls::recover_credential_files(files) == mtls::credential_recovery::discarded);
        CHECK(content(files.key) == "old key");
        CHECK(content(files.certificate) == "old cert");
        CHECK(content(files.chain) == "old chain");
    }
    SUBCASE("while promoting (the key promoted, the certificates not yet): the promotion is finished")
    {
        const auto files = staged_set("crash-promoting");
        fs::rename(mtls::credential_files::staged(files.key), files.key);
        CHECK(mtls::recover_credential_files(files) == mtls::credential_recovery::completed);
        CHECK_FALSE(staged_any(files));
        CHECK(content(files.key) == "new key");
        CHECK(content(files.certificate) == "new cert");
        CHECK(content(files.chain) == "new chain");
    }
    SUBCASE("staging again over an interrupted promotion finishes it first")
    {
        const auto files = staged_set("crash-restage");
        fs::rename(mtls::credential_files::staged(files.key), files.key);
        mtls::stage_credentials(files, "newer key", "newer cert", "newer chain");
        CHECK(content(files.certificate) == "new cert"); // the promotion finished
        CHECK(content(mtls::credential_files::staged(files.certificate)) == "newer cert");
    }
}

TEST_CASE("credential files: a directory that cannot take them is named, and nothing is left behind")
{
    const fs::path dir = fresh_dir("unwritable");
    write(dir / "not-a-directory", "x");
    const auto files = mtls::credential_files::in_directory(dir / "not-a-directory");
    CHECK_ERROR(mtls::stage_credentials(files, "k", "c", "ch"), errc::credentials_unwritable,
                (dir / "not-a-directory" / "key.pem.new").string());
    CHECK(content(dir / "not-a-directory") == "x");

    // The key written, the certificate refused (its directory is missing): the key goes again.
    const fs::path second = fresh_dir("unwritable-certificate");
    const mtls::credential_files set{second / "key.pem", second / "missing" / "cert.pem", {}};
    CHECK_ERROR(mtls::stage_credentials(set, "k", "c", "ch"), errc::credentials_unwritable, "cert.pem.new");
    CHECK_FALSE(fs::exists(mtls::credential_files::staged(set.key)));
}
