// c8y-mtls: the definitions secret.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/secret.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL void wipe(void* data, std::size_t size) noexcept
{
    auto* p = static_cast<volatile unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i)
        p[i] = 0;
}

C8Y_MTLS_DECL void wipe(std::string& s) noexcept
{
    wipe(s.data(), s.capacity());
    s.clear();
}

C8Y_MTLS_DECL auto secure_bytes::operator=(secure_bytes&& other) noexcept -> secure_bytes&
{
    if (this != &other) {
        clear();
        bytes_ = std::move(other.bytes_);
    }
    return *this;
}

C8Y_MTLS_DECL void secure_bytes::clear() noexcept
{
    wipe(bytes_.data(), bytes_.size());
    bytes_.clear();
}

C8Y_MTLS_DECL void secure_bytes::truncate(std::size_t n) noexcept
{
    if (n < bytes_.size()) {
        wipe(bytes_.data() + n, bytes_.size() - n);
        bytes_.resize(n);
    }
}

C8Y_MTLS_DECL auto secret_string::operator=(secret_string&& other) noexcept -> secret_string&
{
    if (this != &other) {
        wipe(text_);
        text_ = std::move(other.text_);
        other.text_.clear();
    }
    return *this;
}

} // namespace c8y::mtls
