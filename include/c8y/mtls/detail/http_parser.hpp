// c8y-mtls: HTTP/1.1 without I/O: the values requests and responses are made of, https URLs, a
// strict incremental response parser and the request serialiser. http.hpp builds the HTTPS
// client on them; the fuzzer and the unit tests drive the parser directly.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/error.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c8y::mtls::detail::http_impl {


inline char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

C8Y_MTLS_DECL bool iequals(std::string_view a, std::string_view b) noexcept;

// tchar of RFC 9110, section 5.6.2.
C8Y_MTLS_DECL bool is_token_char(char c) noexcept;

C8Y_MTLS_DECL bool is_token(std::string_view text) noexcept;

// field-vchar, SP and HTAB (RFC 9110, section 5.5): everything but the other control characters.
C8Y_MTLS_DECL bool is_field_char(char c) noexcept;

C8Y_MTLS_DECL std::string_view trim_whitespace(std::string_view text) noexcept;


// Where the first character outside `allowed` is, and what it is, for an error detail.
template <class Allowed>
std::optional<std::string> first_bad_char(std::string_view text, Allowed allowed)
{
    for (std::size_t i = 0; i < text.size(); ++i)
        if (!allowed(text[i]))
            return "character " + mtls::detail::hex_byte(static_cast<unsigned char>(text[i])) + " at position " + std::to_string(i);
    return std::nullopt;
}

} // namespace c8y::mtls::detail::http_impl

namespace c8y::mtls::http {

/// One header (or trailer) field as received or to be sent.
struct header_field {
    std::string name{};
    std::string value{};
    friend bool operator==(const header_field&, const header_field&) = default;
};

/// Header fields in the order they were received or added. Names compare case-insensitively.
class headers {
public:
    headers() = default;
    headers(std::initializer_list<header_field> fields) : fields_(fields) {}

    void add(std::string name, std::string value) { fields_.push_back({std::move(name), std::move(value)}); }

    /// The value of the first field called `name`, or nullptr.
    C8Y_MTLS_DECL const std::string* find(std::string_view name) const noexcept;
    bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

    std::vector<header_field>::const_iterator begin() const noexcept { return fields_.begin(); }
    std::vector<header_field>::const_iterator end() const noexcept { return fields_.end(); }
    std::size_t size() const noexcept { return fields_.size(); }
    bool empty() const noexcept { return fields_.empty(); }
    void clear() noexcept { fields_.clear(); }

    friend bool operator==(const headers&, const headers&) = default;

private:
    std::vector<header_field> fields_;
};

/// Bounds on what a server may send; beyond them the response is refused, never buffered.
struct limits {
    /// Status line and header fields together, and again the trailer fields of a chunked body.
    std::size_t max_header_bytes = 64 * 1024;
    /// Header fields, and again trailer fields.
    std::size_t max_header_fields = 100;
    /// The body after chunked decoding.
    std::size_t max_body_bytes = 8 * 1024 * 1024;
};

/// A complete response. 1xx interim responses are skipped; a 3xx is a response like any other
/// (the client follows no redirect by itself).
struct response {
    int status = 0;
    std::string reason{};
    int minor_version = 1; ///< HTTP/1.<minor_version>
    headers fields{};
    std::string body{};    ///< decoded from chunks when it came chunked
    headers trailers{};    ///< the trailer fields of a chunked body
    bool keep_alive = false; ///< the connection may carry another request

    bool ok() const noexcept { return status >= 200 && status < 300; }
    bool is_redirect() const noexcept { return status >= 300 && status < 400; }
    /// The Location field (a 3xx's target, possibly relative: see url::resolve), or nullptr.
    const std::string* location() const noexcept { return fields.find("Location"); }
};

/// An absolute https URL taken apart: what the client connects to and the request target.
struct url {
    std::string host{};        ///< a name, an IPv4 address or an IPv6 address without brackets
    std::uint16_t port = 443;
    std::string target = "/";  ///< path and query, percent-encoded as given

    /// Reads `https://host[:port][/path][?query][#fragment]` (the fragment is dropped). Throws
    /// error(errc::http_invalid_url) naming the fault: another scheme (plain http included),
    /// user information, an empty host, a bad port, a space, control or non-ASCII character.
    C8Y_MTLS_DECL static url parse(std::string_view text);

