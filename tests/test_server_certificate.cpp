// The SDK's own judgement of a TLS server, without a network: the host-name rules (RFC 6125),
// IP literals, key usage, key and signature strength, and the ServerHello reader that names
// what a refused server chose. Certificates are built field by field here; the same rules meet
// real servers in tests/test_hostile_servers.cpp.
#include "c8y/mtls/detail/server_certificate.hpp"
#include "c8y/mtls/detail/tls_hello.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <ostream> // doctest prints std::error_code through it
#include <string>
#include <string_view>
#include <vector>

#include "support/check_error.hpp"

namespace mtls = c8y::mtls;
namespace detail = c8y::mtls::detail;
using detail::dns_name_match;
using mtls::errc;
using mtls::test::contains;

namespace {

using bytes = std::vector<unsigned char>;

bytes tlv(unsigned char tag, const bytes& value)
{
    bytes out{tag};
    if (value.size() < 0x80) {
        out.push_back(static_cast<unsigned char>(value.size()));
    } else {
        out.push_back(0x82);
        out.push_back(static_cast<unsigned char>(value.size() >> 8));
        out.push_back(static_cast<unsigned char>(value.size() & 0xFF));
    }
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

bytes text(std::string_view s) { return bytes(s.begin(), s.end()); }

bytes cat(std::initializer_list<bytes> parts)
{
    bytes out;
    for (const bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// The content of a Name with one CN.
bytes name_with_cn(std::string_view cn)
{
    return tlv(0x31, tlv(0x30, cat({tlv(0x06, {0x55, 0x04, 0x03}), tlv(0x0C, text(cn))})));
}

bytes dns(std::string_view name) { return tlv(detail::alt_name::dns, text(name)); }
bytes ip(const bytes& address) { return tlv(detail::alt_name::ip_address, address); }

// A server certificate as the parser leaves it: the subject, and a subjectAltName when given.
struct fake_certificate {
    bytes subject;
    bytes alt_names;
    detail::parsed_certificate parsed;

    fake_certificate(std::string_view cn, std::initializer_list<bytes> names, bool has_san = true)
        : subject(name_with_cn(cn)), alt_names(cat(names))
    {
        parsed.subject = subject;
        parsed.issuer = subject;
        parsed.has_subject_alt_name = has_san;
        parsed.subject_alt_names = alt_names;
        parsed.key.type = detail::x509_key_type::ec;
        parsed.key.curve = detail::x509_curve::p256;
        parsed.key.bits = 256;
        parsed.signature_algorithm.known = true;
        parsed.signature_algorithm.scheme = mtls::signature_scheme::ecdsa;
        parsed.signature_algorithm.hash = mtls::hash_function::sha256;
    }
};

std::string mismatch(const fake_certificate& c, std::string_view host)
{
    const auto e = detail::check_host_name(c.parsed, host);
    if (!e)
        return "(matches)";
    CHECK(e->code() == errc::server_name_mismatch);
    return e->detail();
}

bool names(const fake_certificate& c, std::string_view host) { return !detail::check_host_name(c.parsed, host); }

} // namespace

TEST_CASE("IP literals: dotted quads and IPv6 text forms, nothing looser")
{
    const auto v4 = detail::parse_ip_address("192.0.2.1");
    REQUIRE(v4);
    CHECK(v4->size == 4);
    CHECK(bytes(v4->bytes, v4->bytes + 4) == bytes{192, 0, 2, 1});

    const auto v6 = detail::parse_ip_address("2001:db8::1");
    REQUIRE(v6);
    CHECK(v6->size == 16);
    CHECK(bytes(v6->bytes, v6->bytes + 16) == bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    const auto loopback = detail::parse_ip_address("[::1]");
    REQUIRE(loopback);
    CHECK(loopback->bytes[15] == 1);
    const auto mapped = detail::parse_ip_address("::ffff:192.0.2.1");
    REQUIRE(mapped);
    CHECK(bytes(mapped->bytes + 10, mapped->bytes + 16) == bytes{0xff, 0xff, 192, 0, 2, 1});
    const auto full = detail::parse_ip_address("1:2:3:4:5:6:7:8");
    REQUIRE(full);
    CHECK(full->bytes[15] == 8);
    const auto trailing_gap = detail::parse_ip_address("fe80::");
    REQUIRE(trailing_gap);
    CHECK(trailing_gap->bytes[0] == 0xfe);
    CHECK(detail::parse_ip_address("::"));

    for (const char* bad : {"1.2.3", "1.2.3.4.", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", ":::", "1::2::3",
                            "12345::", "::1:", ":1::", "g::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::1.2.3",
                            "1:2:3:4:5:6:7:1.2.3.4", "localhost", "", "[]", "[1.2.3.4"}) {
        CAPTURE(bad);
        CHECK_FALSE(detail::parse_ip_address(bad));
    }
    CHECK(detail::looks_like_ip_literal("999.1.1.1"));
    CHECK(detail::looks_like_ip_literal("::1"));
    CHECK_FALSE(detail::looks_like_ip_literal("localhost"));
    CHECK_FALSE(detail::looks_like_ip_literal("1.example.com"));
}

TEST_CASE("DNS names match RFC 6125's way: case-insensitive, a wildcard only as one whole leftmost label")
{
    CHECK(detail::match_dns_name("localhost", "localhost") == dns_name_match::matches);
    CHECK(detail::match_dns_name("LocalHost", "localhost") == dns_name_match::matches);
    CHECK(detail::match_dns_name("example.com.", "example.com") == dns_name_match::matches);
    CHECK(detail::match_dns_name("example.com", "example.com.") == dns_name_match::matches);
    CHECK(detail::match_dns_name("example.com", "www.example.com") == dns_name_match::differs);
    CHECK(detail::match_dns_name("localhost", "localhost.evil.com") == dns_name_match::differs);
    CHECK(detail::match_dns_name("", "") == dns_name_match::differs);

    CHECK(detail::match_dns_name("*.example.com", "mqtt.example.com") == dns_name_match::matches);
    CHECK(detail::match_dns_name("*.Example.COM", "MQTT.example.com") == dns_name_match::matches);
    CHECK(detail::match_dns_name("*.example.com", "a.b.example.com") == dns_name_match::differs);
    CHECK(detail::match_dns_name("*.example.com", "example.com") == dns_name_match::differs);
    CHECK(detail::match_dns_name("*.example.com", ".example.com") == dns_name_match::differs);

    CHECK(detail::match_dns_name("*", "localhost") == dns_name_match::lone_wildcard);
    CHECK(detail::match_dns_name("*.", "localhost") == dns_name_match::lone_wildcard);
    CHECK(detail::match_dns_name("*.com", "example.com") == dns_name_match::broad_wildcard);
    CHECK(detail::match_dns_name("*.localhost", "a.localhost") == dns_name_match::broad_wildcard);
    CHECK(detail::match_dns_name("local*", "localhost") == dns_name_match::partial_wildcard);
    CHECK(detail::match_dns_name("*host", "localhost") == dns_name_match::partial_wildcard);
    CHECK(detail::match_dns_name("f*o.example.com", "foo.example.com") == dns_name_match::partial_wildcard);
    CHECK(detail::match_dns_name("a.*.example.com", "a.b.example.com") == dns_name_match::partial_wildcard);
    CHECK(detail::match_dns_name("*.*.example.com", "a.b.example.com") == dns_name_match::partial_wildcard);
}

TEST_CASE("the host name check: SAN before CN, IP hosts against iPAddress entries only")
{
    SUBCASE("a DNS host against dNSName entries")
    {
        const fake_certificate c("platform", {dns("other.example"), dns("mqtt.example.com")});
        CHECK(names(c, "mqtt.example.com"));
        CHECK(mismatch(c, "www.example.com") ==
              "host \"www.example.com\", certificate /CN=platform names DNS:other.example, DNS:mqtt.example.com");
    }
    SUBCASE("the CN counts only without a subjectAltName")
    {
        const fake_certificate cn_only("localhost", {}, false);
        CHECK(names(cn_only, "localhost"));
        CHECK(mismatch(cn_only, "other") == "host \"other\", certificate /CN=localhost names CN \"localhost\" (no "
                                             "subjectAltName)");
        const fake_certificate with_san("localhost", {dns("other.example")});
        CHECK(mismatch(with_san, "localhost") ==
              "host \"localhost\", certificate /CN=localhost names DNS:other.example (its CN is not used: the "
              "certificate has a subjectAltName)");
        const fake_certificate only_an_email("localhost", {tlv(0x81, text("ops@example.com"))});
        CHECK(mismatch(only_an_email, "localhost") ==
              "host \"localhost\", certificate /CN=localhost names no DNS name or IP address in its subjectAltName "
              "(its CN is not used: the certificate has a subjectAltName)");
        const fake_certificate wildcard_cn("*.example.com", {}, false);
        CHECK(names(wildcard_cn, "mqtt.example.com"));
    }
    SUBCASE("an IP host against iPAddress entries, never against DNS names or the CN")
    {
        const fake_certificate c("127.0.0.1", {dns("127.0.0.1"), ip({10, 0, 0, 1}),
                                               ip({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})});
        CHECK(names(c, "10.0.0.1"));
        CHECK(names(c, "::1"));
        CHECK(names(c, "[::1]"));
        CHECK(mismatch(c, "127.0.0.1") == "host \"127.0.0.1\", certificate /CN=127.0.0.1 names DNS:127.0.0.1, "
                                          "IP:10.0.0.1, IP:0:0:0:0:0:0:0:1 (an IP address matches iPAddress entries "
                                          "only, not DNS:127.0.0.1)");
        const fake_certificate cn_ip("127.0.0.1", {}, false);
        CHECK(mismatch(cn_ip, "127.0.0.1") == "host \"127.0.0.1\", certificate /CN=127.0.0.1 names CN \"127.0.0.1\" "
                                              "(no subjectAltName) (an IP address matches iPAddress entries only, "
                                              "not the CN)");
        const fake_certificate wildcard("x", {dns("*.0.0.1")});
        CHECK_FALSE(names(wildcard, "127.0.0.1"));
        CHECK(contains(mismatch(c, "999.0.0.1"), "(the host is not a valid IP address)"));
    }
    SUBCASE("a DNS host never matches an iPAddress entry")
    {
        const fake_certificate c("x", {ip({127, 0, 0, 1})});
        CHECK_FALSE(names(c, "localhost"));
    }
    SUBCASE("wildcards that match nothing say why")
    {
        CHECK(contains(mismatch(fake_certificate("x", {dns("*")}), "localhost"), "('*' alone matches no host)"));
        CHECK(contains(mismatch(fake_certificate("x", {dns("local*")}), "localhost"),
                       "(DNS:local* is a partial wildcard: only a whole leftmost '*' label matches)"));
        CHECK(contains(mismatch(fake_certificate("x", {dns("*.com")}), "example.com"),
                       "(DNS:*.com is too broad: a wildcard needs at least two labels after it)"));
    }
    SUBCASE("a name with a NUL inside is not the name before it")
    {
        const fake_certificate c("x", {dns(std::string_view("localhost\0.evil.com", 19))});
        CHECK_FALSE(names(c, "localhost"));
    }
}

TEST_CASE("what the server certificate is for: digitalSignature and serverAuth when the extensions are there")
{
    fake_certificate c("localhost", {dns("localhost")});
    CHECK_FALSE(detail::check_server_usage(c.parsed));
    c.parsed.has_key_usage = true;
    CHECK(detail::check_server_usage(c.parsed)->detail() ==
          "/CN=localhost has a keyUsage without digitalSignature: its key may not sign the TLS handshake");
    c.parsed.digital_signature = true;
    CHECK_FALSE(detail::check_server_usage(c.parsed));
    c.parsed.has_extended_key_usage = true;
    const auto e = detail::check_server_usage(c.parsed);
    REQUIRE(e);
    CHECK(e->code() == errc::server_certificate_usage);
    CHECK(e->detail() == "/CN=localhost has an extendedKeyUsage without serverAuth: it is not for TLS servers");
    c.parsed.server_auth = true;
    CHECK_FALSE(detail::check_server_usage(c.parsed));
}

TEST_CASE("the server's chain: keys of RSA 2048 and EC P-256 at least, no SHA-1 or MD5 signature relied on")
{
    fake_certificate leaf("localhost", {dns("localhost")});
    fake_certificate ca("server CA", {}, false);
    std::vector<detail::parsed_certificate> chain{leaf.parsed, ca.parsed};
    CHECK_FALSE(detail::check_server_chain_strength(chain));

    SUBCASE("weak keys are named with their size, wherever they are in the chain")
    {
        chain[1].key.type = detail::x509_key_type::rsa;
        chain[1].key.bits = 1024;
        auto e = detail::check_server_chain_strength(chain);
        REQUIRE(e);
        CHECK(e->code() == errc::server_key_too_weak);
        CHECK(e->detail() == "/CN=server CA has an RSA key of 1024 bits (at least 2048 are needed)");
        chain[1].key.bits = 2048;
        CHECK_FALSE(detail::check_server_chain_strength(chain));
        chain[0].key.curve = detail::x509_curve::other;
        e = detail::check_server_chain_strength(chain);
        REQUIRE(e);
        CHECK(contains(e->detail(), "/CN=localhost (the server certificate) has a key EC explicit curve"));
        chain[0].key.type = detail::x509_key_type::ed25519;
        CHECK_FALSE(detail::check_server_chain_strength(chain));
        chain[0].key.type = detail::x509_key_type::other;
        CHECK(detail::check_server_chain_strength(chain)->code() == errc::server_key_too_weak);
    }
    SUBCASE("SHA-1 and MD5 signatures are refused, a root's own self-signature aside")
    {
        for (const auto hash : {mtls::hash_function::sha1, mtls::hash_function::md5}) {
            chain[0].signature_algorithm.hash = hash;
            const auto e = detail::check_server_chain_strength(chain);
            REQUIRE(e);
            CHECK(e->code() == errc::server_signature_too_weak);
            CHECK(contains(e->detail(), "/CN=localhost (the server certificate) is signed with ECDSA with "));
        }
        chain[0].signature_algorithm.hash = mtls::hash_function::sha384;
        chain[1].signature_algorithm.hash = mtls::hash_function::sha1; // the self-signed root's own
        CHECK_FALSE(detail::check_server_chain_strength(chain));
        chain.resize(1); // a self-issued server certificate is itself the anchor
        chain[0].signature_algorithm.hash = mtls::hash_function::sha1;
        CHECK_FALSE(detail::check_server_chain_strength(chain));
        const fake_certificate intermediate("intermediate", {}, false);
        chain = {leaf.parsed, intermediate.parsed};
        chain[1].issuer = ca.subject;
        chain[1].signature_algorithm.hash = mtls::hash_function::sha1; // not self-issued: relied on
        CHECK(detail::check_server_chain_strength(chain)->code() == errc::server_signature_too_weak);
    }
}

TEST_CASE("check_server_certificates: no certificate and unreadable ones are not trusted")
{
    CHECK(detail::check_server_certificates({}, "localhost", true)->code() == errc::server_not_trusted);
    const bytes junk = {0x30, 0x03, 0x02, 0x01, 0x00};
    const detail::byte_view chain[] = {junk};
    const auto e = detail::check_server_certificates(chain, "localhost", true);
    REQUIRE(e);
    CHECK(e->code() == errc::server_not_trusted);
    CHECK(contains(e->detail(), "certificate 0 of the server's chain cannot be read: "));
}

namespace {

bytes record(unsigned char type, const bytes& fragment)
{
    return cat({{type, 0x03, 0x03, static_cast<unsigned char>(fragment.size() >> 8),
                 static_cast<unsigned char>(fragment.size() & 0xFF)},
                fragment});
}

bytes server_hello_message(std::uint16_t version, std::uint16_t suite, const bytes& extensions, bool with_extensions = true)
{
    bytes body = {static_cast<unsigned char>(version >> 8), static_cast<unsigned char>(version & 0xFF)};
    body.insert(body.end(), 32, 0xAB); // random
    body.push_back(4);                 // a session id of 4 bytes
    body.insert(body.end(), {1, 2, 3, 4});
    body.insert(body.end(), {static_cast<unsigned char>(suite >> 8), static_cast<unsigned char>(suite & 0xFF), 0});
    if (with_extensions) {
        body.push_back(static_cast<unsigned char>(extensions.size() >> 8));
        body.push_back(static_cast<unsigned char>(extensions.size() & 0xFF));
        body.insert(body.end(), extensions.begin(), extensions.end());
    }
    return cat({{2, 0, static_cast<unsigned char>(body.size() >> 8), static_cast<unsigned char>(body.size() & 0xFF)},
                body});
}

} // namespace

TEST_CASE("the ServerHello reader: what the server chose, from whole or fragmented records")
{
    const bytes tls12 = record(22, server_hello_message(0x0303, 0x00A6, {}));
    auto hello = detail::read_server_hello(tls12);
    REQUIRE(hello);
    CHECK(hello->version == 0x0303);
    CHECK(hello->cipher_suite == 0x00A6);

    const bytes supported_versions = {0x00, 0x2B, 0x00, 0x02, 0x03, 0x04};
    const bytes tls13 = record(22, server_hello_message(0x0303, 0x1301, supported_versions));
    hello = detail::read_server_hello(tls13);
    REQUIRE(hello);
    CHECK(hello->version == 0x0304);
    CHECK(hello->cipher_suite == 0x1301);

    const bytes no_extensions = record(22, server_hello_message(0x0301, 0x002F, {}, false));
    hello = detail::read_server_hello(no_extensions);
    REQUIRE(hello);
    CHECK(hello->version == 0x0301);

    // The same ServerHello in two records, then cut short anywhere: nothing until it is whole.
    const bytes message = server_hello_message(0x0303, 0xC011, {});
    const bytes split = cat({record(22, bytes(message.begin(), message.begin() + 7)),
                             record(22, bytes(message.begin() + 7, message.end()))});
    hello = detail::read_server_hello(split);
    REQUIRE(hello);
    CHECK(hello->cipher_suite == 0xC011);
    for (std::size_t n = 0; n < split.size(); ++n)
        CHECK_FALSE(detail::read_server_hello(std::span(split).first(n)));

    CHECK_FALSE(detail::read_server_hello(record(21, {2, 40})));                     // an alert
    CHECK_FALSE(detail::read_server_hello(record(22, {11, 0, 0, 0})));              // a Certificate first
    bytes bad_extensions = server_hello_message(0x0303, 0x1301, supported_versions);
    bad_extensions[bad_extensions.size() - 3] = 0x09; // the extension claims 9 bytes where 2 follow
    CHECK_FALSE(detail::read_server_hello(record(22, bad_extensions)));
}

TEST_CASE("suites and versions are named for people")
{
    CHECK(detail::tls_cipher_suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    CHECK(detail::tls_cipher_suite_name(0x00A7) == "TLS_DH_anon_WITH_AES_256_GCM_SHA384");
    CHECK(detail::tls_cipher_suite_name(0xC0B5) == "TLS_SHA384_SHA384");
    CHECK(detail::tls_cipher_suite_name(0xABCD) == "0xABCD");
    CHECK(detail::tls_version_name(0x0302) == "TLS 1.1");
    CHECK(detail::tls_version_name(0x7F1C) == "version 0x7F1C");
    for (const auto e : {errc::server_key_too_weak, errc::server_signature_too_weak, errc::server_certificate_usage,
                         errc::tls_cipher_suite_refused})
        CHECK_FALSE(mtls::retry_can_help(e));
}
