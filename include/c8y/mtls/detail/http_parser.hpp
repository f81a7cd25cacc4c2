// c8y-mtls: HTTP/1.1 without I/O: the values requests and responses are made of, https URLs, a
// strict incremental response parser and the request serialiser. http.hpp builds the HTTPS
// client on them; the fuzzer and the unit tests drive the parser directly.
#pragma once

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

inline bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// tchar of RFC 9110, section 5.6.2.
inline bool is_token_char(char c) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool is_token(std::string_view text) noexcept
{
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

// field-vchar, SP and HTAB (RFC 9110, section 5.5): everything but the other control characters.
inline bool is_field_char(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return c == '\t' || (u >= 0x20 && u != 0x7F);
}

inline std::string_view trim_whitespace(std::string_view text) noexcept
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}


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
    const std::string* find(std::string_view name) const noexcept
    {
        for (const header_field& f : fields_)
            if (detail::http_impl::iequals(f.name, name))
                return &f.value;
        return nullptr;
    }
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
    static url parse(std::string_view text)
    {
        const auto fail = [&](const std::string& why) {
            return error(errc::http_invalid_url, mtls::detail::quoted(text) + ": " + why);
        };
        const std::size_t scheme_end = text.find("://");
        if (scheme_end == std::string_view::npos)
            throw fail("not an absolute URL (https://host/path)");
        const std::string_view scheme = text.substr(0, scheme_end);
        if (detail::http_impl::iequals(scheme, "http"))
            throw fail("plain http is not supported: the client speaks HTTPS only");
        if (!detail::http_impl::iequals(scheme, "https"))
            throw fail("the scheme is not https");
        std::string_view rest = text.substr(scheme_end + 3);
        rest = rest.substr(0, rest.find('#'));
        const std::size_t authority_end = rest.find_first_of("/?");
        const std::string_view authority = rest.substr(0, authority_end);
        const std::string_view path = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
        if (authority.find('@') != std::string_view::npos)
            throw fail("user information in a URL is refused (it ends up in logs): use basic_credentials");

        url out;
        std::string_view port_text;
        bool has_port = false;
        if (!authority.empty() && authority.front() == '[') {
            const std::size_t close = authority.find(']');
            if (close == std::string_view::npos)
                throw fail("the IPv6 address has no closing ']'");
            out.host = authority.substr(1, close - 1);
            const bool hex_or_colon = std::all_of(out.host.begin(), out.host.end(), [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                       c == '.';
            });
            if (out.host.empty() || !hex_or_colon)
                throw fail("the bracketed host is not an IPv6 address");
            const std::string_view after = authority.substr(close + 1);
            if (!after.empty()) {
                if (after.front() != ':')
                    throw fail("characters after the IPv6 address");
                has_port = true;
                port_text = after.substr(1);
            }
        } else {
            const std::size_t colon = authority.find(':');
            out.host = authority.substr(0, colon);
            if (colon != std::string_view::npos) {
                has_port = true;
                port_text = authority.substr(colon + 1);
            }
            if (out.host.empty())
                throw fail("the host is empty");
            if (const auto bad = detail::http_impl::first_bad_char(out.host, [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                           c == '.' || c == '_' || c == '~';
                }))
                throw fail("the host has a " + *bad + " (only letters, digits, '-', '.', '_', '~')");
        }
        if (has_port) {
            unsigned value = 0;
            const bool digits = !port_text.empty() && port_text.size() <= 5 &&
                                std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; });
            for (const char c : port_text)
                value = value * 10 + static_cast<unsigned>(c - '0');
            if (!digits || value == 0 || value > 65535)
                throw fail("the port " + mtls::detail::quoted(port_text) + " is not 1 to 65535");
            out.port = static_cast<std::uint16_t>(value);
        }
        out.target = path.empty() || path.front() == '?' ? "/" + std::string(path) : std::string(path);
        check_target(out.target, text);
        return out;
    }

    /// The URL that `reference` (a Location field, say) names relative to this one: an
    /// absolute URL, `//host/path`, `/path`, `?query` or a path relative to this one's directory
    /// (dot segments are kept as written). Throws error(errc::http_invalid_url).
    url resolve(std::string_view reference) const
    {
        const std::size_t scheme_end = reference.find("://");
        if (scheme_end != std::string_view::npos &&
            std::all_of(reference.begin(), reference.begin() + static_cast<std::ptrdiff_t>(scheme_end), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                       c == '-' || c == '.';
            }))
            return parse(reference);
        if (reference.starts_with("//"))
            return parse("https:" + std::string(reference));
        url out = *this;
        const std::string_view without_fragment = reference.substr(0, reference.find('#'));
        const std::string_view path = std::string_view(target).substr(0, target.find('?'));
        if (without_fragment.empty())
            out.target = target;
        else if (without_fragment.front() == '/')
            out.target = without_fragment;
        else if (without_fragment.front() == '?')
            out.target = std::string(path) + std::string(without_fragment);
        else
            out.target = std::string(path.substr(0, path.rfind('/') + 1)) + std::string(without_fragment);
        check_target(out.target, reference);
        return out;
    }

    /// host[:port] as the Host field wants it: IPv6 in brackets, the port left out when 443.
    std::string authority() const
    {
        std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
        if (port != 443)
            out += ":" + std::to_string(port);
        return out;
    }

    std::string str() const { return "https://" + authority() + target; }

    friend bool operator==(const url&, const url&) = default;

