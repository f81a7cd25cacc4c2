// c8y-mtls: the definitions x509_der.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/x509_der.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL bool same_bytes(byte_view a, byte_view b) noexcept
{
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

} // namespace c8y::mtls::detail

namespace c8y::mtls::detail::der {

C8Y_MTLS_DECL auto reader::next(element& out) noexcept -> const char*
{
    if (rest_.size() < 2)
        return rest_.empty() ? "element missing (input ends)" : "element truncated";
    const unsigned char tag = rest_[0];
    if ((tag & 0x1F) == 0x1F)
        return "multi-byte tag (not used by X.509)";
    std::size_t length = rest_[1];
    std::size_t header = 2;
    if (length & 0x80) {
        const std::size_t count = length & 0x7F;
        if (count == 0)
            return "indefinite length (BER, not DER)";
        if (count > 4)
            return "length field too long";
        if (rest_.size() < 2 + count)
            return "length truncated";
        if (rest_[2] == 0)
            return "length not minimally encoded";
        length = 0;
        for (std::size_t i = 0; i < count; ++i)
            length = (length << 8) | rest_[2 + i];
        if (length < 0x80)
            return "length not minimally encoded";
        header += count;
    }
    if (length > rest_.size() - header)
        return "length past the end of the data";
    out.tag = tag;
    out.value = rest_.subspan(header, length);
    out.whole = rest_.first(header + length);
    rest_ = rest_.subspan(header + length);
    return nullptr;
}

C8Y_MTLS_DECL auto reader::next(unsigned char tag, element& out) noexcept -> const char*
{
    if (!rest_.empty() && rest_[0] != tag)
        return "unexpected element";
    return next(out);
}

C8Y_MTLS_DECL std::vector<unsigned char> header(unsigned char tag, std::size_t length)
{
    std::vector<unsigned char> out{tag};
    if (length < 0x80) {
        out.push_back(static_cast<unsigned char>(length));
        return out;
    }
    std::vector<unsigned char> bytes;
    for (std::size_t n = length; n != 0; n >>= 8)
        bytes.insert(bytes.begin(), static_cast<unsigned char>(n & 0xFF));
    out.push_back(static_cast<unsigned char>(0x80 | bytes.size()));
    out.insert(out.end(), bytes.begin(), bytes.end());
    return out;
}

C8Y_MTLS_DECL void append(std::vector<unsigned char>& out, unsigned char tag, byte_view content)
{
    const auto h = header(tag, content.size());
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), content.begin(), content.end());
}

C8Y_MTLS_DECL std::string oid_text(byte_view oid)
{
    if (oid.empty())
        return "(empty OID)";
    std::string text;
    std::uint64_t arc = 0;
    bool first = true;
    for (std::size_t i = 0; i < oid.size(); ++i) {
        if (arc > (UINT64_MAX >> 7))
            return text + (text.empty() ? "" : ".") + "(arc too large)";
        arc = (arc << 7) | (oid[i] & 0x7F);
        if (oid[i] & 0x80) {
            if (i + 1 == oid.size())
                return text + (text.empty() ? "" : ".") + "(truncated arc)";
            continue;
        }
        if (first) {
            const std::uint64_t top = arc < 80 ? arc / 40 : 2;
            text = std::to_string(top) + "." + std::to_string(arc - top * 40);
            first = false;
        } else {
            text += "." + std::to_string(arc);
        }
        arc = 0;
    }
    return text;
}

C8Y_MTLS_DECL std::optional<std::chrono::sys_seconds> time_value(const element& e) noexcept
{
    const std::size_t year_digits = e.tag == utc_time ? 2 : e.tag == generalized_time ? 4 : 0;
    if (year_digits == 0 || e.value.size() != year_digits + 11 || e.value.back() != 'Z')
        return std::nullopt;
    unsigned fields[7] = {};
    std::size_t at = 0;
    const auto digits = [&](std::size_t n, unsigned& out) {
        out = 0;
        for (std::size_t i = 0; i < n; ++i, ++at) {
            const unsigned char c = e.value[at];
            if (c < '0' || c > '9')
                return false;
            out = out * 10 + (c - '0');
        }
        return true;
    };
    if (!digits(year_digits, fields[0]))
        return std::nullopt;
    for (int i = 1; i < 6; ++i)
        if (!digits(2, fields[i]))
            return std::nullopt;
    std::int64_t year = fields[0];
    if (year_digits == 2)
        year += year >= 50 ? 1900 : 2000;
    return civil_time(year, fields[1], fields[2], fields[3], fields[4], fields[5]);
}

} // namespace c8y::mtls::detail::der

