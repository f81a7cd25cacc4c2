// c8y-mtls: the definitions credential_files.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/credential_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

namespace detail {

[[noreturn]] inline void credentials_unwritable_error(const std::filesystem::path& path, const std::string& doing,
                                                      int why)
{
    throw error(errc::credentials_unwritable, path.string() + ": " + doing + ": " + std::strerror(why));
}

// Creates or replaces `path` with `content`, flushed to the disk before it returns.
inline void write_flushed(const std::filesystem::path& path, std::string_view content, bool holds_key)
{
    // A key file is made anew, never truncated in place: it is 0600 from the first byte.
    if (holds_key && ::unlink(path.c_str()) != 0 && errno != ENOENT)
        credentials_unwritable_error(path, "removing an earlier staged key", errno);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (holds_key ? O_EXCL : 0),
                          holds_key ? 0600 : 0644);
    if (fd < 0)
        credentials_unwritable_error(path, "creating", errno);
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int why = errno;
            ::close(fd);
            credentials_unwritable_error(path, "writing", why);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int why = errno;
        ::close(fd);
        credentials_unwritable_error(path, "flushing to the disk", why);
    }
    if (::close(fd) != 0)
        credentials_unwritable_error(path, "closing", errno);
}

// Flushes a directory, so that the renames in it survive a power cut.
inline void flush_directory(const std::filesystem::path& file)
{
    std::filesystem::path dir = file.parent_path();
    if (dir.empty())
        dir = ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        credentials_unwritable_error(dir, "opening the directory", errno);
    const int result = ::fsync(fd);
    const int why = errno;
    ::close(fd);
    if (result != 0)
        credentials_unwritable_error(dir, "flushing the directory", why);
}

// The files of a set, the key first: the order of staging and of promotion.
inline std::vector<std::filesystem::path> files_of(const credential_files& files)
{
    std::vector<std::filesystem::path> all{files.key, files.certificate};
    if (!files.chain.empty())
        all.push_back(files.chain);
    return all;
}

// Flushes each directory that holds one of the files (usually one).
inline void flush_directories(const credential_files& files)
{
    std::vector<std::filesystem::path> done;
    for (const std::filesystem::path& file : files_of(files)) {
        const std::filesystem::path dir = file.parent_path();
        if (std::find(done.begin(), done.end(), dir) == done.end()) {
            flush_directory(file);
            done.push_back(dir);
        }
    }
}

inline bool exists(const std::filesystem::path& path)
{
    std::error_code ec;
    return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

inline void promote(const std::filesystem::path& file)
{
    const std::filesystem::path next = credential_files::staged(file);
    if (::rename(next.c_str(), file.c_str()) != 0)
        credentials_unwritable_error(file, "replacing it with " + next.filename().string(), errno);
}

} // namespace detail

C8Y_MTLS_DECL void stage_credentials(const credential_files& files, std::string_view key_pem,
                                     std::string_view certificate_pem, std::string_view chain_pem)
{
    if (files.key.empty() || files.certificate.empty())
        throw error(errc::invalid_argument, "credential_files: the key and the certificate need a path");
    recover_credential_files(files); // a promotion a crash interrupted is finished, not overwritten
    try {
        detail::write_flushed(credential_files::staged(files.key), key_pem, true);
        detail::write_flushed(credential_files::staged(files.certificate), certificate_pem, false);
        if (!files.chain.empty())
            detail::write_flushed(credential_files::staged(files.chain), chain_pem, false);
        detail::flush_directories(files);
    } catch (...) {
        discard_staged_credentials(files);
        throw;
    }
}

C8Y_MTLS_DECL void promote_staged_credentials(const credential_files& files)
{
    for (const std::filesystem::path& file : detail::files_of(files)) {
        if (!detail::exists(credential_files::staged(file)))
            throw error(errc::credentials_unwritable, credential_files::staged(file).string() +
                                                          ": not staged, nothing to promote");
        detail::promote(file);
    }
    detail::flush_directories(files);
}

C8Y_MTLS_DECL void discard_staged_credentials(const credential_files& files) noexcept
{
    // The key last: while it is staged, recover_credential_files() discards the rest too.
    const std::vector<std::filesystem::path> all = detail::files_of(files);
    for (auto file = all.rbegin(); file != all.rend(); ++file) {
        std::error_code ignored;
        std::filesystem::remove(credential_files::staged(*file), ignored);
    }
}

C8Y_MTLS_DECL credential_recovery recover_credential_files(const credential_files& files)
{
    const std::vector<std::filesystem::path> all = detail::files_of(files);
    bool any = false;
    for (const std::filesystem::path& file : all)
        any = any || detail::exists(credential_files::staged(file));
    if (!any)
        return credential_recovery::nothing_staged;
    // The key is staged first and promoted first: staged, the promotion never began.
    if (detail::exists(credential_files::staged(files.key))) {
        discard_staged_credentials(files);
        return credential_recovery::discarded;
    }
    for (const std::filesystem::path& file : all)
        if (detail::exists(credential_files::staged(file)))
            detail::promote(file);
    detail::flush_directories(files);
    return credential_recovery::completed;
}

} // namespace c8y::mtls