private:
    static void check_target(std::string_view target, std::string_view source)
    {
        if (const auto bad = detail::http_impl::first_bad_char(target, [](char c) {
                const auto u = static_cast<unsigned char>(c);
                return u > 0x20 && u < 0x7F;
            }))
            throw error(errc::http_invalid_url, mtls::detail::quoted(source) + ": the path or query has a " + *bad +
                                                    " of " + mtls::detail::quoted(target) + " (percent-encode it)");
    }
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
    explicit response_parser(http::limits limits = {}, bool head_request = false)
        : limits_(limits), head_request_(head_request)
    {
    }

    /// Consumes bytes up to the end of the response and returns how many it took: fewer than
    /// given only when the response ended before them (what follows is not part of it).
    std::size_t feed(std::string_view bytes)
    {
        throw_if_failed();
        try {
            return consume(bytes);
        } catch (const error& e) {
            failure_ = e;
            throw;
        }
    }

    /// The connection ended: completes a body delimited by the end of the connection, and
    /// throws http_truncated_response when the response is incomplete.
    void feed_end()
    {
        throw_if_failed();
        if (stage_ == stage::done)
            return;
        if (stage_ == stage::body_until_close) {
            stage_ = stage::done;
            return;
        }
        std::string where;
        switch (stage_) {
        case stage::status_line:
            where = offset_ == 0 ? "before any byte of a response" : "in the status line";
            break;
        case stage::header_line:
            where = "in the header section, after " + std::to_string(response_.fields.size()) + " fields";
            break;
        case stage::body_fixed:
            where = "after " + std::to_string(response_.body.size()) + " of " +
                    std::to_string(response_.body.size() + remaining_) + " body bytes";
            break;
        default:
            where = "in the chunked body, after " + std::to_string(response_.body.size()) + " body bytes";
            break;
        }
        failure_ = error(errc::http_truncated_response, "the connection closed " + where);
        throw *failure_;
    }

    bool done() const noexcept { return stage_ == stage::done; }
    bool failed() const noexcept { return failure_.has_value(); }
    /// Bytes of the response consumed so far.
    std::size_t consumed() const noexcept { return offset_; }

    /// The complete response; throws invalid_argument before done().
    http::response take()
    {
        if (!done())
            throw error(errc::invalid_argument, "the response is not complete yet");
        return std::move(response_);
    }

