// libFuzzer target: the PKCS#11 URI reader (pkcs11_uri::parse, RFC 7512) on arbitrary text.
//
// Either the text is refused with pkcs11_uri_malformed, its detail quoting the URI, or it is read;
// a URI read is written again by text() and that text reads back to the same attributes (the
// writer percent-encodes whatever the reader decoded). Nothing else.
//
// Seeds in tests/fuzz/corpus/pkcs11_uri/: a label, every path and query attribute with
// percent-encoded values, a slot and an id, the library and slot attributes, a PIN in the query.
#include <c8y/mtls/pkcs11.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

bool same(const c8y::mtls::pkcs11_uri& a, const c8y::mtls::pkcs11_uri& b)
{
    return a.token == b.token && a.manufacturer == b.manufacturer && a.model == b.model && a.serial == b.serial &&
           a.slot_id == b.slot_id && a.slot_description == b.slot_description &&
           a.slot_manufacturer == b.slot_manufacturer && a.library_manufacturer == b.library_manufacturer &&
           a.library_description == b.library_description && a.object == b.object && a.id == b.id &&
           a.type == b.type && a.module_path == b.module_path && a.module_name == b.module_name;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    c8y::mtls::pkcs11_uri uri;
    try {
        uri = c8y::mtls::pkcs11_uri::parse(text);
    } catch (const c8y::mtls::error& e) {
        if (e.code() != c8y::mtls::errc::pkcs11_uri_malformed || e.detail().empty())
            std::abort();
        return 0;
    }
    if (!same(c8y::mtls::pkcs11_uri::parse(uri.text()), uri))
        std::abort();
    return 0;
}
