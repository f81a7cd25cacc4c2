// c8y-mtls: the definitions http_parser.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/http_parser.hpp"

namespace c8y::mtls::detail::http_impl {

C8Y_MTLS_DECL bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

C8Y_MTLS_DECL bool is_token_char(char c) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

C8Y_MTLS_DECL bool is_token(std::string_view text) noexcept
{
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

C8Y_MTLS_DECL bool is_field_char(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return c == '\t' || (u >= 0x20 && u != 0x7F);
}

C8Y_MTLS_DECL std::string_view trim_whitespace(std::string_view text) noexcept
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

} // namespace c8y::mtls::detail::http_impl

namespace c8y::mtls::http {

C8Y_MTLS_DECL auto headers::find(std::string_view name) const noexcept -> const std::string*
{
    for (const header_field& f : fields_)
        if (detail::http_impl::iequals(f.name, name))
            return &f.value;
    return nullptr;
}

C8Y_MTLS_DECL auto url::parse(std::string_view text) -> url
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

C8Y_MTLS_DECL auto url::resolve(std::string_view reference) const -> url
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

C8Y_MTLS_DECL std::string url::authority() const
{
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != 443)
        out += ":" + std::to_string(port);
    return out;
}

C8Y_MTLS_DECL void url::check_target(std::string_view target, std::string_view source)
{
    if (const auto bad = detail::http_impl::first_bad_char(target, [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u > 0x20 && u < 0x7F;
        }))
        throw error(errc::http_invalid_url, mtls::detail::quoted(source) + ": the path or query has a " + *bad +
                                                " of " + mtls::detail::quoted(target) + " (percent-encode it)");
}

} // namespace c8y::mtls::http

namespace c8y::mtls::detail::http_impl {

C8Y_MTLS_DECL response_parser::response_parser(http::limits limits, bool head_request)
    : limits_(limits), head_request_(head_request)
{
}

C8Y_MTLS_DECL std::size_t response_parser::feed(std::string_view bytes)
{
    throw_if_failed();
    try {
        return consume(bytes);
    } catch (const error& e) {
        failure_ = e;
        throw;
    }
}

C8Y_MTLS_DECL void response_parser::feed_end()
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

C8Y_MTLS_DECL auto response_parser::take() -> http::response
{
    if (!done())
        throw error(errc::invalid_argument, "the response is not complete yet");
    return std::move(response_);
}

C8Y_MTLS_DECL void response_parser::throw_if_failed() const
{
    if (failure_)
        throw *failure_;
}

C8Y_MTLS_DECL std::size_t response_parser::consume(std::string_view bytes)
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

C8Y_MTLS_DECL void response_parser::take_line(std::string_view rest)
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

C8Y_MTLS_DECL std::size_t response_parser::line_budget() const
{
    switch (stage_) {
    case stage::status_line:
    case stage::header_line: return limits_.max_header_bytes - header_bytes_;
    case stage::trailer_line: return limits_.max_header_bytes - trailer_bytes_;
    case stage::chunk_end: return 2;
    default: return max_chunk_line;
    }
}

C8Y_MTLS_DECL void response_parser::process_line(const std::string& raw)
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

C8Y_MTLS_DECL void response_parser::status_line(std::string_view line)
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

C8Y_MTLS_DECL void response_parser::field_line(std::string_view line, headers& into)
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

C8Y_MTLS_DECL void response_parser::end_of_header_section()
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

C8Y_MTLS_DECL bool response_parser::connection_persists() const
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

C8Y_MTLS_DECL std::uint64_t response_parser::content_length(const std::vector<std::string_view>& fields)
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

C8Y_MTLS_DECL void response_parser::chunk_size_line(std::string_view line)
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
        const int value = hex_value(line[digits]);
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

} // namespace c8y::mtls::detail::http_impl
