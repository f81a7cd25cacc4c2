// c8y-mtls: memory for secrets (private keys, passwords, tokens), wiped before it is released.
#pragma once

#include "c8y/mtls/config.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c8y::mtls {

/// Overwrites bytes with zeros in a way the optimiser may not remove.
C8Y_MTLS_DECL void wipe(void* data, std::size_t size) noexcept;

/// Wipes the whole capacity of a string, then empties it.
C8Y_MTLS_DECL void wipe(std::string& s) noexcept;

/// Bytes of a secret (a private key as PKCS#8 DER): wiped when destroyed, cleared or
/// reassigned; move-only, copies are explicit (clone()).
class secure_bytes {
public:
    secure_bytes() = default;
    explicit secure_bytes(std::size_t size) : bytes_(size) {}
    secure_bytes(const unsigned char* data, std::size_t size) : bytes_(data, data + size) {}
    secure_bytes(secure_bytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
    C8Y_MTLS_DECL secure_bytes& operator=(secure_bytes&& other) noexcept;
    secure_bytes(const secure_bytes&) = delete;
    secure_bytes& operator=(const secure_bytes&) = delete;
    ~secure_bytes() { clear(); }

    secure_bytes clone() const { return secure_bytes(bytes_.data(), bytes_.size()); }

    C8Y_MTLS_DECL void clear() noexcept;
    /// Shrinks to the first n bytes, wiping the rest.
    C8Y_MTLS_DECL void truncate(std::size_t n) noexcept;

    unsigned char* data() noexcept { return bytes_.data(); }
    const unsigned char* data() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return bytes_.size(); }
    bool empty() const noexcept { return bytes_.empty(); }

private:
    std::vector<unsigned char> bytes_;
};

/// Text of a secret (a password, a PEM private key, a JWT): a std::string whose buffer is wiped
/// when it is destroyed or reassigned. Taking a std::string by move keeps its buffer, so the
/// secret is never copied on the way in. Move-only.
class secret_string {
public:
    secret_string() = default;
    explicit secret_string(std::string text) noexcept : text_(std::move(text)) {}
    explicit secret_string(std::string_view text) : text_(text) {}
    secret_string(secret_string&& other) noexcept : text_(std::move(other.text_)) { other.text_.clear(); }
    C8Y_MTLS_DECL secret_string& operator=(secret_string&& other) noexcept;
    secret_string(const secret_string&) = delete;
    secret_string& operator=(const secret_string&) = delete;
    ~secret_string() { wipe(text_); }

    std::string_view view() const noexcept { return text_; }
    operator std::string_view() const noexcept { return text_; }
    const char* c_str() const noexcept { return text_.c_str(); }
    std::size_t size() const noexcept { return text_.size(); }
    bool empty() const noexcept { return text_.empty(); }
    /// Wipes the text now.
    void clear() noexcept { wipe(text_); }

private:
    std::string text_;
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/secret.ipp"
#endif