namespace c8y::mtls::detail::name_impl {

C8Y_MTLS_DECL std::string attribute_text(byte_view oid)
{
    for (const auto& a : attribute_names)
        if (same_bytes(oid, byte_view(a.oid, a.size)))
            return a.text;
    return der::oid_text(oid);
}

C8Y_MTLS_DECL std::optional<std::string> string_value(const der::element& e)
{
    const auto* data = reinterpret_cast<const char*>(e.value.data());
    switch (e.tag) {
    case der::utf8_string:
    case der::printable_string:
    case der::t61_string:
    case der::ia5_string:
        return std::string(data, e.value.size());
    case der::bmp_string: {
        if (e.value.size() % 2 != 0)
            return std::nullopt;
        std::string out;
        for (std::size_t i = 0; i < e.value.size(); i += 2)
            append_utf8(out, (std::uint32_t{e.value[i]} << 8) | e.value[i + 1]);
        return out;
    }
    case der::universal_string: {
        if (e.value.size() % 4 != 0)
            return std::nullopt;
        std::string out;
        for (std::size_t i = 0; i < e.value.size(); i += 4) {
            const std::uint32_t cp = (std::uint32_t{e.value[i]} << 24) | (std::uint32_t{e.value[i + 1]} << 16) |
                                     (std::uint32_t{e.value[i + 2]} << 8) | e.value[i + 3];
            if (cp > 0x10FFFF)
                return std::nullopt;
            append_utf8(out, cp);
        }
        return out;
    }
    default:
        return std::nullopt;
    }
}

C8Y_MTLS_DECL void append_printable(std::string& out, std::string_view text)
{
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            out += "\\x";
            append_hex_byte(out, u, hex_upper);
        } else {
            out += c;
        }
    }
}

} // namespace c8y::mtls::detail::name_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string name_text(byte_view name_value)
{
    if (name_value.empty())
        return "(empty name)";
    std::string out;
    const bool well_formed = name_impl::for_each_attribute(name_value, [&](byte_view oid, const der::element& v) {
        out += '/';
        out += name_impl::attribute_text(oid);
        out += '=';
        const auto text = name_impl::string_value(v);
        name_impl::append_printable(out, text ? *text : std::string("#(not a string)"));
    });
    return well_formed ? out : "(malformed name)";
}

C8Y_MTLS_DECL std::optional<std::string> common_name(byte_view name_value)
{
    std::optional<std::string> cn;
    name_impl::for_each_attribute(name_value, [&](byte_view oid, const der::element& v) {
        if (!cn && same_bytes(oid, x509_oid::common_name))
            cn = name_impl::string_value(v).value_or(std::string());
    });
    return cn;
}

} // namespace c8y::mtls::detail

namespace c8y::mtls::detail::name_impl {

C8Y_MTLS_DECL int folded_reader::next() noexcept
{
    while (at_ < text_.size()) {
        const char c = text_[at_];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            ++at_;
            space_ = started_;
            continue;
        }
        if (space_) {
            space_ = false;
            return ' ';
        }
        ++at_;
        started_ = true;
        return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : static_cast<unsigned char>(c);
    }
    return -1;
}

C8Y_MTLS_DECL bool folded_equal(std::string_view a, std::string_view b) noexcept
{
    folded_reader ra(a), rb(b);
    for (;;) {
        const int x = ra.next();
        if (x != rb.next())
            return false;
        if (x < 0)
            return true;
    }
}

C8Y_MTLS_DECL bool byte_string_type(unsigned char tag) noexcept
{
    return tag == der::utf8_string || tag == der::printable_string || tag == der::t61_string || tag == der::ia5_string;
}

C8Y_MTLS_DECL bool same_value(const der::element& a, const der::element& b)
{
    const auto text = [](const der::element& e) {
        return std::string_view(reinterpret_cast<const char*>(e.value.data()), e.value.size());
    };
    if (byte_string_type(a.tag) && byte_string_type(b.tag))
        return folded_equal(text(a), text(b));
    if (a.tag == b.tag && same_bytes(a.value, b.value))
        return true;
    const auto sa = string_value(a);
    const auto sb = string_value(b);
    return sa && sb && folded_equal(*sa, *sb);
}

} // namespace c8y::mtls::detail::name_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL bool same_name(byte_view a, byte_view b)
{
    if (same_bytes(a, b))
        return true;
    // Walks both names side by side, RDN by RDN and attribute by attribute.
    der::reader rdns_a(a), rdns_b(b);
    while (!rdns_a.empty() || !rdns_b.empty()) {
        der::element rdn_a, rdn_b;
        if (rdns_a.next(der::set, rdn_a) || rdns_b.next(der::set, rdn_b))
            return false;
        der::reader atvs_a(rdn_a.value), atvs_b(rdn_b.value);
        while (!atvs_a.empty() || !atvs_b.empty()) {
            der::element atv_a, atv_b, oid_a, oid_b, value_a, value_b;
            if (atvs_a.next(der::sequence, atv_a) || atvs_b.next(der::sequence, atv_b))
                return false;
            der::reader fa(atv_a.value), fb(atv_b.value);
            if (fa.next(der::object_identifier, oid_a) || fa.next(value_a) || fb.next(der::object_identifier, oid_b) ||
                fb.next(value_b) || !same_bytes(oid_a.value, oid_b.value) || !name_impl::same_value(value_a, value_b))
                return false;
        }
    }
    return true;
}

} // namespace c8y::mtls::detail
