// c8y-mtls: the definitions tls.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/tls.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL std::string to_string(tls_cipher_suite suite)
{
    return detail::tls_cipher_suite_name(static_cast<std::uint16_t>(suite));
}

C8Y_MTLS_DECL std::string to_string(tls_group group)
{
    switch (group) {
    case tls_group::secp256r1: return "secp256r1";
    case tls_group::secp384r1: return "secp384r1";
    case tls_group::x25519: return "x25519";
    }
    return "group " + std::to_string(static_cast<unsigned>(group));
}

} // namespace c8y::mtls
