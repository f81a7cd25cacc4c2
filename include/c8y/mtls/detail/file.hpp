// c8y-mtls: reading the files a user names (certificates, keys, keystores, truststores, stores)
// without being made to crash or hang: only regular files, under a size bound checked before
// reading, every refusal naming the file and why.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

/// The largest certificate, key, keystore or truststore file the SDK reads by default.
inline constexpr std::size_t default_max_file_bytes = 1024 * 1024;

namespace detail {

/// Why `path` is not a regular file of at most `max_bytes`, or empty when it is one: a
/// directory, a FIFO, a device or a socket would crash, hang or never end a read.
inline std::string unusable_file_reason(const std::filesystem::path& path, std::size_t max_bytes)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec)
        return ec == std::errc::no_such_file_or_directory ? "no such file" : ec.message();
    switch (status.type()) {
    case fs::file_type::regular: break;
    case fs::file_type::directory: return "is a directory, not a file";
    case fs::file_type::fifo: return "is a FIFO (named pipe), not a regular file";
    case fs::file_type::character:
    case fs::file_type::block: return "is a device, not a regular file";
    case fs::file_type::socket: return "is a socket, not a regular file";
    default: return "is not a regular file";
    }
    const std::uintmax_t size = fs::file_size(path, ec);
    if (ec)
        return ec.message();
    if (size > max_bytes)
        return "is " + std::to_string(size) + " bytes, more than the limit of " + std::to_string(max_bytes) +
               " bytes";
    return {};
}

/// Reads a whole regular file of at most `max_bytes`. Throws error(file_unreadable) naming the
/// file and why otherwise. The caller wipes the result when it holds a secret.
inline std::string read_file(const std::filesystem::path& path, std::size_t max_bytes = default_max_file_bytes)
{
    if (const std::string why = unusable_file_reason(path, max_bytes); !why.empty())
        throw error(errc::file_unreadable, path.string() + ": " + why);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw error(errc::file_unreadable, path.string() + ": " + std::strerror(errno));
    // Bounded again while reading: the file may have grown since it was measured.
    std::string content;
    char buffer[16384];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        content.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (content.size() > max_bytes)
            throw error(errc::file_unreadable, path.string() + ": grew past the limit of " +
                                                   std::to_string(max_bytes) + " bytes while read");
    }
    if (in.bad())
        throw error(errc::file_unreadable, path.string() + ": read error");
    return content;
}

} // namespace detail
} // namespace c8y::mtls
