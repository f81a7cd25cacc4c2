// c8y-mtls: the definitions detail/platform_answer.hpp declares: included by it when
// header-only, compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/platform_answer.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string describe_answer(const http::response& answer)
{
    std::string text = "HTTP " + std::to_string(answer.status);
    if (!answer.reason.empty())
        text += " " + answer.reason;
    if (const auto object = parse_json_object(answer.body)) {
        for (const char* field : {"error", "message"})
            if (const json_value* v = object->find(field); v != nullptr && v->kind == json_kind::string &&
                                                            !v->text.empty())
                text += ": " + quoted(v->text, 300);
    } else if (!answer.body.empty()) {
        text += ": " + quoted(answer.body, 200);
    }
    return text;
}

C8Y_MTLS_DECL json_object answer_object(std::string_view body, std::string_view what)
{
    json_error why;
    auto object = parse_json_object(body, &why);
    if (!object)
        throw error(errc::platform_answer_malformed, std::string(what) + ": not a JSON object (" + why.reason +
                                                         " at byte " + std::to_string(why.offset) + ")");
    return std::move(*object);
}

C8Y_MTLS_DECL std::string string_member(const json_object& object, std::string_view name, std::string_view what,
                                        bool required)
{
    const json_value* v = object.find(name);
    if (v == nullptr || v->kind == json_kind::null) {
        if (required)
            throw error(errc::platform_answer_malformed, std::string(what) + ": no \"" + std::string(name) + "\"");
        return {};
    }
    if (v->kind != json_kind::string)
        throw error(errc::platform_answer_malformed,
                    std::string(what) + ": \"" + std::string(name) + "\" is not a string (" + v->raw + ")");
    return v->text;
}

C8Y_MTLS_DECL bool bool_member(const json_object& object, std::string_view name, std::string_view what)
{
    const json_value* v = object.find(name);
    if (v == nullptr || v->kind == json_kind::null)
        return false;
    if (v->raw == "true" || (v->kind == json_kind::string && v->text == "true"))
        return true;
    if (v->raw == "false" || (v->kind == json_kind::string && v->text == "false"))
        return false;
    throw error(errc::platform_answer_malformed,
                std::string(what) + ": \"" + std::string(name) + "\" is not a boolean (" + v->raw + ")");
}

C8Y_MTLS_DECL error refusal(const http::response& answer, std::string_view what)
{
    return error(answer.status >= 500 ? errc::platform_unavailable : errc::platform_refused,
                 std::string(what) + ": " + describe_answer(answer));
}

C8Y_MTLS_DECL std::size_t count_member(const json_object& object, std::string_view name, std::string_view what)
{
    const json_value* v = object.find(name);
    if (v == nullptr || v->kind == json_kind::null)
        return 0;
    const std::string& raw = v->raw;
    const bool digits = v->kind == json_kind::number && !raw.empty() && raw.size() <= 18 &&
                        std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits)
        throw error(errc::platform_answer_malformed,
                    std::string(what) + ": \"" + std::string(name) + "\" is not a count (" + raw + ")");
    return static_cast<std::size_t>(std::stoull(raw));
}

C8Y_MTLS_DECL std::vector<json_object> object_list_member(const json_object& object, std::string_view name,
                                                          std::string_view what)
{
    const json_value* v = object.find(name);
    if (v == nullptr || v->kind == json_kind::null)
        return {};
    const auto elements = v->kind == json_kind::array ? parse_json_array(v->raw) : std::nullopt;
    if (!elements)
        throw error(errc::platform_answer_malformed,
                    std::string(what) + ": \"" + std::string(name) + "\" is not an array");
    std::vector<json_object> out;
    for (const json_value& element : *elements) {
        auto row = element.kind == json_kind::object ? parse_json_object(element.raw) : std::nullopt;
        if (!row)
            throw error(errc::platform_answer_malformed,
                        std::string(what) + ": an element of \"" + std::string(name) + "\" is not an object");
        out.push_back(std::move(*row));
    }
    return out;
}

} // namespace c8y::mtls::detail
