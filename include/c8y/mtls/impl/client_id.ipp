// c8y-mtls: the definitions client_id.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/client_id.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL void client_id::check() const
{
    if (device_id.empty()) {
        throw error(errc::client_id_invalid, "the device id is empty");
    }
    if (device_id.find(':') != std::string::npos) {
        throw error(errc::client_id_invalid,
                    "device id " + detail::quoted(device_id) +
                        " contains ':', which separates the client id's parts: the platform cannot "
                        "take it as a device identifier, so a device certificate's CN must not contain ':'");
    }
    if (connection_type.find(':') != std::string::npos) {
        throw error(errc::client_id_invalid, "connection type " + detail::quoted(connection_type) + " contains ':'");
    }
    if (default_template.find(':') != std::string::npos) {
        throw error(errc::client_id_invalid,
                    "default template " + detail::quoted(default_template) + " contains ':'");
    }
}

} // namespace c8y::mtls
