// c8y-mtls: reading the files a user names (certificates, keys, keystores, truststores, stores)
// without being made to crash or hang: only regular files, under a size bound checked before
// reading, every refusal naming the file and why.
#pragma once

#include "c8y/mtls/config.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "c8y/mtls/error.hpp"
#include "c8y/mtls/secret.hpp"

namespace c8y::mtls {

/// The largest certificate, key, keystore or truststore file the SDK reads by default.
inline constexpr std::size_t default_max_file_bytes = 1024 * 1024;

namespace detail {

/// Why `path` is not a regular file of at most `max_bytes`, or empty when it is one: a
/// directory, a FIFO, a device or a socket would crash, hang or never end a read.
C8Y_MTLS_DECL std::string unusable_file_reason(const std::filesystem::path& path, std::size_t max_bytes);

} // namespace detail

/// Reads a whole regular file of at most `max_bytes`, as every loader of the SDK does. Throws
/// error(file_unreadable) naming the file and why otherwise (a directory, a FIFO, a device, a
/// file too large). The buffer is sized once and what was read is wiped on failure, so that a
/// key leaves no copy behind; wipe the result, or use read_secret_file(), when it is a secret.
C8Y_MTLS_DECL std::string read_file(const std::filesystem::path& path, std::size_t max_bytes = default_max_file_bytes);

/// read_file() for a file that holds a secret (a PEM key, a keystore, a password file).
C8Y_MTLS_DECL secret_string read_secret_file(const std::filesystem::path& path, std::size_t max_bytes = default_max_file_bytes);

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/file.ipp"
#endif
