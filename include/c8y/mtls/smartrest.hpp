// c8y-mtls: SmartREST 2.0 static templates: builders of the lines a device sends first on s/us,
// and a reader of what the platform sends on s/ds (operations) and s/e (errors).
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/detail/csv.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/time_format.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace c8y::mtls::detail {

// A field checked for what no template can carry: bytes that are not UTF-8, and emptiness
// where the template makes the field mandatory.
C8Y_MTLS_DECL void smartrest_check_field(int template_id, std::string_view name, std::string_view value, bool mandatory);

C8Y_MTLS_DECL std::string smartrest_number(int template_id, std::string_view name, double value);

} // namespace c8y::mtls::detail

// Pure protocol code: no I/O. Publish what the builders return on `s/us`; give what arrives on
// `s/ds` and `s/e` to read(). The CSV rules are the platform's (mqtt-bundle, "SmartREST
// escaping"): fields separated by ',', lines by '\n'; a field with '"', ',', CR, LF, a tab, or
// whitespace at either end is put in double quotes, and a '"' inside is doubled. A line break
// inside a quoted field is a real line break, not the two characters "\n".
namespace c8y::mtls::smartrest {

/// When a measurement, event or alarm happened; the platform takes its own time when absent.
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// Alarm severities, numbered by the template that raises an alarm of that severity.
enum class severity { critical = 301, major = 302, minor = 303, warning = 304 };

/// The severity as the platform writes it ("CRITICAL").
constexpr std::string_view severity_name(severity s) noexcept
{
    switch (s) {
    case severity::critical: return "CRITICAL";
    case severity::major: return "MAJOR";
    case severity::minor: return "MINOR";
    case severity::warning: return "WARNING";
    }
    return "";
}

/// `value` as one CSV field, quoted when the platform's rules ask for it.
inline std::string field(std::string_view value) { return detail::csv_field(value, ','); }

/// `t` as ISO 8601 UTC with milliseconds ("2026-01-01T12:00:00.250Z").
C8Y_MTLS_DECL std::string format_timestamp(timestamp t);


/// A line of `template_id` and its fields, each quoted as needed, trailing empty fields left
/// out (the platform reads a missing field as an empty one).
C8Y_MTLS_DECL std::string line(int template_id, std::span<const std::string> fields);

C8Y_MTLS_DECL std::string line(int template_id, std::initializer_list<std::string> fields);

/// 100: create the device (name and type default to the platform's "MQTT Device <serial>" and
/// c8y_MQTTDevice). Sending any data creates the device too.
C8Y_MTLS_DECL std::string create_device(std::string_view name = {}, std::string_view type = {});

/// 110: the device's hardware (serial number, model, revision; all optional).
inline std::string hardware(std::string_view serial_number, std::string_view model = {},
                            std::string_view revision = {})
{
    detail::smartrest_check_field(110, "serial number", serial_number, false);
    detail::smartrest_check_field(110, "model", model, false);
    detail::smartrest_check_field(110, "revision", revision, false);
    return line(110, {std::string(serial_number), std::string(model), std::string(revision)});
}

/// 114: the operations the device supports (c8y_Restart, ...); the list replaces the previous
/// one, and an empty list clears it. Empty names are refused.
C8Y_MTLS_DECL std::string supported_operations(std::span<const std::string> operations);

C8Y_MTLS_DECL std::string supported_operations(std::initializer_list<std::string> operations);

/// 117: the interval, in minutes, within which the platform expects to hear from the device
/// (availability monitoring; set only when not set already).
C8Y_MTLS_DECL std::string required_interval(std::chrono::minutes interval);

/// 200: one measurement value of `fragment`.`series` (c8y_Temperature.T), with an optional
/// unit and time. Throws invalid_argument for an empty fragment or series, or a value that is
/// not finite.
inline std::string measurement(std::string_view fragment, std::string_view series, double value,
                               std::string_view unit = {}, std::optional<timestamp> time = std::nullopt)
{
    detail::smartrest_check_field(200, "fragment", fragment, true);
    detail::smartrest_check_field(200, "series", series, true);
    detail::smartrest_check_field(200, "unit", unit, false);
    return line(200, {std::string(fragment), std::string(series), detail::smartrest_number(200, "value", value),
                      std::string(unit), time ? format_timestamp(*time) : std::string()});
}

/// 400: an event of `type` with `text` (both mandatory) and an optional time.
C8Y_MTLS_DECL std::string event(std::string_view type, std::string_view text, std::optional<timestamp> time = std::nullopt);

/// 301 to 304: raise an alarm of `type` with the given severity, an optional text (the platform
/// writes "Alarm of type <type> raised" otherwise) and an optional time.
inline std::string alarm(severity level, std::string_view type, std::string_view text = {},
                         std::optional<timestamp> time = std::nullopt)
{
    const int id = static_cast<int>(level);
    if (id < 301 || id > 304)
        throw error(errc::invalid_argument, "alarm severity " + std::to_string(id) + " is not 301 to 304");
    detail::smartrest_check_field(id, "alarm type", type, true);
    detail::smartrest_check_field(id, "alarm text", text, false);
    return line(id, {std::string(type), std::string(text), time ? format_timestamp(*time) : std::string()});
}

/// 305: change the severity of the active alarm of `type`.
C8Y_MTLS_DECL std::string alarm_severity(std::string_view type, severity level);

/// 306: clear the active alarm of `type`.
C8Y_MTLS_DECL std::string clear_alarm(std::string_view type);

/// 500: ask for the device's PENDING operations (they arrive on s/ds).
inline std::string pending_operations() { return "500"; }

/// 501: the oldest PENDING operation with `fragment` (c8y_Restart) is now EXECUTING.
C8Y_MTLS_DECL std::string operation_executing(std::string_view fragment);

/// 502: the oldest EXECUTING operation with `fragment` FAILED, with an optional reason.
C8Y_MTLS_DECL std::string operation_failed(std::string_view fragment, std::string_view reason = {});

/// 503: the oldest EXECUTING operation with `fragment` is SUCCESSFUL; `parameters` as the
/// operation type wants them (c8y_Command: its result).
C8Y_MTLS_DECL std::string operation_successful(std::string_view fragment, std::span<const std::string> parameters = {});

/// 504: the operation with id `operation_id` is now EXECUTING.
C8Y_MTLS_DECL std::string operation_executing_by_id(std::string_view operation_id);

/// 505: the operation with id `operation_id` FAILED, with an optional reason.
C8Y_MTLS_DECL std::string operation_failed_by_id(std::string_view operation_id, std::string_view reason = {});

/// 506: the operation with id `operation_id` is SUCCESSFUL, with optional parameters.
inline std::string operation_successful_by_id(std::string_view operation_id,
                                              std::span<const std::string> parameters = {})
{
    detail::smartrest_check_field(506, "operation id", operation_id, true);
    std::vector<std::string> fields{std::string(operation_id)};
    for (const std::string& parameter : parameters) {
        detail::smartrest_check_field(506, "parameter", parameter, false);
        fields.push_back(parameter);
    }
    return line(506, fields);
}

/// 507: every EXECUTING operation with `fragment` (all of them when empty) FAILED, with an
/// optional reason; what a device sends after an unexpected restart.
C8Y_MTLS_DECL std::string executing_operations_failed(std::string_view fragment = {}, std::string_view reason = {});

/// One line the platform sent: its template (message) id and the fields after it, unquoted.
/// An operation on s/ds: `{511, {"device-0001", "execute this"}}` (the first field names the
/// device or child that should run it). An error on s/e: `{41, {"100", "Device already existing"}}`.
struct record {
    int template_id = 0;
    std::vector<std::string> fields{};
    friend bool operator==(const record&, const record&) = default;
};

/// Reads a message of one or more lines (ended by LF or CRLF; blank lines skipped). Throws
/// error(errc::smartrest_malformed) naming the line and byte: a quoted field without its
/// closing quote, text after a closing quote, a '"' or a CR inside an unquoted field, a first
/// field that is not a template id of 1 to 9 digits.
C8Y_MTLS_DECL std::vector<record> parse(std::string_view payload);

/// The c8y::mtls::error for an error line from s/e, with errc::smartrest_platform_error and a
/// detail of the platform's text (its last field) followed by the code and any other fields:
/// "Device already existing (s/e 41,100)".
C8Y_MTLS_DECL error platform_error(const record& line);

/// What arrived on a subscription: for `s/ds`, its operation lines; for `s/e`, throws the
/// platform's first error (platform_error()). Throws smartrest_malformed as parse() does or
/// for an empty s/e message, and invalid_argument for a topic other than s/ds and s/e.
C8Y_MTLS_DECL std::vector<record> read(const mqtt::publish& message);

} // namespace c8y::mtls::smartrest

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/smartrest.ipp"
#endif
