// c8y-mtls: a strict reader of DER (X.690) for X.509 certificates: elements, object identifiers,
// times and distinguished names. No I/O, no allocation except for text made for people.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/detail/text.hpp"

namespace c8y::mtls::detail {

using byte_view = std::span<const unsigned char>;

inline bool same_bytes(byte_view a, byte_view b) noexcept
{
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

namespace der {

// Universal and context tags X.509 uses (class and constructed bits included).
inline constexpr unsigned char boolean = 0x01;
inline constexpr unsigned char integer = 0x02;
inline constexpr unsigned char bit_string = 0x03;
inline constexpr unsigned char octet_string = 0x04;
inline constexpr unsigned char null = 0x05;
inline constexpr unsigned char object_identifier = 0x06;
inline constexpr unsigned char utf8_string = 0x0C;
inline constexpr unsigned char printable_string = 0x13;
inline constexpr unsigned char t61_string = 0x14;
inline constexpr unsigned char ia5_string = 0x16;
inline constexpr unsigned char utc_time = 0x17;
inline constexpr unsigned char generalized_time = 0x18;
inline constexpr unsigned char universal_string = 0x1C;
inline constexpr unsigned char bmp_string = 0x1E;
inline constexpr unsigned char sequence = 0x30;
inline constexpr unsigned char set = 0x31;
inline constexpr unsigned char context_0 = 0xA0; // [0] constructed
inline constexpr unsigned char context_1 = 0xA1;
inline constexpr unsigned char context_2 = 0xA2;
inline constexpr unsigned char context_3 = 0xA3;
inline constexpr unsigned char implicit_0 = 0x80; // [0] primitive

/// One element: its tag, its content, and the whole encoding (tag and length included).
struct element {
    unsigned char tag = 0;
    byte_view value;
    byte_view whole;
};

/// Reads consecutive elements of a DER encoding. Refuses what DER forbids: indefinite and
/// non-minimal lengths, multi-byte tags, lengths past the end of the input.
class reader {
public:
    explicit reader(byte_view data) noexcept : rest_(data) {}

    bool empty() const noexcept { return rest_.empty(); }
    bool next_is(unsigned char tag) const noexcept { return !rest_.empty() && rest_[0] == tag; }

    /// The next element; nullptr on success, otherwise why the bytes are not DER.
    const char* next(element& out) noexcept
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

    /// The next element, which must have tag `tag`.
    const char* next(unsigned char tag, element& out) noexcept
    {
        if (!rest_.empty() && rest_[0] != tag)
            return "unexpected element";
        return next(out);
    }

private:
    byte_view rest_;
};

/// The header (tag and length) of an element of `length` content bytes.
inline std::vector<unsigned char> header(unsigned char tag, std::size_t length)
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

/// Appends one element, header and content.
inline void append(std::vector<unsigned char>& out, unsigned char tag, byte_view content)
{
    const auto h = header(tag, content.size());
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), content.begin(), content.end());
}

/// Dotted text of an OID's content octets ("1.2.840.113549.1.1.11").
inline std::string oid_text(byte_view oid)
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

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept
{
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr bool leap_year(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept
{
    constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/// A point in time from its fields, when they name one (seconds up to 60 for a leap second are
/// not allowed: X.509 times never carry them).
inline std::optional<std::chrono::sys_seconds> civil_time(std::int64_t year, unsigned month, unsigned day, unsigned hour,
                                                          unsigned minute, unsigned second) noexcept
{
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 59)
        return std::nullopt;
    const std::int64_t days = days_from_civil(year, month, day);
    return std::chrono::sys_seconds(std::chrono::seconds(days * 86400 + hour * 3600 + minute * 60 + second));
}

/// UTCTime (YYMMDDHHMMSSZ, years 1950..2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280
/// 4.1.2.5 requires them: UTC, with seconds, without fractions.
inline std::optional<std::chrono::sys_seconds> time_value(const element& e) noexcept
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

} // namespace der

// ---- Distinguished names ---------------------------------------------------------------------

namespace x509_oid {
// Content octets of the object identifiers the validator reads.
inline constexpr unsigned char common_name[] = {0x55, 0x04, 0x03};
} // namespace x509_oid

namespace name_impl {

struct attribute_name {
    unsigned char oid[10];
    std::size_t size;
    const char* text;
};

// Short names as OpenSSL and wolfSSL print them in one-line form.
inline constexpr attribute_name attribute_names[] = {
    {{0x55, 0x04, 0x03}, 3, "CN"},
    {{0x55, 0x04, 0x06}, 3, "C"},
    {{0x55, 0x04, 0x07}, 3, "L"},
    {{0x55, 0x04, 0x08}, 3, "ST"},
    {{0x55, 0x04, 0x0A}, 3, "O"},
    {{0x55, 0x04, 0x0B}, 3, "OU"},
    {{0x55, 0x04, 0x05}, 3, "serialNumber"},
    {{0x55, 0x04, 0x04}, 3, "SN"},
    {{0x55, 0x04, 0x2A}, 3, "GN"},
    {{0x55, 0x04, 0x0C}, 3, "title"},
    {{0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01}, 9, "emailAddress"},
    {{0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19}, 10, "DC"},
    {{0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01}, 10, "UID"},
};

inline std::string attribute_text(byte_view oid)
{
    for (const auto& a : attribute_names)
        if (same_bytes(oid, byte_view(a.oid, a.size)))
            return a.text;
    return der::oid_text(oid);
}

/// A directory string's value as UTF-8 (BMPString and UniversalString converted; other types
/// taken byte for byte). nullopt for types that are not strings.
inline std::optional<std::string> string_value(const der::element& e)
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

// Bytes that would garble a line of text are shown as \xNN.
inline void append_printable(std::string& out, std::string_view text)
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

/// Calls f(oid, value element) for every attribute of a Name, in order; false when the Name is
/// not a SEQUENCE OF SET OF AttributeTypeAndValue.
template <class F>
bool for_each_attribute(byte_view name_value, F&& f)
{
    der::reader rdns(name_value);
    while (!rdns.empty()) {
        der::element rdn;
        if (rdns.next(der::set, rdn))
            return false;
        der::reader attributes(rdn.value);
        if (attributes.empty())
            return false;
        while (!attributes.empty()) {
            der::element atv, oid, value;
            if (attributes.next(der::sequence, atv))
                return false;
            der::reader fields(atv.value);
            if (fields.next(der::object_identifier, oid) || fields.next(value) || !fields.empty())
                return false;
            f(oid.value, value);
        }
    }
    return true;
}

} // namespace name_impl

/// A Name (the content of its SEQUENCE) in one-line form, "/C=DE/O=Acme/CN=device-0001", as the
/// SDK's other messages print names.
inline std::string name_text(byte_view name_value)
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

/// The first common name of a Name, or nullopt when it has none.
inline std::optional<std::string> common_name(byte_view name_value)
{
    std::optional<std::string> cn;
    name_impl::for_each_attribute(name_value, [&](byte_view oid, const der::element& v) {
        if (!cn && same_bytes(oid, x509_oid::common_name))
            cn = name_impl::string_value(v).value_or(std::string());
    });
    return cn;
}

namespace name_impl {

// The characters of a string value as RFC 5280 7.1 compares them, one at a time, without
// allocating: ASCII case folded, leading and trailing spaces dropped, inner runs as one space.
class folded_reader {
public:
    explicit folded_reader(std::string_view text) noexcept : text_(text) {}
    int next() noexcept
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

private:
    std::string_view text_;
    std::size_t at_ = 0;
    bool space_ = false;
    bool started_ = false;
};

inline bool folded_equal(std::string_view a, std::string_view b) noexcept
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

inline bool byte_string_type(unsigned char tag) noexcept
{
    return tag == der::utf8_string || tag == der::printable_string || tag == der::t61_string || tag == der::ia5_string;
}

inline bool same_value(const der::element& a, const der::element& b)
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

} // namespace name_impl

/// True when two Names are the same name: equal encodings, or equal attribute by attribute with
/// string values compared as RFC 5280 7.1 says (case and spaces folded, string types ignored).
inline bool same_name(byte_view a, byte_view b)
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
