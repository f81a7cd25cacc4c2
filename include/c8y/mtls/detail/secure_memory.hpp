// c8y-mtls: internals for secrets: a password as C APIs take it, a string wiped on scope exit.
#pragma once

#include "c8y/mtls/config.hpp"

#include <string>
#include <string_view>

#include "c8y/mtls/secret.hpp"

namespace c8y::mtls::detail {

/// A NUL-terminated copy of a password, for C APIs, wiped on destruction.
class secure_password {
public:
    C8Y_MTLS_DECL explicit secure_password(std::string_view password);
    const char* c_str() const noexcept { return reinterpret_cast<const char*>(bytes_.data()); }
    std::size_t size() const noexcept { return bytes_.size() - 1; }

private:
    secure_bytes bytes_;
};

/// Wipes a string holding a secret when the scope ends, whatever way it ends.
class wipe_on_exit {
public:
    explicit wipe_on_exit(std::string& s) noexcept : s_(s) {}
    wipe_on_exit(const wipe_on_exit&) = delete;
    wipe_on_exit& operator=(const wipe_on_exit&) = delete;
    ~wipe_on_exit() { wipe(s_); }

private:
    std::string& s_;
};

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/secure_memory.ipp"
#endif
