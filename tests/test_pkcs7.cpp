// The EST answer reader (detail/pkcs7.hpp): certs-only PKCS#7 made by `openssl crl2pkcs7` read
// back byte for byte as `openssl x509 -outform DER` writes each certificate, in every form the
// platform may send it (base64 with or without line breaks, binary, PEM, BER with indefinite
// lengths as Java's CMS encoder writes it); every truncation, every flipped byte and each
// structural defect refused with est_answer_malformed and its cause.
#include "c8y/mtls/detail/pkcs7.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <ostream> // doctest prints std::error_code through it
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/check_error.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace detail = c8y::mtls::detail;
using mtls::errc;
using mtls::test::run_command;
using mtls::test::shell_quote;

namespace {

using bytes = std::vector<unsigned char>;

bytes read_bytes(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_text(const fs::path& p)
{
    const bytes b = read_bytes(p);
    return {b.begin(), b.end()};
}

std::string_view text_of(const bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Certificates and certs-only messages made once for this program by the OpenSSL CLI: a root,
// an intermediate and a device certificate, a CRL of the root, and crl2pkcs7's messages.
struct openssl_answers {
    fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "pkcs7";
    std::vector<bytes> chain; // device, intermediate, root: `openssl x509 -outform DER`
    bytes one;                // certs-only with the device certificate, DER
    bytes three;              // with the chain of three, DER
    bytes with_crl;           // the chain and the root's CRL
    std::string three_pem;    // the chain's message as a PEM PKCS7 block
    std::string chain_pem;    // the three certificates as PEM
    std::string crl_pem;      // the CRL alone as PEM

    openssl_answers()
    {
        fs::remove_all(dir);
        fs::create_directories(dir);
        const std::string script = R"(
key='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'
openssl req -x509 $key -keyout root.key -subj /CN=est-root -days 30 -out root.pem
openssl req -new $key -keyout inter.key -subj /CN=est-intermediate -out inter.csr
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 2 -days 30 -out inter.pem
openssl req -new $key -keyout device.key -subj /CN=est-device-0001 -out device.csr
openssl x509 -req -in device.csr -CA inter.pem -CAkey inter.key -set_serial 3 -days 30 -out device.pem
cat device.pem inter.pem root.pem > chain.pem
for c in device inter root; do openssl x509 -in $c.pem -outform DER -out $c.der; done
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n' > ca.cnf
: > index.txt
echo 01 > crlnumber
openssl ca -gencrl -config ca.cnf -keyfile root.key -cert root.pem -out root.crl
openssl crl2pkcs7 -nocrl -certfile device.pem -outform DER -out one.p7b
openssl crl2pkcs7 -nocrl -certfile chain.pem -outform DER -out three.p7b
openssl crl2pkcs7 -nocrl -certfile chain.pem -outform PEM -out three.p7.pem
openssl crl2pkcs7 -in root.crl -certfile chain.pem -outform DER -out with_crl.p7b
)";
        run_command("cd " + shell_quote(dir.string()) + " && sh -e -c " + shell_quote(script) + " 2>&1");
        for (const char* name : {"device", "inter", "root"})
            chain.push_back(read_bytes(dir / (std::string(name) + ".der")));
        one = read_bytes(dir / "one.p7b");
        three = read_bytes(dir / "three.p7b");
        with_crl = read_bytes(dir / "with_crl.p7b");
        three_pem = read_text(dir / "three.p7.pem");
        chain_pem = read_text(dir / "chain.pem");
        crl_pem = read_text(dir / "root.crl");
    }

    // `openssl base64` of a file: lines of 64 characters, or one line with -A.
    std::string base64(const char* file, bool one_line) const
    {
        return run_command("openssl base64 " + std::string(one_line ? "-A " : "") + "-in " +
                           shell_quote((dir / file).string()));
    }
};

const openssl_answers& answers()
{
    static const openssl_answers made;
    return made;
}

// ---- certs-only messages built field by field, to vary one field at a time ------------------

bytes tlv(unsigned char tag, const bytes& content)
{
    bytes out;
    detail::der::append(out, tag, content);
    return out;
}

bytes indefinite(unsigned char tag, const bytes& content)
{
    bytes out{tag, 0x80};
    out.insert(out.end(), content.begin(), content.end());
    out.insert(out.end(), {0x00, 0x00});
    return out;
}

bytes cat(std::initializer_list<bytes> parts)
{
    bytes out;
    for (const bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

bytes oid(std::span<const unsigned char> content) { return tlv(0x06, bytes(content.begin(), content.end())); }

struct message {
    bytes content_type = oid(detail::pkcs7_oid::signed_data);
    bytes version = {0x02, 0x01, 0x01};
    bytes digest_algorithms = {0x31, 0x00};
    bytes encapsulated = tlv(0x30, oid(detail::pkcs7_oid::data));
    bytes certificates; // the whole [0] field
    bytes crls;         // the whole [1] field, when any
    bytes signer_infos = {0x31, 0x00};
    bytes after_signer_infos;
    bool ber = false; // indefinite lengths on the constructed envelope, as Java's CMS encoder writes

    message(const std::vector<bytes>& certs, bool indefinite_lengths = false) : ber(indefinite_lengths)
    {
        bytes set;
        for (const bytes& c : certs)
            set.insert(set.end(), c.begin(), c.end());
        certificates = wrap(0xA0, set);
    }

    bytes wrap(unsigned char tag, const bytes& content) const
    {
        return ber ? indefinite(tag, content) : tlv(tag, content);
    }

    bytes encode() const
    {
        const bytes signed_data = wrap(0x30, cat({version, digest_algorithms, encapsulated, certificates, crls,
                                                  signer_infos, after_signer_infos}));
        return wrap(0x30, cat({content_type, wrap(0xA0, signed_data)}));
    }
};

std::vector<mtls::der_certificate> from_pkcs7(const bytes& der)
{
    return detail::certificates_from_pkcs7(der, "https://t1.example/.well-known/est/simpleenroll");
}

std::vector<mtls::der_certificate> from_answer(std::string_view body)
{
    return detail::certificates_from_est_answer(body, "https://t1.example/.well-known/est/simpleenroll");
}

// Runs `f` and says how it ended: "certificates", "est_answer_malformed", or what else it did.
template <class F>
std::string outcome(F&& f)
{
    try {
        const auto certificates = f();
        return certificates.empty() ? "no certificate and no error" : "certificates";
    } catch (const mtls::error& e) {
        if (e.code() != errc::est_answer_malformed)
            return std::string("other error: ") + e.what();
        if (!mtls::test::contains(e.detail(), "EST answer: https://t1.example/.well-known/est/simpleenroll: "))
            return "detail without the source: " + e.detail();
        return "est_answer_malformed";
    } catch (const std::exception& e) {
        return std::string("other exception: ") + e.what();
    }
}

} // namespace

TEST_CASE("pkcs7: openssl crl2pkcs7's certs-only messages give the certificates byte for byte, in order")
{
    const auto& a = answers();
    CHECK(from_pkcs7(a.one) == std::vector<bytes>{a.chain[0]});
    CHECK(from_pkcs7(a.three) == a.chain);
    // The same through the body reader, as binary.
    CHECK(from_answer(text_of(a.three)) == a.chain);
    // The builder of the defect tests writes what openssl writes.
    CHECK(message(a.chain).encode() == a.three);
    CHECK(message({a.chain[0]}).encode() == a.one);
}

TEST_CASE("pkcs7: a message with a CRL still gives its certificates")
{
    const auto& a = answers();
    REQUIRE(a.with_crl.size() > a.three.size());
    CHECK(from_pkcs7(a.with_crl) == a.chain);
    CHECK(from_answer(text_of(a.with_crl)) == a.chain);
}

TEST_CASE("pkcs7: the EST answer as base64 with and without line breaks, with CRLF and blanks")
{
    const auto& a = answers();
    const std::string lines = a.base64("three.p7b", false);
    const std::string one_line = a.base64("three.p7b", true);
    REQUIRE(mtls::test::contains(lines, "\n"));
    REQUIRE_FALSE(mtls::test::contains(one_line, "\n"));
    CHECK(from_answer(lines) == a.chain);
    CHECK(from_answer(one_line) == a.chain);
    std::string crlf;
    for (const char c : lines)
        crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    CHECK(from_answer(crlf) == a.chain);
    CHECK(from_answer("\r\n  " + crlf + "\t\r\n") == a.chain);
    CHECK(from_answer(a.base64("one.p7b", true)) == std::vector<bytes>{a.chain[0]});
    CHECK(from_answer(detail::base64_encode(text_of(a.with_crl))) == a.chain);
}

TEST_CASE("pkcs7: PEM bodies: certificates as the platform's documentation shows, or a PKCS7 block")
{
    const auto& a = answers();
    CHECK(from_answer(a.chain_pem) == a.chain);
    CHECK(from_answer(read_text(a.dir / "device.pem")) == std::vector<bytes>{a.chain[0]});
    std::string crlf;
    for (const char c : a.chain_pem)
        crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    CHECK(from_answer(crlf) == a.chain);
    REQUIRE(mtls::test::contains(a.three_pem, "-----BEGIN PKCS7-----"));
    CHECK(from_answer(a.three_pem) == a.chain);

    CHECK_ERROR(from_answer(a.crl_pem), errc::est_answer_malformed, "PEM without a CERTIFICATE or PKCS7 block");
    CHECK_ERROR(from_answer("-----BEGIN CERTIFICATE-----\nMIIB\n"), errc::est_answer_malformed,
                "EST answer: https://t1.example/.well-known/est/simpleenroll: 'CERTIFICATE' block has no END line");
    CHECK_ERROR(from_answer("-----BEGIN CERTIFICATE-----\nBAEA\n-----END CERTIFICATE-----\n"),
                errc::est_answer_malformed, "certificate 1 (PEM) is not a DER SEQUENCE (tag 0x04)");
}

TEST_CASE("pkcs7: BER with indefinite lengths on the envelope, as the platform's Java encoder writes it")
{
    const auto& a = answers();
    const bytes ber = message(a.chain, true).encode();
    REQUIRE(ber[1] == 0x80);
    CHECK(from_pkcs7(ber) == a.chain);
    CHECK(from_answer(detail::base64_encode(text_of(ber))) == a.chain);
    CHECK(from_answer(text_of(ber)) == a.chain);

    // A certificate must be DER: an indefinite length there is refused.
    bytes cert_ber = indefinite(0x30, bytes(a.chain[0].begin() + 4, a.chain[0].end()));
    REQUIRE(a.chain[0][1] == 0x82); // 30 82 LL LL: 4 header bytes dropped above
    CHECK_ERROR(from_pkcs7(message({cert_ber}, true).encode()), errc::est_answer_malformed,
                "certificate 1: indefinite length (BER, not DER)");
    // Only constructed elements may have an indefinite length.
    message primitive(a.chain, true);
    primitive.version = {0x02, 0x80, 0x01, 0x00, 0x00};
    CHECK_ERROR(from_pkcs7(primitive.encode()), errc::est_answer_malformed,
                "indefinite length on a primitive element (BER allows it on constructed ones only)");
    // Without its end-of-contents octets the message ends too soon.
    CHECK_ERROR(from_pkcs7(bytes(ber.begin(), ber.end() - 2)), errc::est_answer_malformed,
                "ContentInfo: end-of-contents octets of an indefinite length missing (input ends)");
    // Nesting is bounded.
    bytes deep = {0x05, 0x00};
    for (int i = 0; i < 64; ++i)
        deep = indefinite(0x30, deep);
    CHECK_ERROR(from_pkcs7(deep), errc::est_answer_malformed, "indefinite lengths nested too deeply");
}

TEST_CASE("pkcs7: each structural defect is refused with its cause")
{
    const auto& a = answers();
    const auto refused = [&](const message& m, const char* needle) {
        CAPTURE(needle);
        CHECK_ERROR(from_pkcs7(m.encode()), errc::est_answer_malformed, needle);
        CHECK_ERROR(from_answer(detail::base64_encode(text_of(m.encode()))), errc::est_answer_malformed, needle);
    };

    message enveloped(a.chain);
    enveloped.content_type.back() = 0x03;
    refused(enveloped, "EST answer: https://t1.example/.well-known/est/simpleenroll: not PKCS#7 SignedData "
                       "(content type 1.2.840.113549.1.7.3, expected 1.2.840.113549.1.7.2)");
    message version_3(a.chain);
    version_3.version = {0x02, 0x01, 0x03};
    refused(version_3, "SignedData version 3, expected 1 (a certs-only message)");
    message version_long(a.chain);
    version_long.version = {0x02, 0x03, 0x01, 0x00, 0x00};
    refused(version_long, "SignedData version of 3 bytes, expected 1");
    message version_string(a.chain);
    version_string.version = {0x04, 0x01, 0x01};
    refused(version_string, "SignedData version expected (tag 0x02), found tag 0x04");
    message empty_set(a.chain);
    empty_set.certificates = {0xA0, 0x00};
    refused(empty_set, "no certificate: the certificate set is empty");
    message no_set(a.chain);
    no_set.certificates.clear();
    refused(no_set, "no certificate: SignedData has no certificates field");
    message not_sequence(a.chain);
    not_sequence.certificates = tlv(0xA0, cat({a.chain[0], {0x04, 0x03, 'a', 'b', 'c'}}));
    refused(not_sequence, "certificate 2 is not a DER SEQUENCE (tag 0x04)");
    message not_certificate(a.chain);
    not_certificate.certificates = tlv(0xA0, tlv(0x30, {0x02, 0x01, 0x00}));
    refused(not_certificate, "certificate 1 is not an X.509 certificate (signed part, algorithm, signature): "
                             "unexpected element");
    message data_type(a.chain);
    data_type.encapsulated = tlv(0x30, oid(detail::pkcs7_oid::signed_data));
    refused(data_type, "encapsulated content type 1.2.840.113549.1.7.2, expected id-data 1.2.840.113549.1.7.1");
    message with_content(a.chain);
    with_content.encapsulated = tlv(0x30, cat({oid(detail::pkcs7_oid::data), tlv(0xA0, tlv(0x04, {'h', 'i'}))}));
    refused(with_content, "encapContentInfo carries content: not a certs-only message");
    message digests(a.chain);
    digests.digest_algorithms = tlv(0x31, tlv(0x30, oid(std::vector<unsigned char>{0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                                                                                   0x04, 0x02, 0x01})));
    refused(digests, "SignedData names digest algorithms: a signed message, not certs-only");
    message signers(a.chain);
    signers.signer_infos = tlv(0x31, tlv(0x30, {0x02, 0x01, 0x01}));
    refused(signers, "SignedData has signers: a signed message, not certs-only");
    message extra_field(a.chain);
    extra_field.after_signer_infos = {0x05, 0x00};
    refused(extra_field, "2 bytes after the fields of SignedData");
    message broken_crl(a.chain);
    broken_crl.crls = tlv(0xA1, {0x30, 0x05, 0x00});
    refused(broken_crl, "SignedData crls: length past the end of the data");
    message huge_oid(a.chain);
    huge_oid.content_type = tlv(0x06, bytes(100, 0x81));
    refused(huge_oid, "content type (an OID of 100 bytes)");

    bytes trailing = a.three;
    trailing.push_back(0x00);
    CHECK_ERROR(from_pkcs7(trailing), errc::est_answer_malformed, "1 byte after the ContentInfo");
    trailing.insert(trailing.end(), {0x30, 0x00});
    CHECK_ERROR(from_answer(detail::base64_encode(text_of(trailing))), errc::est_answer_malformed,
                "3 bytes after the ContentInfo");
    CHECK_ERROR(from_pkcs7(bytes{0x31, 0x00}), errc::est_answer_malformed,
                "ContentInfo expected (tag 0x30), found tag 0x31");
    CHECK_ERROR(from_pkcs7(bytes{}), errc::est_answer_malformed, "no data");
    // A certificate sent as base64 without armour is not a certs-only message.
    CHECK_ERROR(from_answer(detail::base64_encode(text_of(a.chain[0]))), errc::est_answer_malformed,
                "ContentInfo's content type expected (tag 0x06), found tag 0x30");
}

TEST_CASE("pkcs7: bodies that are no answer name what they are")
{
    CHECK_ERROR(from_answer(""), errc::est_answer_malformed, "empty body");
    CHECK_ERROR(from_answer(" \r\n\t"), errc::est_answer_malformed, "empty body");
    CHECK_ERROR(from_answer(R"({"error":"certificate-authority/Not Found","message":"No newDeviceRequest found"})"),
                errc::est_answer_malformed,
                "neither PEM, base64 nor binary PKCS#7: base64 broken at byte 0 (character outside the base64 "
                "alphabet); the body begins \"{\\\"error\\\":");
    // The offset counts the line breaks of the body as received.
    CHECK_ERROR(from_answer("MIIB\r\nMII*"), errc::est_answer_malformed, "base64 broken at byte 9");
    CHECK_ERROR(from_answer("MIIBMII"), errc::est_answer_malformed, "length is not a multiple of 4");
    const auto e = mtls::test::thrown_by([] { from_answer("%%"); });
    REQUIRE(e);
    CHECK_FALSE(mtls::retry_can_help(e->code()));
    CHECK(std::string(e->what()).rfind("the platform's EST answer (PKCS#7 or PEM certificates) cannot be read: "
                                       "EST answer: ",
                                       0) == 0);
}

TEST_CASE("pkcs7: every truncation of a real answer is refused with est_answer_malformed")
{
    const auto& a = answers();
    const bytes ber = message(a.chain, true).encode();
    const std::string base64 = a.base64("three.p7b", false);
    std::size_t tried = 0;
    for (const bytes* answer : {&a.three, &a.with_crl, &ber}) {
        for (std::size_t n = 0; n < answer->size(); ++n, ++tried) {
            const bytes prefix(answer->begin(), answer->begin() + static_cast<std::ptrdiff_t>(n));
            const std::string how = outcome([&] { return from_pkcs7(prefix); });
            if (how != "est_answer_malformed") {
                CAPTURE(n);
                FAIL_CHECK(how);
            }
        }
    }
    // base64 ending with its last line break is still the whole answer: cut before it.
    for (std::size_t n = 0; n + 1 < base64.size(); ++n, ++tried) {
        const std::string how = outcome([&] { return from_answer(std::string_view(base64).substr(0, n)); });
        if (how != "est_answer_malformed") {
            CAPTURE(n);
            FAIL_CHECK(how);
        }
    }
    CHECK(tried == a.three.size() + a.with_crl.size() + ber.size() + base64.size() - 1);
}

TEST_CASE("pkcs7: every flipped byte of a real answer gives certificates or est_answer_malformed")
{
    const auto& a = answers();
    const bytes ber = message(a.chain, true).encode();
    std::size_t refused = 0, read = 0;
    for (const bytes* answer : {&a.three, &a.with_crl, &ber}) {
        for (std::size_t i = 0; i < answer->size(); ++i) {
            for (const unsigned char mask : {0x01, 0x80, 0xFF}) {
                bytes changed = *answer;
                changed[i] ^= mask;
                const std::string how = outcome([&] { return from_pkcs7(changed); });
                if (how == "est_answer_malformed")
                    ++refused;
                else if (how == "certificates")
                    ++read;
                else {
                    CAPTURE(i);
                    CAPTURE(int(mask));
                    FAIL_CHECK(how);
                }
                // The same bytes as a body: whichever form it now looks like, the same two outcomes.
                const std::string body = outcome([&] { return from_answer(text_of(changed)); });
                if (body != "est_answer_malformed" && body != "certificates") {
                    CAPTURE(i);
                    CAPTURE(int(mask));
                    FAIL_CHECK(body);
                }
            }
        }
    }
    // Changes inside a certificate's fields leave the envelope whole; changes to its frame do not.
    CHECK(read > 0);
    CHECK(refused > 0);
    MESSAGE("flipped bytes: " << read << " read, " << refused << " refused");
}
