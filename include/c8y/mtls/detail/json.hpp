// c8y-mtls: a small strict JSON reader (RFC 8259) that validates a whole object and hands out its top-level members.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/detail/text.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c8y::mtls::detail {

enum class json_kind { null, boolean, number, string, array, object };

/// A top-level member's value. Nested arrays and objects are validated but kept as text only:
/// the SDK reads a few top-level fields and passes the rest on untouched.
struct json_value {
    json_kind kind = json_kind::null;
    std::string raw;  // the value exactly as written in the document
    std::string text; // for strings, the unescaped UTF-8 content; empty for other kinds
};

struct json_member {
    std::string name; // unescaped
    json_value value;
};

/// Why a document was refused, and the byte offset (from 0) where the reader stopped.
struct json_error {
    std::size_t offset = 0;
    const char* reason = "";
};

/// A parsed object's top-level members, in document order.
struct json_object {
    std::vector<json_member> members;

    C8Y_MTLS_DECL const json_value* find(std::string_view name) const noexcept;
};

/// Arrays and objects may nest this deep, the outermost object counting as 1; deeper
/// documents are refused so that the recursive reader's stack use stays bounded.
inline constexpr std::size_t json_max_depth = 64;

namespace json_impl {

class reader {
public:
    explicit reader(std::string_view text) noexcept : text_(text) {}

    C8Y_MTLS_DECL std::optional<json_object> parse_object();

    C8Y_MTLS_DECL std::optional<std::vector<json_value>> parse_array();

    json_error error() const noexcept { return error_; }

private:
    // Exactly one object or array (`open` '{' or '['), surrounding whitespace allowed, whose
    // top-level members or elements `read` collects.
    template <class Collected>
    std::optional<Collected> parse_document(char open, const char* not_opened, const char* trailing,
                                            bool (reader::*read)(std::size_t, Collected*))
    {
        Collected result;
        skip_whitespace();
        if (!at(open)) {
            fail(not_opened);
            return std::nullopt;
        }
        if (!(this->*read)(1, &result)) {
            return std::nullopt;
        }
        skip_whitespace();
        if (pos_ != text_.size()) {
            fail(trailing);
            return std::nullopt;
        }
        return result;
    }

    C8Y_MTLS_DECL bool fail(const char* reason) noexcept;

    bool at(char c) const noexcept { return pos_ < text_.size() && text_[pos_] == c; }

    C8Y_MTLS_DECL void skip_whitespace() noexcept;

    // Reads any value; `kind` and `unescaped` are filled for top-level members only.
    C8Y_MTLS_DECL bool value(std::size_t depth, json_kind* kind, std::string* unescaped);

    // `top` collects the members when this is the outermost object.
    C8Y_MTLS_DECL bool object(std::size_t depth, json_object* top);

    // `top` collects the elements when this is the outermost array.
    C8Y_MTLS_DECL bool array(std::size_t depth, std::vector<json_value>* top);

    // Reads the 4 hex digits of a \u escape whose 'u' is at pos_; leaves pos_ after them.
    C8Y_MTLS_DECL bool hex4(std::uint32_t& cp) noexcept;

    // Reads one escape whose backslash is at pos_.
    C8Y_MTLS_DECL bool escape(std::string* out);

    C8Y_MTLS_DECL bool string(std::string* out);

    C8Y_MTLS_DECL bool digits() noexcept;

    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    C8Y_MTLS_DECL bool number() noexcept;

    C8Y_MTLS_DECL bool literal(std::string_view word) noexcept;

    std::string_view text_;
    std::size_t pos_ = 0;
    json_error error_;
};

} // namespace json_impl

/// Parses `text` as exactly one JSON object (RFC 8259), surrounding whitespace allowed:
/// every nested value is validated, strings must be well-formed UTF-8 without raw control
/// characters and without lone surrogates in \\u escapes, and top-level member names must be
/// unique. Returns nullopt, and fills `error` when given, on the first fault.
C8Y_MTLS_DECL std::optional<json_object> parse_json_object(std::string_view text, json_error* error = nullptr);

/// Parses `text` as exactly one JSON array, as strictly as parse_json_object, and hands out
/// its elements (nested ones validated and kept as text, as an object's members are).
C8Y_MTLS_DECL std::optional<std::vector<json_value>> parse_json_array(std::string_view text, json_error* error = nullptr);

/// `text` as a JSON string, quotes included. Bytes that are not UTF-8 are taken as Latin-1
/// code points, so any input gives valid JSON.
C8Y_MTLS_DECL std::string json_quote(std::string_view text);

/// The top-level member `name` of the object `object_text`; nullopt when the text is not a
/// valid JSON object or has no such member.
C8Y_MTLS_DECL std::optional<json_value> json_member_of(std::string_view object_text, std::string_view name);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/json.ipp"
#endif
