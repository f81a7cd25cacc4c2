// c8y-mtls: the definitions smartrest.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/smartrest.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL void smartrest_check_field(int template_id, std::string_view name, std::string_view value, bool mandatory)
{
    if (mandatory && value.empty())
        throw error(errc::invalid_argument,
                    "template " + std::to_string(template_id) + ": the " + std::string(name) + " is mandatory");
    for (std::size_t i = 0; i < value.size();) {
        const std::size_t n = utf8_sequence_length(value.substr(i));
        if (n == 0)
            throw error(errc::invalid_argument, "template " + std::to_string(template_id) + ": the " +
                                                    std::string(name) + " " + quoted(value) +
                                                    " is not valid UTF-8 at byte " + std::to_string(i));
        i += n;
    }
}

C8Y_MTLS_DECL std::string smartrest_number(int template_id, std::string_view name, double value)
{
    if (!std::isfinite(value))
        throw error(errc::invalid_argument,
                    "template " + std::to_string(template_id) + ": the " + std::string(name) + " is not a finite number");
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value); // shortest exact form
    return std::string(buffer, result.ptr);
}

} // namespace c8y::mtls::detail

namespace c8y::mtls::smartrest {

C8Y_MTLS_DECL std::string format_timestamp(timestamp t)
{
    const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
    const auto millis = (t - seconds).count();
    std::string text = format_time(seconds);
    const char digits[] = {'.', static_cast<char>('0' + millis / 100), static_cast<char>('0' + millis / 10 % 10),
                           static_cast<char>('0' + millis % 10)};
    text.insert(text.size() - 1, digits, sizeof digits);
    return text;
}

C8Y_MTLS_DECL std::string line(int template_id, std::span<const std::string> fields)
{
    std::size_t used = fields.size();
    while (used > 0 && fields[used - 1].empty())
        --used;
    std::string out = std::to_string(template_id);
    for (std::size_t i = 0; i < used; ++i)
        out += "," + field(fields[i]);
    return out;
}

C8Y_MTLS_DECL std::string line(int template_id, std::initializer_list<std::string> fields)
{
    return line(template_id, std::span<const std::string>(fields.begin(), fields.size()));
}

C8Y_MTLS_DECL std::string create_device(std::string_view name, std::string_view type)
{
    detail::smartrest_check_field(100, "device name", name, false);
    detail::smartrest_check_field(100, "device type", type, false);
    return line(100, {std::string(name), std::string(type)});
}

C8Y_MTLS_DECL std::string supported_operations(std::span<const std::string> operations)
{
    for (const std::string& operation : operations)
        detail::smartrest_check_field(114, "operation name", operation, true);
    std::string out = "114";
    for (const std::string& operation : operations)
        out += "," + field(operation);
    return out;
}

C8Y_MTLS_DECL std::string supported_operations(std::initializer_list<std::string> operations)
{
    return supported_operations(std::span<const std::string>(operations.begin(), operations.size()));
}

C8Y_MTLS_DECL std::string required_interval(std::chrono::minutes interval)
{
    return "117," + std::to_string(interval.count());
}

C8Y_MTLS_DECL std::string event(std::string_view type, std::string_view text, std::optional<timestamp> time)
{
    detail::smartrest_check_field(400, "event type", type, true);
    detail::smartrest_check_field(400, "event text", text, true);
    return line(400, {std::string(type), std::string(text), time ? format_timestamp(*time) : std::string()});
}

C8Y_MTLS_DECL std::string alarm_severity(std::string_view type, severity level)
{
    detail::smartrest_check_field(305, "alarm type", type, true);
    const std::string_view name = severity_name(level);
    if (name.empty())
        throw error(errc::invalid_argument,
                    "alarm severity " + std::to_string(static_cast<int>(level)) + " is not 301 to 304");
    return line(305, {std::string(type), std::string(name)});
}

C8Y_MTLS_DECL std::string clear_alarm(std::string_view type)
{
    detail::smartrest_check_field(306, "alarm type", type, true);
    return line(306, {std::string(type)});
}

C8Y_MTLS_DECL std::string operation_executing(std::string_view fragment)
{
    detail::smartrest_check_field(501, "operation fragment", fragment, true);
    return line(501, {std::string(fragment)});
}

C8Y_MTLS_DECL std::string operation_failed(std::string_view fragment, std::string_view reason)
{
    detail::smartrest_check_field(502, "operation fragment", fragment, true);
    detail::smartrest_check_field(502, "failure reason", reason, false);
    return line(502, {std::string(fragment), std::string(reason)});
}

C8Y_MTLS_DECL std::string operation_successful(std::string_view fragment, std::span<const std::string> parameters)
{
    detail::smartrest_check_field(503, "operation fragment", fragment, true);
    std::vector<std::string> fields{std::string(fragment)};
    for (const std::string& parameter : parameters) {
        detail::smartrest_check_field(503, "parameter", parameter, false);
        fields.push_back(parameter);
    }
    return line(503, fields);
}

C8Y_MTLS_DECL std::string operation_executing_by_id(std::string_view operation_id)
{
    detail::smartrest_check_field(504, "operation id", operation_id, true);
    return line(504, {std::string(operation_id)});
}

C8Y_MTLS_DECL std::string operation_failed_by_id(std::string_view operation_id, std::string_view reason)
{
    detail::smartrest_check_field(505, "operation id", operation_id, true);
    detail::smartrest_check_field(505, "failure reason", reason, false);
    return line(505, {std::string(operation_id), std::string(reason)});
}

C8Y_MTLS_DECL std::string executing_operations_failed(std::string_view fragment, std::string_view reason)
{
    detail::smartrest_check_field(507, "operation fragment", fragment, false);
    detail::smartrest_check_field(507, "failure reason", reason, false);
    return line(507, {std::string(fragment), std::string(reason)});
}

C8Y_MTLS_DECL std::vector<record> parse(std::string_view payload)
{
    std::vector<record> records;
    std::size_t i = 0;
    int line_number = 0;
    while (i < payload.size()) {
        ++line_number;
        const std::size_t line_start = i;
        const auto fail = [&](std::size_t at, const std::string& why) {
            return error(errc::smartrest_malformed, "line " + std::to_string(line_number) + ", byte " +
                                                        std::to_string(at) + ": " + why + ", in " +
                                                        mtls::detail::quoted(payload));
        };
        std::vector<std::string> fields;
        for (;;) {
            std::string value;
            detail::csv_problem problem;
            if (!detail::csv_read_field(payload, i, ',', value, problem)) {
                switch (problem.what) {
                case detail::csv_problem::unclosed_quote:
                    throw fail(problem.offset, "the quoted field has no closing '\"'");
                case detail::csv_problem::text_after_quote:
                    throw fail(problem.offset, "text after the closing '\"' of a quoted field");
                case detail::csv_problem::quote_in_unquoted:
                    throw fail(problem.offset, "a '\"' inside an unquoted field (the field must be quoted)");
                case detail::csv_problem::cr_in_unquoted:
                    throw fail(problem.offset, "a carriage return inside an unquoted field");
                }
            }
            fields.push_back(std::move(value));
            if (i < payload.size() && payload[i] == ',') {
                ++i;
                continue;
            }
            if (i < payload.size())
                i += payload[i] == '\r' ? 2 : 1; // the line end
            break;
        }
        if (fields.size() == 1 && fields.front().empty())
            continue; // a blank line
        const std::string& id = fields.front();
        if (id.empty() || id.size() > 9 || id.find_first_not_of("0123456789") != std::string::npos)
            throw fail(line_start, "the template id " + mtls::detail::quoted(id) + " is not a number");
        record r;
        r.template_id = std::stoi(id);
        r.fields.assign(std::make_move_iterator(fields.begin() + 1), std::make_move_iterator(fields.end()));
        records.push_back(std::move(r));
    }
    return records;
}

C8Y_MTLS_DECL error platform_error(const record& line)
{
    std::string context = std::to_string(line.template_id);
    for (std::size_t i = 0; i + 1 < line.fields.size(); ++i)
        context += "," + field(line.fields[i]);
    const std::string text = line.fields.empty() || line.fields.back().empty() ? "(no text)" : line.fields.back();
    return error(errc::smartrest_platform_error, text + " (s/e " + context + ")");
}

C8Y_MTLS_DECL std::vector<record> read(const mqtt::publish& message)
{
    if (message.topic == "s/ds")
        return parse(message.payload);
    if (message.topic == "s/e") {
        const std::vector<record> errors = parse(message.payload);
        if (errors.empty())
            throw error(errc::smartrest_malformed, "an empty message on s/e");
        throw platform_error(errors.front());
    }
    throw error(errc::invalid_argument,
                "the topic " + mtls::detail::quoted(message.topic) + " carries no static template messages (s/ds, s/e)");
}

} // namespace c8y::mtls::smartrest