    /// The URL that `reference` (a Location field, say) names relative to this one: an
    /// absolute URL, `//host/path`, `/path`, `?query` or a path relative to this one's directory
    /// (dot segments are kept as written). Throws error(errc::http_invalid_url).
    C8Y_MTLS_DECL url resolve(std::string_view reference) const;

    /// host[:port] as the Host field wants it: IPv6 in brackets, the port left out when 443.
    C8Y_MTLS_DECL std::string authority() const;

    std::string str() const { return "https://" + authority() + target; }

    friend bool operator==(const url&, const url&) = default;

private:
    C8Y_MTLS_DECL static void check_target(std::string_view target, std::string_view source);
};

/// A request. The client adds Host, User-Agent (unless given), Authorization (when it
/// authenticates) and the body's framing; it refuses fields that would contradict them.
struct request {
    std::string method = "GET";
    std::string url{}; ///< absolute https URL
    headers fields{};
    std::string body{};
    /// Send the body with `Transfer-Encoding: chunked` instead of `Content-Length`.
    bool chunked = false;
};

} // namespace c8y::mtls::http

namespace c8y::mtls::detail::http_impl {

using namespace c8y::mtls::http; // works on the requests and responses http.hpp declares

/// A strict incremental HTTP/1.1 response parser (RFC 9112). Bytes go in as they arrive, in
/// pieces of any size; a complete response comes out. Every malformed response is refused with
/// a c8y::mtls::error naming what is wrong and where: errc::http_malformed_status_line,
/// http_malformed_header (obsolete line folding, whitespace before ':', control characters, a
/// bare LF), http_invalid_content_length, http_unsupported_transfer_encoding,
/// http_malformed_chunk, http_header_too_large, http_body_too_large, and, at end of stream,
/// http_truncated_response. After an error the parser stays failed and repeats it.
class response_parser {
public:
    /// `head_request`: the response answers a HEAD request, so it has no body whatever its fields say.
    C8Y_MTLS_DECL explicit response_parser(http::limits limits = {}, bool head_request = false);

    /// Consumes bytes up to the end of the response and returns how many it took: fewer than
    /// given only when the response ended before them (what follows is not part of it).
    C8Y_MTLS_DECL std::size_t feed(std::string_view bytes);

    /// The connection ended: completes a body delimited by the end of the connection, and
    /// throws http_truncated_response when the response is incomplete.
    C8Y_MTLS_DECL void feed_end();

    bool done() const noexcept { return stage_ == stage::done; }
    bool failed() const noexcept { return failure_.has_value(); }
    /// Bytes of the response consumed so far.
    std::size_t consumed() const noexcept { return offset_; }

    /// The complete response; throws invalid_argument before done().
    C8Y_MTLS_DECL http::response take();

private:
    enum class stage { status_line, header_line, body_fixed, body_until_close, chunk_size, chunk_data, chunk_end, trailer_line, done };

    static constexpr std::size_t max_chunk_line = 4096;

    C8Y_MTLS_DECL void throw_if_failed() const;

    C8Y_MTLS_DECL std::size_t consume(std::string_view bytes);

    // Gathers one line; processes it once its LF arrived.
    C8Y_MTLS_DECL void take_line(std::string_view rest);

    C8Y_MTLS_DECL std::size_t line_budget() const;

    [[noreturn]] void over_budget() const
    {
        switch (stage_) {
        case stage::status_line:
        case stage::header_line:
            throw error(errc::http_header_too_large, "the status line and header fields exceed " +
                                                         std::to_string(limits_.max_header_bytes) + " bytes");
        case stage::trailer_line:
            throw error(errc::http_header_too_large,
                        "the trailer fields exceed " + std::to_string(limits_.max_header_bytes) + " bytes");
        case stage::chunk_end:
            throw error(errc::http_malformed_chunk, "chunk data of " + std::to_string(last_chunk_size_) +
                                                        " bytes is not followed by CRLF (more data than the chunk size)");
        default:
            throw error(errc::http_malformed_chunk,
                        "a chunk size line longer than " + std::to_string(max_chunk_line) + " bytes");
        }
    }

    C8Y_MTLS_DECL void process_line(const std::string& raw);

    C8Y_MTLS_DECL void status_line(std::string_view line);

    C8Y_MTLS_DECL void field_line(std::string_view line, headers& into);

    // RFC 9112, section 6.3: how the body is delimited.
    C8Y_MTLS_DECL void end_of_header_section();