private:
    enum class stage { status_line, header_line, body_fixed, body_until_close, chunk_size, chunk_data, chunk_end, trailer_line, done };

    static constexpr std::size_t max_chunk_line = 4096;

    void throw_if_failed() const
    {
        if (failure_)
            throw *failure_;
    }

    std::size_t consume(std::string_view bytes)
    {
        const std::size_t start = offset_;
        while (offset_ - start < bytes.size() && stage_ != stage::done) {
            const std::string_view rest = bytes.substr(offset_ - start);
            switch (stage_) {
            case stage::body_fixed: {
                const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
                response_.body.append(rest.substr(0, n));
                remaining_ -= n;
                offset_ += n;
                if (remaining_ == 0)
                    stage_ = stage::done;
                break;
            }
            case stage::body_until_close:
                if (rest.size() > limits_.max_body_bytes - response_.body.size())
                    throw error(errc::http_body_too_large, "the body, delimited by the end of the connection, exceeds " +
                                                               std::to_string(limits_.max_body_bytes) + " bytes");
                response_.body.append(rest);
                offset_ += rest.size();
                break;
            case stage::chunk_data: {
                const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
                response_.body.append(rest.substr(0, n));
                remaining_ -= n;
                offset_ += n;
                if (remaining_ == 0)
                    stage_ = stage::chunk_end;
                break;
            }
            default:
                take_line(rest);
                break;
            }
        }
        return offset_ - start;
    }

    // Gathers one line; processes it once its LF arrived.
    void take_line(std::string_view rest)
    {
        const std::size_t lf = rest.find('\n');
        const std::size_t n = lf == std::string_view::npos ? rest.size() : lf + 1;
        if (n > line_budget() - line_.size())
            over_budget();
        if (line_.empty())
            line_start_ = offset_;
        line_.append(rest.substr(0, n));
        offset_ += n;
        if (stage_ == stage::chunk_end && !std::string_view("\r\n").starts_with(line_))
            throw error(errc::http_malformed_chunk, "chunk data of " + std::to_string(last_chunk_size_) +
                                                        " bytes is followed by " + mtls::detail::quoted(line_) +
                                                        " instead of CRLF (more data than the chunk size)");
        if (lf != std::string_view::npos) {
            const std::string line = std::move(line_);
            line_.clear();
            process_line(line);
        }
    }

    std::size_t line_budget() const
    {
        switch (stage_) {
        case stage::status_line:
        case stage::header_line: return limits_.max_header_bytes - header_bytes_;
        case stage::trailer_line: return limits_.max_header_bytes - trailer_bytes_;
        case stage::chunk_end: return 2;
        default: return max_chunk_line;
        }
    }

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

    void process_line(const std::string& raw)
    {
        if (stage_ == stage::status_line || stage_ == stage::header_line)
            header_bytes_ += raw.size();
        else if (stage_ == stage::trailer_line)
            trailer_bytes_ += raw.size();
        if (raw.size() < 2 || raw[raw.size() - 2] != '\r') {
            const errc code = stage_ == stage::status_line                                     ? errc::http_malformed_status_line
                              : stage_ == stage::header_line || stage_ == stage::trailer_line ? errc::http_malformed_header
                                                                                               : errc::http_malformed_chunk;
            throw error(code, "the line " + mtls::detail::quoted(raw) + " at byte " + std::to_string(line_start_) +
                                  " ends with LF without CR");
        }
        const std::string_view line = std::string_view(raw).substr(0, raw.size() - 2);
        switch (stage_) {
        case stage::status_line: status_line(line); break;
        case stage::header_line: field_line(line, response_.fields); break;
        case stage::trailer_line: field_line(line, response_.trailers); break;
        case stage::chunk_size: chunk_size_line(line); break;
        case stage::chunk_end: stage_ = stage::chunk_size; break; // take_line let only CRLF through
        default: break;
        }
    }

    void status_line(std::string_view line)
    {
        const auto fail = [&](const std::string& why) {
            return error(errc::http_malformed_status_line, mtls::detail::quoted(line) + ": " + why);
        };
        if (line.empty())
            throw fail("an empty line where the status line was due");
        if (!line.starts_with("HTTP/"))
            throw fail("does not start with HTTP/");
        if (line.size() < 8 || (line.substr(0, 8) != "HTTP/1.1" && line.substr(0, 8) != "HTTP/1.0"))
            throw fail("the version is not HTTP/1.0 or HTTP/1.1");
        if (line.size() < 9 || line[8] != ' ')
            throw fail("no space after the version");
        const std::string_view code = line.substr(9, 3);
        if (code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }))
            throw fail("the status code is not 3 digits");
        if (line.size() < 13 || line[12] != ' ')
            throw fail("no space after the status code");
        const int status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
        if (status < 100 || status > 599)
            throw fail("status code " + std::string(code) + " is outside 100 to 599");
        const std::string_view reason = line.substr(13);
        if (const auto bad = first_bad_char(reason, is_field_char))
            throw fail("the reason phrase has a " + *bad);
        response_.minor_version = line[7] - '0';
        response_.status = status;
        response_.reason = reason;
        stage_ = stage::header_line;
    }

    void field_line(std::string_view line, headers& into)
    {
        const bool trailer = stage_ == stage::trailer_line;
        if (line.empty()) {
            if (trailer)
                stage_ = stage::done;
            else
                end_of_header_section();
            return;
        }
        const std::string what = std::string(trailer ? "trailer" : "header") + " field " +
                                 std::to_string(into.size() + 1) + " " + mtls::detail::quoted(line);
        const auto fail = [&](const std::string& why) { return error(errc::http_malformed_header, what + ": " + why); };
        if (line.front() == ' ' || line.front() == '\t')
            throw fail("starts with whitespace (obsolete line folding)");
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            throw fail("has no ':'");
        const std::string_view name = line.substr(0, colon);
        if (name.empty())
            throw fail("has an empty name");
        if (name.back() == ' ' || name.back() == '\t')
            throw fail("has whitespace between the name and ':'");
        if (const auto bad = first_bad_char(name, is_token_char))
            throw fail("the name has a " + *bad);
        const std::string_view value = trim_whitespace(line.substr(colon + 1));
        if (const auto bad = first_bad_char(value, is_field_char))
            throw fail("the value has a " + *bad);
        if (into.size() >= limits_.max_header_fields)
            throw error(errc::http_header_too_large, std::string("more than ") + std::to_string(limits_.max_header_fields) +
                                                         (trailer ? " trailer" : " header") + " fields");
        into.add(std::string(name), std::string(value));
    }

    // RFC 9112, section 6.3: how the body is delimited.
    void end_of_header_section()
    {
        const int status = response_.status;
        if (status == 101)
            throw error(errc::http_malformed_status_line, "101 Switching Protocols, but no upgrade was asked for");
        if (status < 200) {
            // An interim response (100 Continue, 103 Early Hints): the final one follows.
            response_.fields.clear();
            stage_ = stage::status_line;
            return;
        }
        response_.keep_alive = connection_persists();
        if (head_request_ || status == 204 || status == 304) {
            stage_ = stage::done;
            return;
        }
        std::string transfer_encoding;
        bool has_transfer_encoding = false;
        std::vector<std::string_view> lengths;
        for (const header_field& f : response_.fields) {
            if (iequals(f.name, "Transfer-Encoding")) {
                transfer_encoding += (has_transfer_encoding ? ", " : "") + f.value;
                has_transfer_encoding = true;
            } else if (iequals(f.name, "Content-Length")) {
                lengths.push_back(f.value);
            }
        }
        if (has_transfer_encoding) {
            if (response_.minor_version == 0)
                throw error(errc::http_malformed_header, "Transfer-Encoding in an HTTP/1.0 response");
            if (!lengths.empty())
                throw error(errc::http_malformed_header,
                            "both Transfer-Encoding and Content-Length: the body's length is ambiguous");
            if (!iequals(trim_whitespace(transfer_encoding), "chunked"))
                throw error(errc::http_unsupported_transfer_encoding,
                            "Transfer-Encoding " + mtls::detail::quoted(transfer_encoding) + ": only chunked is supported");
            stage_ = stage::chunk_size;
            return;
        }
        if (!lengths.empty()) {
            remaining_ = content_length(lengths);
            if (remaining_ > limits_.max_body_bytes)
                throw error(errc::http_body_too_large, "Content-Length " + std::to_string(remaining_) +
                                                           " exceeds the limit of " +
                                                           std::to_string(limits_.max_body_bytes) + " bytes");
            stage_ = remaining_ == 0 ? stage::done : stage::body_fixed;
            return;
        }
        response_.keep_alive = false;
        stage_ = stage::body_until_close;
    }

    bool connection_persists() const
    {
        bool close = false;
        bool keep_alive = false;
        for (const header_field& f : response_.fields) {
            if (!iequals(f.name, "Connection"))
                continue;
            std::string_view list = f.value;
            while (!list.empty()) {
                const std::size_t comma = list.find(',');
                const std::string_view option = trim_whitespace(list.substr(0, comma));
                close = close || iequals(option, "close");
                keep_alive = keep_alive || iequals(option, "keep-alive");
                list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            }
        }
        return !close && (response_.minor_version == 1 || keep_alive);
    }

    // Content-Length, possibly repeated or a list of the same value (RFC 9110, section 8.6).
    static std::uint64_t content_length(const std::vector<std::string_view>& fields)
    {
        std::optional<std::uint64_t> agreed;
        for (const std::string_view field : fields) {
            std::string_view list = field;
            do {
                const std::size_t comma = list.find(',');
                const std::string_view text = trim_whitespace(list.substr(0, comma));
                list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
                if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
                    throw error(errc::http_invalid_content_length,
                                mtls::detail::quoted(field) + " is not a decimal number of bytes");
                std::uint64_t value = 0;
                for (const char c : text) {
                    // Saturated: anything this long is over every limit anyway.
                    value = value > (UINT64_MAX - 9) / 10 ? UINT64_MAX : value * 10 + static_cast<std::uint64_t>(c - '0');
                }
                if (agreed && *agreed != value)
                    throw error(errc::http_invalid_content_length,
                                "values " + std::to_string(*agreed) + " and " + std::to_string(value) + " disagree");
                agreed = value;
            } while (!list.empty());
        }
        return *agreed;
    }

    void chunk_size_line(std::string_view line)
    {
        const auto fail = [&](const std::string& why) {
            return error(errc::http_malformed_chunk, "chunk size line " + mtls::detail::quoted(line) + " at byte " +
                                                         std::to_string(line_start_) + ": " + why);
        };
        std::size_t digits = 0;
        std::uint64_t size = 0;
        const std::uint64_t room = limits_.max_body_bytes - response_.body.size();
        bool too_large = false;
        for (; digits < line.size(); ++digits) {
            const char c = line[digits];
            int value = -1;
            if (c >= '0' && c <= '9')
                value = c - '0';
            else if (c >= 'a' && c <= 'f')
                value = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                value = c - 'A' + 10;
            if (value < 0)
                break;
            if (size > room)
                too_large = true; // keep reading the digits; the size is judged once they are checked
            else
                size = size * 16 + static_cast<std::uint64_t>(value);
        }
        if (digits == 0)
            throw fail("no hexadecimal chunk size");
        const std::string_view extension = line.substr(digits);
        if (!extension.empty() && trim_whitespace(extension).front() != ';')
            throw fail("the size is followed by something other than a ';' extension");
        if (const auto bad = first_bad_char(extension, is_field_char))
            throw fail("the extension has a " + *bad);
        if (too_large || size > room)
            throw error(errc::http_body_too_large, "a chunk of " + (too_large ? std::string("more than ") : "") +
                                                       std::to_string(size) + " bytes takes the body over " +
                                                       std::to_string(limits_.max_body_bytes) + " bytes");
        last_chunk_size_ = size;
        if (size == 0) {
            stage_ = stage::trailer_line;
            return;
        }
        remaining_ = size;
        stage_ = stage::chunk_data;
    }

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
