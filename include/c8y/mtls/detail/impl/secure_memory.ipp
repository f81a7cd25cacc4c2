// c8y-mtls: the definitions secure_memory.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/secure_memory.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL secure_password::secure_password(std::string_view password) : bytes_(password.size() + 1)
{
    for (std::size_t i = 0; i < password.size(); ++i)
        bytes_.data()[i] = static_cast<unsigned char>(password[i]);
    bytes_.data()[password.size()] = 0;
}

} // namespace c8y::mtls::detail
