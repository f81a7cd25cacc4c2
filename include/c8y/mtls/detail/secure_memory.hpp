// c8y-mtls: memory for secrets (private keys, passwords), wiped before it is released.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace c8y::mtls::detail {

/// Overwrites bytes with zeros in a way the optimiser may not remove.
inline void wipe(void* data, std::size_t size) noexcept
{
    auto* p = static_cast<volatile unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = 0;
}

inline void wipe(std::string& s) noexcept
{
    wipe(s.data(), s.capacity());
    s.clear();
}

/// Bytes of a secret: wiped when destroyed, cleared or reassigned; copies are explicit.
class secure_bytes {
public:
    secure_bytes() = default;
    explicit secure_bytes(std::size_t size) : bytes_(size) {}
    secure_bytes(const unsigned char* data, std::size_t size) : bytes_(data, data + size) {}
    secure_bytes(secure_bytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
    secure_bytes& operator=(secure_bytes&& other) noexcept
    {
        if (this != &other) {
            clear();
            bytes_ = std::move(other.bytes_);
        }
        return *this;
    }
    secure_bytes(const secure_bytes&) = delete;
    secure_bytes& operator=(const secure_bytes&) = delete;
    ~secure_bytes() { clear(); }

    secure_bytes clone() const { return secure_bytes(bytes_.data(), bytes_.size()); }

    void clear() noexcept
    {
        wipe(bytes_.data(), bytes_.size());
        bytes_.clear();
    }
    /// Shrinks to the first n bytes, wiping the rest.
    void truncate(std::size_t n) noexcept
    {
        if (n < bytes_.size()) {
            wipe(bytes_.data() + n, bytes_.size() - n);
            bytes_.resize(n);
        }
    }

    unsigned char* data() noexcept { return bytes_.data(); }
    const unsigned char* data() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return bytes_.size(); }
    bool empty() const noexcept { return bytes_.empty(); }

private:
    std::vector<unsigned char> bytes_;
};

/// A NUL-terminated copy of a password, for C APIs, wiped on destruction.
class secure_password {
public:
    explicit secure_password(std::string_view password) : bytes_(password.size() + 1)
    {
        for (std::size_t i = 0; i < password.size(); ++i)
            bytes_.data()[i] = static_cast<unsigned char>(password[i]);
        bytes_.data()[password.size()] = 0;
    }
    const char* c_str() const noexcept { return reinterpret_cast<const char*>(bytes_.data()); }
    std::size_t size() const noexcept { return bytes_.size() - 1; }

private:
    secure_bytes bytes_;
};

} // namespace c8y::mtls::detail