    C8Y_MTLS_DECL bool connection_persists() const;

    // Content-Length, possibly repeated or a list of the same value (RFC 9110, section 8.6).
    C8Y_MTLS_DECL static std::uint64_t content_length(const std::vector<std::string_view>& fields);

    C8Y_MTLS_DECL void chunk_size_line(std::string_view line);

    http::limits limits_;
    bool head_request_ = false;
    stage stage_ = stage::status_line;
    http::response response_;
    std::string line_;
    std::size_t line_start_ = 0; // offset of line_'s first byte
    std::size_t offset_ = 0;
    std::size_t header_bytes_ = 0;
    std::size_t trailer_bytes_ = 0;
    std::uint64_t remaining_ = 0;
    std::uint64_t last_chunk_size_ = 0;
    std::optional<error> failure_;
};

/// The client's request bytes: request line, Host, User-Agent (unless the request has one),
/// Authorization (when `authorization` is not empty), the request's fields, the framing
/// (Content-Length when there is a body or the method carries one, or chunked), the body.
/// Throws error(errc::http_invalid_request) for a method that is not a token, a field name
/// that is not a token, a value with CR, LF or another control character, or a field the
/// client sets itself (Host, Content-Length, Transfer-Encoding, Connection, and Authorization
/// when it authenticates). The size is computed first so that the bytes, which may carry
/// credentials, are never reallocated into copies that escape wiping.
inline std::string serialize_request(const request& req, const url& where, std::string_view authorization,
                                     std::string_view user_agent)
{
    if (!is_token(req.method))
        throw error(errc::http_invalid_request, "the method " + mtls::detail::quoted(req.method) + " is not a token");
    bool has_user_agent = false;
    for (const header_field& f : req.fields) {
        const std::string what = "the field " + mtls::detail::quoted(f.name);
        if (f.name.empty())
            throw error(errc::http_invalid_request, "a field has an empty name");
        if (const auto bad = first_bad_char(f.name, is_token_char))
            throw error(errc::http_invalid_request, what + ": the name has a " + *bad);
        if (const auto bad = first_bad_char(f.value, is_field_char))
            throw error(errc::http_invalid_request, what + ": the value has a " + *bad + " (no CR, LF or control characters)");
        for (const std::string_view managed : {"Host", "Content-Length", "Transfer-Encoding", "Connection"})
            if (iequals(f.name, managed))
                throw error(errc::http_invalid_request, what + ": the client sets it itself");
        if (!authorization.empty() && iequals(f.name, "Authorization"))
            throw error(errc::http_invalid_request, what + ": the client authenticates this request itself");
        has_user_agent = has_user_agent || iequals(f.name, "User-Agent");
    }
    const bool method_has_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    std::string chunk_size;
    if (req.chunked && !req.body.empty()) {
        static constexpr char digits[] = "0123456789abcdef";
        for (std::size_t n = req.body.size(); n != 0; n >>= 4)
            chunk_size.insert(chunk_size.begin(), digits[n & 0xF]);
    }
    const std::string length = std::to_string(req.body.size());

    // Written twice: once to count, once to fill exactly reserved memory.
    const std::string host = where.authority();
    const auto write = [&](auto&& put) {
        const auto field = [&](std::string_view name, std::string_view value) {
            put(name);
            put(": ");
            put(value);
            put("\r\n");
        };
        put(req.method);
        put(" ");
        put(where.target);
        put(" HTTP/1.1\r\n");
        field("Host", host);
        if (!user_agent.empty() && !has_user_agent)
            field("User-Agent", user_agent);
        if (!authorization.empty())
            field("Authorization", authorization);
        for (const header_field& f : req.fields)
            field(f.name, f.value);
        if (req.chunked) {
            put("Transfer-Encoding: chunked\r\n\r\n");
            if (!req.body.empty()) {
                put(chunk_size);
                put("\r\n");
                put(req.body);
                put("\r\n");
            }
            put("0\r\n\r\n");
        } else {
            if (!req.body.empty() || method_has_body)
                field("Content-Length", length);
            put("\r\n");
            put(req.body);
        }
    };
    std::size_t size = 0;
    write([&](std::string_view s) { size += s.size(); });
    std::string out;
    out.reserve(size);
    write([&](std::string_view s) { out.append(s); });
    return out;
}

} // namespace c8y::mtls::detail::http_impl

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/http_parser.ipp"
#endif
