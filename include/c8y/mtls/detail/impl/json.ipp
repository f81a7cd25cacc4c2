// c8y-mtls: the definitions json.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/json.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL auto json_object::find(std::string_view name) const noexcept -> const json_value*
{
    for (const auto& m : members) {
        if (m.name == name) {
            return &m.value;
        }
    }
    return nullptr;
}

} // namespace c8y::mtls::detail

namespace c8y::mtls::detail::json_impl {

C8Y_MTLS_DECL auto reader::parse_object() -> std::optional<json_object>
{
    return parse_document<json_object>('{', "expected a JSON object ('{')", "unexpected data after the JSON object",
                                       &reader::object);
}

C8Y_MTLS_DECL auto reader::parse_array() -> std::optional<std::vector<json_value>>
{
    return parse_document<std::vector<json_value>>('[', "expected a JSON array ('[')",
                                                    "unexpected data after the JSON array", &reader::array);
}

C8Y_MTLS_DECL bool reader::fail(const char* reason) noexcept
{
    error_ = {pos_, reason};
    return false;
}

C8Y_MTLS_DECL void reader::skip_whitespace() noexcept
{
    while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }
        ++pos_;
    }
}

C8Y_MTLS_DECL bool reader::value(std::size_t depth, json_kind* kind, std::string* unescaped)
{
    if (pos_ >= text_.size()) {
        return fail("unexpected end of input, expected a value");
    }
    json_kind k = json_kind::null;
    bool ok = false;
    const char c = text_[pos_];
    if (c == '{') {
        k = json_kind::object;
        ok = object(depth + 1, nullptr);
    } else if (c == '[') {
        k = json_kind::array;
        ok = array(depth + 1, nullptr);
    } else if (c == '"') {
        k = json_kind::string;
        ok = string(unescaped);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        k = json_kind::number;
        ok = number();
    } else if (c == 't') {
        k = json_kind::boolean;
        ok = literal("true");
    } else if (c == 'f') {
        k = json_kind::boolean;
        ok = literal("false");
    } else if (c == 'n') {
        ok = literal("null");
    } else {
        return fail("expected a value (object, array, string, number, true, false or null)");
    }
    if (ok && kind != nullptr) {
        *kind = k;
    }
    return ok;
}

C8Y_MTLS_DECL bool reader::object(std::size_t depth, json_object* top)
{
    if (depth > json_max_depth) {
        return fail("arrays and objects nested too deep");
    }
    ++pos_; // '{'
    skip_whitespace();
    if (at('}')) {
        ++pos_;
        return true;
    }
    for (;;) {
        if (!at('"')) {
            return fail("expected a member name (a string in double quotes)");
        }
        const std::size_t name_pos = pos_;
        std::string name;
        if (!string(top != nullptr ? &name : nullptr)) {
            return false;
        }
        // RFC 7519 (4) lets a JWT reader either refuse duplicate claim names or keep the last;
        // refusing is the one that cannot be fooled by a second, different "exp".
        if (top != nullptr && top->find(name) != nullptr) {
            pos_ = name_pos;
            return fail("duplicate member name");
        }
        skip_whitespace();
        if (!at(':')) {
            return fail("expected ':' after a member name");
        }
        ++pos_;
        skip_whitespace();
        const std::size_t value_pos = pos_;
        json_member member;
        if (!value(depth, top != nullptr ? &member.value.kind : nullptr,
                   top != nullptr ? &member.value.text : nullptr)) {
            return false;
        }
        if (top != nullptr) {
            member.name = std::move(name);
            member.value.raw = std::string(text_.substr(value_pos, pos_ - value_pos));
            top->members.push_back(std::move(member));
        }
        skip_whitespace();
        if (at(',')) {
            ++pos_;
            skip_whitespace();
            continue;
        }
        if (at('}')) {
            ++pos_;
            return true;
        }
        return fail("expected ',' or '}' after a member");
    }
}

C8Y_MTLS_DECL bool reader::array(std::size_t depth, std::vector<json_value>* top)
{
    if (depth > json_max_depth) {
        return fail("arrays and objects nested too deep");
    }
    ++pos_; // '['
    skip_whitespace();
    if (at(']')) {
        ++pos_;
        return true;
    }
    for (;;) {
        const std::size_t value_pos = pos_;
        json_value element;
        if (!value(depth, top != nullptr ? &element.kind : nullptr, top != nullptr ? &element.text : nullptr)) {
            return false;
        }
        if (top != nullptr) {
            element.raw = std::string(text_.substr(value_pos, pos_ - value_pos));
            top->push_back(std::move(element));
        }
        skip_whitespace();
        if (at(',')) {
            ++pos_;
            skip_whitespace();
            continue;
        }
        if (at(']')) {
            ++pos_;
            return true;
        }
        return fail("expected ',' or ']' after an array element");
    }
}

