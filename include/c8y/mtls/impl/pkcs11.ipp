// c8y-mtls: the definitions pkcs11.hpp declares: included by it when header-only, compiled once
// by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/pkcs11.hpp"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls {

namespace detail {

[[noreturn]] inline void pkcs11_uri_error(std::string_view text, const std::string& why)
{
    throw error(errc::pkcs11_uri_malformed, detail::quoted(text, 200) + ": " + why);
}

// One attribute's value, percent-decoded (RFC 3986 2.1, as RFC 7512 uses it).
inline std::string pkcs11_decoded(std::string_view uri, std::string_view name, std::string_view value)
{
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
            pkcs11_uri_error(uri, "the value of '" + std::string(name) + "' holds a space or a control character: "
                                                                         "percent-encode it (%20)");
        if (c != '%') {
            out += c;
            continue;
        }
        const int h = i + 2 < value.size() ? hex_value(value[i + 1]) : -1;
        const int l = i + 2 < value.size() ? hex_value(value[i + 2]) : -1;
        if (h < 0 || l < 0)
            pkcs11_uri_error(uri, "'%' in '" + std::string(name) + "' is not followed by two hex digits");
        out += static_cast<char>(h * 16 + l);
        i += 2;
    }
    return out;
}

// Characters RFC 7512 lets stand for themselves in a value (pk11-pchar, pk11-qchar).
inline bool pkcs11_unreserved(char c, bool query) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '-': case '.': case '_': case '~': case ':': case '[': case ']': case '@': case '!': case '$':
    case '\'': case '(': case ')': case '*': case '+': case ',': case '=':
        return true;
    case '&': return !query;
    case '/': case '?': case '|': return query;
    default: return false;
    }
}

inline void pkcs11_append_encoded(std::string& out, std::string_view value, bool query, bool every_byte)
{
    for (const char c : value) {
        if (!every_byte && pkcs11_unreserved(c, query)) {
            out += c;
            continue;
        }
        out += '%';
        append_hex_byte(out, static_cast<unsigned char>(c), hex_upper);
    }
}

// The text attributes of the path, in the order text() writes them (RFC 7512's).
inline constexpr std::pair<std::string_view, std::string pkcs11_uri::*> pkcs11_path_texts[] = {
    {"token", &pkcs11_uri::token},
    {"manufacturer", &pkcs11_uri::manufacturer},
    {"model", &pkcs11_uri::model},
    {"serial", &pkcs11_uri::serial},
    {"slot-description", &pkcs11_uri::slot_description},
    {"slot-manufacturer", &pkcs11_uri::slot_manufacturer},
    {"library-manufacturer", &pkcs11_uri::library_manufacturer},
    {"library-description", &pkcs11_uri::library_description},
    {"object", &pkcs11_uri::object},
};

} // namespace detail

