// c8y-mtls: the definitions file.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/file.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string unusable_file_reason(const std::filesystem::path& path, std::size_t max_bytes)
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

} // namespace c8y::mtls::detail

namespace c8y::mtls {

C8Y_MTLS_DECL std::string read_file(const std::filesystem::path& path, std::size_t max_bytes)
{
    if (const std::string why = detail::unusable_file_reason(path, max_bytes); !why.empty())
        throw error(errc::file_unreadable, path.string() + ": " + why);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw error(errc::file_unreadable, path.string() + ": " + std::strerror(errno));
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    constexpr std::size_t chunk = 16384;
    char buffer[chunk];
    std::string content;
    // Bounded again while reading: the file may have grown since it was measured.
    content.reserve(static_cast<std::size_t>(ec ? 0 : size) + chunk);
    struct wiped_unless_kept {
        std::string& content;
        char* buffer;
        bool kept = false;
        ~wiped_unless_kept()
        {
            wipe(buffer, chunk);
            if (!kept)
                wipe(content);
        }
    } guard{content, buffer};
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        if (content.size() + static_cast<std::size_t>(in.gcount()) > max_bytes)
            throw error(errc::file_unreadable, path.string() + ": grew past the limit of " +
                                                   std::to_string(max_bytes) + " bytes while read");
        content.append(buffer, static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad())
        throw error(errc::file_unreadable, path.string() + ": read error");
    guard.kept = true;
    return content;
}

C8Y_MTLS_DECL secret_string read_secret_file(const std::filesystem::path& path, std::size_t max_bytes)
{
    return secret_string(read_file(path, max_bytes));
}

} // namespace c8y::mtls