C8Y_MTLS_DECL bool reader::hex4(std::uint32_t& cp) noexcept
{
    ++pos_; // 'u'
    cp = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
        if (pos_ >= text_.size()) {
            return fail("unexpected end of input in a \\u escape");
        }
        const int digit = hex_value(text_[pos_]);
        if (digit < 0) {
            return fail("expected 4 hex digits after \\u");
        }
        cp = (cp << 4) | static_cast<std::uint32_t>(digit);
    }
    return true;
}

C8Y_MTLS_DECL bool reader::escape(std::string* out)
{
    const std::size_t start = pos_;
    ++pos_;
    if (pos_ >= text_.size()) {
        return fail("unexpected end of input in an escape");
    }
    char plain = 0;
    switch (text_[pos_]) {
    case '"': plain = '"'; break;
    case '\\': plain = '\\'; break;
    case '/': plain = '/'; break;
    case 'b': plain = '\b'; break;
    case 'f': plain = '\f'; break;
    case 'n': plain = '\n'; break;
    case 'r': plain = '\r'; break;
    case 't': plain = '\t'; break;
    case 'u': break;
    default: return fail("invalid escape");
    }
    if (plain != 0) {
        ++pos_;
        if (out != nullptr) {
            *out += plain;
        }
        return true;
    }
    std::uint32_t cp = 0;
    if (!hex4(cp)) {
        return false;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        pos_ = start;
        return fail("lone low surrogate in a \\u escape");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        // A high surrogate must be followed at once by an escaped low one.
        if (pos_ + 1 >= text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
            pos_ = start;
            return fail("lone high surrogate in a \\u escape");
        }
        ++pos_;
        std::uint32_t low = 0;
        if (!hex4(low)) {
            return false;
        }
        if (low < 0xDC00 || low > 0xDFFF) {
            pos_ = start;
            return fail("lone high surrogate in a \\u escape");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out != nullptr) {
        append_utf8(*out, cp);
    }
    return true;
}

C8Y_MTLS_DECL bool reader::string(std::string* out)
{
    ++pos_; // opening '"'
    for (;;) {
        if (pos_ >= text_.size()) {
            return fail("unterminated string");
        }
        const char c = text_[pos_];
        const auto u = static_cast<unsigned char>(c);
        if (c == '"') {
            ++pos_;
            return true;
        }
        if (c == '\\') {
            if (!escape(out)) {
                return false;
            }
            continue;
        }
        if (u < 0x20) {
            return fail("control character in a string (it must be escaped)");
        }
        const std::size_t length = utf8_sequence_length(text_.substr(pos_));
        if (length == 0) {
            return fail("invalid UTF-8 in a string");
        }
        if (out != nullptr) {
            out->append(text_.substr(pos_, length));
        }
        pos_ += length;
    }
}

C8Y_MTLS_DECL bool reader::digits() noexcept
{
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') {
        return fail("expected a digit");
    }
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        ++pos_;
    }
    return true;
}

C8Y_MTLS_DECL bool reader::number() noexcept
{
    if (at('-')) {
        ++pos_;
    }
    if (at('0')) {
        ++pos_;
        if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            return fail("leading zero in a number");
        }
    } else if (!digits()) {
        return false;
    }
    if (at('.')) {
        ++pos_;
        if (!digits()) {
            return false;
        }
    }
    if (at('e') || at('E')) {
        ++pos_;
        if (at('+') || at('-')) {
            ++pos_;
        }
        if (!digits()) {
            return false;
        }
    }
    return true;
}

C8Y_MTLS_DECL bool reader::literal(std::string_view word) noexcept
{
    if (text_.substr(pos_, word.size()) != word) {
        return fail("expected true, false or null");
    }
    pos_ += word.size();
    return true;
}

} // namespace c8y::mtls::detail::json_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::optional<json_object> parse_json_object(std::string_view text, json_error* error)
{
    json_impl::reader reader(text);
    auto result = reader.parse_object();
    if (!result && error != nullptr) {
        *error = reader.error();
    }
    return result;
}

C8Y_MTLS_DECL std::optional<std::vector<json_value>> parse_json_array(std::string_view text, json_error* error)
{
    json_impl::reader reader(text);
    auto result = reader.parse_array();
    if (!result && error != nullptr) {
        *error = reader.error();
    }
    return result;
}

C8Y_MTLS_DECL std::string json_quote(std::string_view text)
{
    std::string out = "\"";
    append_escaped(out, text, [](std::string& o, unsigned char u) {
        if (u == '"' || u == '\\') {
            o += '\\';
            o += static_cast<char>(u);
        } else {
            o += "\\u00";
            append_hex_byte(o, u, hex_lower);
        }
    });
    return out + "\"";
}

C8Y_MTLS_DECL std::optional<json_value> json_member_of(std::string_view object_text, std::string_view name)
{
    const auto object = parse_json_object(object_text);
    if (!object) {
        return std::nullopt;
    }
    const json_value* found = object->find(name);
    if (found == nullptr) {
        return std::nullopt;
    }
    return *found;
}

} // namespace c8y::mtls::detail