C8Y_MTLS_DECL pkcs11_uri pkcs11_uri::parse(std::string_view text)
{
    constexpr std::string_view scheme = "pkcs11:";
    std::string prefix(text.substr(0, scheme.size()));
    for (char& c : prefix)
        c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; // the scheme ignores case
    if (prefix != scheme)
        detail::pkcs11_uri_error(text, "a PKCS#11 URI begins with \"pkcs11:\"");
    const std::string_view rest = text.substr(scheme.size());
    const std::size_t question = rest.find('?');
    const std::string_view path = rest.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? std::string_view{} : rest.substr(question + 1);

    pkcs11_uri uri;
    std::vector<std::string> seen;
    const auto each = [&](std::string_view list, char separator, bool in_query) {
        while (!list.empty()) {
            const std::size_t end = list.find(separator);
            const std::string_view item = list.substr(0, end);
            list = end == std::string_view::npos ? std::string_view{} : list.substr(end + 1);
            if (item.empty())
                continue;
            const std::size_t equals = item.find('=');
            if (equals == std::string_view::npos || equals == 0)
                detail::pkcs11_uri_error(text, "'" + std::string(item) + "' is not an attribute=value pair");
            const std::string name(item.substr(0, equals));
            const std::string value = detail::pkcs11_decoded(text, name, item.substr(equals + 1));
            if (std::find(seen.begin(), seen.end(), name) != seen.end())
                detail::pkcs11_uri_error(text, "'" + name + "' is given twice");
            seen.push_back(name);
            if (in_query) {
                if (name == "module-path")
                    uri.module_path = value;
                else if (name == "module-name")
                    uri.module_name = value;
                else if (name == "pin-value" || name == "pin-source")
                    detail::pkcs11_uri_error(text, "'" + name + "': give the PIN apart from the URI (--pin-env)");
                else
                    detail::pkcs11_uri_error(text, "'" + name + "' is not a query attribute of RFC 7512");
                continue;
            }
            const auto text_attribute =
                std::find_if(std::begin(detail::pkcs11_path_texts), std::end(detail::pkcs11_path_texts),
                             [&](const auto& attribute) { return attribute.first == name; });
            if (text_attribute != std::end(detail::pkcs11_path_texts))
                uri.*text_attribute->second = value;
            else if (name == "id")
                uri.id.assign(value.begin(), value.end());
            else if (name == "slot-id") {
                char* end_of_number = nullptr;
                const unsigned long n = std::strtoul(value.c_str(), &end_of_number, 10);
                if (value.empty() || *end_of_number != '\0' || value.front() == '-')
                    detail::pkcs11_uri_error(text, "'slot-id' is not a decimal number");
                uri.slot_id = n;
            } else if (name == "type") {
                if (value != "private" && value != "public" && value != "cert" && value != "secret-key" &&
                    value != "data")
                    detail::pkcs11_uri_error(text, "'type=" + value +
                                                       "' is none of private, public, cert, secret-key, data");
                uri.type = value;
            } else if (name == "library-version")
                continue; // which version of the module: nothing the SDK can choose among
            else
                detail::pkcs11_uri_error(text, "'" + name + "' is not a path attribute of RFC 7512");
        }
    };
    each(path, ';', false);
    each(query, '&', true);
    return uri;
}

C8Y_MTLS_DECL pkcs11_key pkcs11_key::named(const std::filesystem::path& module, std::string_view key_uri,
                                           secret_string pin)
{
    pkcs11_key key;
    key.uri = pkcs11_uri::parse(key_uri);
    key.module = module.empty() ? std::filesystem::path(key.uri.module_path) : module;
    if (key.module.empty())
        throw error(errc::pkcs11_module_unloadable,
                    "no PKCS#11 module given for " + key.uri.text() +
                        ": give the module's path (--pkcs11-module, or module-path in the URI's query)");
    key.pin = std::move(pin);
    return key;
}

C8Y_MTLS_DECL std::string pkcs11_uri::text() const
{
    std::string out = "pkcs11:";
    bool first = true;
    const auto add = [&](std::string_view name, std::string_view value, bool every_byte = false) {
        if (value.empty())
            return;
        if (!first)
            out += ';';
        first = false;
        out += name;
        out += '=';
        detail::pkcs11_append_encoded(out, value, false, every_byte);
    };
    for (const auto& [name, member] : detail::pkcs11_path_texts)
        add(name, this->*member);
    if (slot_id)
        add("slot-id", std::to_string(*slot_id));
    add("id", {reinterpret_cast<const char*>(id.data()), id.size()}, true);
    add("type", type);
    char separator = '?';
    for (const auto& [name, value] : {std::pair<std::string_view, std::string_view>{"module-name", module_name},
                                      std::pair<std::string_view, std::string_view>{"module-path", module_path}}) {
        if (value.empty())
            continue;
        out += separator;
        separator = '&';
        out += name;
        out += '=';
        detail::pkcs11_append_encoded(out, value, true, false);
    }
    return out;
}

} // namespace c8y::mtls
