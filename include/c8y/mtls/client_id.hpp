// c8y-mtls: the MQTT client id the platform expects, [connectionType:]deviceIdentifier[:defaultTemplateIdentifier].
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c8y::mtls {

/// The MQTT client id of a device: `[connectionType:]deviceIdentifier[:defaultTemplateIdentifier]`.
///
/// With certificates, `device_id` must equal the CN of the device certificate, which is why it
/// can never contain ':'. An empty `connection_type` means the platform's default, `d`
/// (a device), so `dev-1`, `d:dev-1` and `d:dev-1:tpl` all name the device `dev-1`.
/// Two parts always read as `connectionType:deviceIdentifier`: a default template therefore
/// needs a connection type in front, and str() writes `d` when none was given.
struct client_id {
    /// What the platform assumes when the client id has no connection type.
    static constexpr std::string_view platform_default_connection_type = "d";

    std::string connection_type;  // empty: the platform's default, "d"
    std::string device_id;        // the certificate's CN
    std::string default_template; // SmartREST template collection; empty: none

    /// Reads a client id in wire form. Throws error(errc::client_id_invalid) for an empty
    /// string, more than 3 ':'-separated parts, or an empty part (an empty device id above all).
    [[nodiscard]] static client_id parse(std::string_view text)
    {
        std::vector<std::string_view> parts;
        for (std::size_t start = 0;;) {
            const std::size_t colon = text.find(':', start);
            parts.push_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
            if (colon == std::string_view::npos) {
                break;
            }
            start = colon + 1;
        }
        const auto fail = [&](const std::string& why) {
            return error(errc::client_id_invalid, detail::quoted(text) + ": " + why +
                                                      " (the form is "
                                                      "[connectionType:]deviceIdentifier[:defaultTemplateIdentifier])");
        };
        if (text.empty()) {
            throw fail("the client id is empty");
        }
        if (parts.size() > 3) {
            throw fail("it has " + std::to_string(parts.size()) + " ':'-separated parts, at most 3 are allowed");
        }
        client_id id;
        if (parts.size() == 1) {
            id.device_id = parts[0];
        } else {
            if (parts[0].empty()) {
                throw fail("the connection type before the first ':' is empty");
            }
            id.connection_type = parts[0];
            id.device_id = parts[1];
            if (parts.size() == 3) {
                if (parts[2].empty()) {
                    throw fail("the default template after the last ':' is empty");
                }
                id.default_template = parts[2];
            }
        }
        if (id.device_id.empty()) {
            throw fail("the device identifier is empty");
        }
        return id;
    }

    /// The client id for a device whose certificate CN is `device_id`. Throws
    /// error(errc::client_id_invalid) when `device_id` is empty or contains ':' (no device
    /// certificate can carry such a CN) or when another part contains ':'.
    [[nodiscard]] static client_id for_device(std::string device_id, std::string connection_type = "",
                                              std::string default_template = "")
    {
        client_id id{std::move(connection_type), std::move(device_id), std::move(default_template)};
        id.check();
        return id;
    }

    /// The wire form, as sent in CONNECT. Throws error(errc::client_id_invalid) when the fields
    /// cannot make a client id the platform reads back the same (see for_device()).
    [[nodiscard]] std::string str() const
    {
        check();
        std::string out;
        if (!connection_type.empty()) {
            out.append(connection_type).append(":");
        } else if (!default_template.empty()) {
            out.append(platform_default_connection_type).append(":");
        }
        out += device_id;
        if (!default_template.empty()) {
            out.append(":").append(default_template);
        }
        return out;
    }

    friend bool operator==(const client_id&, const client_id&) = default;

private:
    C8Y_MTLS_DECL void check() const;
};

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/client_id.ipp"
#endif
