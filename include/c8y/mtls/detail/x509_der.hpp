// c8y-mtls: a strict reader of DER (X.690) for X.509 certificates: elements, object identifiers,
// times and distinguished names. No I/O, no allocation except for text made for people.
#pragma once

#include "c8y/mtls/config.hpp"

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

C8Y_MTLS_DECL bool same_bytes(byte_view a, byte_view b) noexcept;

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
    C8Y_MTLS_DECL const char* next(element& out) noexcept;

    /// The next element, which must have tag `tag`.
    C8Y_MTLS_DECL const char* next(unsigned char tag, element& out) noexcept;

private:
    byte_view rest_;
};

/// The header (tag and length) of an element of `length` content bytes.
C8Y_MTLS_DECL std::vector<unsigned char> header(unsigned char tag, std::size_t length);

/// Appends one element, header and content.
C8Y_MTLS_DECL void append(std::vector<unsigned char>& out, unsigned char tag, byte_view content);

/// Dotted text of an OID's content octets ("1.2.840.113549.1.1.11").
C8Y_MTLS_DECL std::string oid_text(byte_view oid);

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
C8Y_MTLS_DECL std::optional<std::chrono::sys_seconds> time_value(const element& e) noexcept;

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

C8Y_MTLS_DECL std::string attribute_text(byte_view oid);

/// A directory string's value as UTF-8 (BMPString and UniversalString converted; other types
/// taken byte for byte). nullopt for types that are not strings.
C8Y_MTLS_DECL std::optional<std::string> string_value(const der::element& e);

// Bytes that would garble a line of text are shown as \xNN.
C8Y_MTLS_DECL void append_printable(std::string& out, std::string_view text);

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
C8Y_MTLS_DECL std::string name_text(byte_view name_value);

/// The first common name of a Name, or nullopt when it has none.
C8Y_MTLS_DECL std::optional<std::string> common_name(byte_view name_value);

namespace name_impl {

// The characters of a string value as RFC 5280 7.1 compares them, one at a time, without
// allocating: ASCII case folded, leading and trailing spaces dropped, inner runs as one space.
class folded_reader {
public:
    explicit folded_reader(std::string_view text) noexcept : text_(text) {}
    C8Y_MTLS_DECL int next() noexcept;

private:
    std::string_view text_;
    std::size_t at_ = 0;
    bool space_ = false;
    bool started_ = false;
};

C8Y_MTLS_DECL bool folded_equal(std::string_view a, std::string_view b) noexcept;

C8Y_MTLS_DECL bool byte_string_type(unsigned char tag) noexcept;

C8Y_MTLS_DECL bool same_value(const der::element& a, const der::element& b);

} // namespace name_impl

/// True when two Names are the same name: equal encodings, or equal attribute by attribute with
/// string values compared as RFC 5280 7.1 says (case and spaces folded, string types ignored).
C8Y_MTLS_DECL bool same_name(byte_view a, byte_view b);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/x509_der.ipp"
#endif
