// The PKCS#12 reader (detail/pkcs12.hpp) on the files the platform guide has people make
// (openssl pkcs12 -export, keytool -importkeystore and -importcert, tests/support/
// guide_keystores.hpp) and on openssl's other choices of algorithm: the key and chain come out as
// wolfSSL's own PKCS#12 parser reads them, trusted certificate entries as keytool marks them,
// each refusal with its code and cause. Every truncation and flipped byte of a real file gives a
// named error; crafted files with lengths past the end, huge iteration counts and deep nesting are
// refused before anything is allocated or derived for them.
#include "c8y/mtls/detail/pkcs12.hpp"
#include "c8y/mtls/detail/x509_pem.hpp"
#include "c8y/mtls/wolfssl/crypto.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <ostream> // doctest prints std::error_code through it
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "support/check_error.hpp"
#include "support/guide_keystores.hpp"
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace detail = c8y::mtls::detail;
namespace der = c8y::mtls::detail::der;
using mtls::errc;
using mtls::test::guide_files;
using mtls::test::guide_keystores;
using mtls::test::run_command;
using mtls::test::shell_quote;
using crypto = mtls::default_crypto;

namespace {

using bytes = std::vector<unsigned char>;

bytes read_bytes(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bytes key_bytes(const mtls::secure_bytes& key) { return {key.data(), key.data() + key.size()}; }

std::vector<bytes> pem_chain(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return detail::pem_certificates(text, p.string());
}

// Keys, certificates and PKCS#12 files of openssl's other choices, made once for this program
// (openssl only: quick).
struct openssl_stores {
    fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "pkcs12";

    openssl_stores()
    {
        fs::remove_all(dir);
        fs::create_directories(dir);
        const std::string script = R"(
ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'
openssl req -x509 $ec -keyout ca.key -subj /CN=p12-test-ca -days 30 -out ca.pem
openssl req -new $ec -keyout ec.key -subj /CN=p12-ec-device -out ec.csr
openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 -out ec.pem
openssl genpkey -algorithm ed25519 -out ed.key
for c in ca ec; do openssl x509 -in $c.pem -outform DER -out $c.der; done
openssl pkcs8 -topk8 -nocrypt -in ec.key -outform DER -out ec.pk8
openssl pkcs8 -topk8 -nocrypt -in ed.key -outform DER -out ed.pk8
openssl pkcs8 -topk8 -v2 aes-256-cbc -in ec.key -passout pass:keypass22 -outform DER -out ec-keypass.epk
cat ec.pem ca.pem > chain.pem
x='-export -name devicekeyentry -inkey ec.key -in chain.pem -passout pass:storepass1'
openssl pkcs12 $x -noiter -nomaciter -out small.p12
openssl pkcs12 $x -legacy -out legacy.p12
openssl pkcs12 $x -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1 -out des3.p12
openssl pkcs12 $x -certpbe AES-128-CBC -keypbe DES-EDE3-CBC -macalg sha512 -out aes128.p12
openssl pkcs12 $x -certpbe AES-192-CBC -out aes192.p12
openssl pkcs12 $x -nomac -out nomac.p12
openssl pkcs12 -export -nokeys -in chain.pem -passout pass:storepass1 -out nokeys.p12
)";
        int code = 0;
        const std::string output =
            run_command("cd " + shell_quote(dir.string()) + " && sh -e -c " + shell_quote(script) + " 2>&1", &code);
        if (code != 0)
            FAIL("making the PKCS#12 files failed: " << output);
    }

    bytes operator[](const char* file) const { return read_bytes(dir / file); }
};

const openssl_stores& stores()
{
    static const openssl_stores made;
    return made;
}

template <class F>
std::optional<std::error_code> outcome(F&& f)
{
    if (const auto e = mtls::test::thrown_by(f))
        return e->code();
    return std::nullopt;
}

// ---- crafted files, their MAC made as PKCS#12 makes it -----------------------------------------

bytes tlv(unsigned char tag, const bytes& content)
{
    bytes out;
    der::append(out, tag, content);
    return out;
}

bytes concat(std::initializer_list<bytes> parts)
{
    bytes out;
    for (const bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

bytes seq(std::initializer_list<bytes> parts) { return tlv(der::sequence, concat(parts)); }

bytes oid(std::initializer_list<unsigned char> arcs) { return tlv(der::object_identifier, bytes(arcs)); }

const bytes data_type = oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01});

bytes bag_type(unsigned char n) { return oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, n}); }

bytes bmp(std::string_view ascii)
{
    bytes out;
    for (const char c : ascii) {
        out.push_back(0);
        out.push_back(static_cast<unsigned char>(c));
    }
    return tlv(der::bmp_string, out);
}

struct attributes {
    std::optional<std::string> alias;
    bytes key_id;
    bool trusted = false;
};

bytes attribute_set(const attributes& a)
{
    bytes list;
    if (a.alias)
        list = concat({list, seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x14}), tlv(der::set, bmp(*a.alias))})});
    if (!a.key_id.empty())
        list = concat({list, seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x15}),
                                  tlv(der::set, tlv(der::octet_string, a.key_id))})});
    if (a.trusted)
        list = concat({list, seq({oid({0x60, 0x86, 0x48, 0x01, 0x86, 0xF9, 0x66, 0xAD, 0xCA, 0x7B, 0x01, 0x01}),
                                  tlv(der::set, oid({0x55, 0x1D, 0x25, 0x00}))})});
    return list.empty() ? bytes{} : tlv(der::set, list);
}

bytes bag(unsigned char type, const bytes& value, const attributes& a = {})
{
    return seq({bag_type(type), tlv(der::context_0, value), attribute_set(a)});
}

bytes cert_bag(const bytes& certificate, const attributes& a = {})
{
    return bag(3, seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x16, 0x01}),
                       tlv(der::context_0, tlv(der::octet_string, certificate))}),
               a);
}

// A ContentInfo of data holding a SafeContents of `bags`.
bytes in_clear(std::initializer_list<bytes> bags)
{
    return seq({data_type, tlv(der::context_0, tlv(der::octet_string, seq(bags)))});
}

// The PFX of these ContentInfos, its MAC (HMAC-SHA-256, one iteration) under `password`.
bytes pfx(std::initializer_list<bytes> contents, std::string_view password = "pw")
{
    const bytes auth_safe = seq(contents);
    const bytes salt(8, 0x11);
    const mtls::secure_bytes pass = detail::pkcs12_impl::bmp_password(password, "test");
    const mtls::secure_bytes key = detail::pkcs12_impl::derive_key<crypto>(
        mtls::hash_function::sha256, {pass.data(), pass.size()}, salt, 3, 1, 32);
    const bytes mac = detail::pkcs12_impl::hmac<crypto>(mtls::hash_function::sha256, {key.data(), key.size()}, auth_safe);
    const bytes sha256 = seq({oid({0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}), tlv(der::null, {})});
    return seq({tlv(der::integer, {3}), seq({data_type, tlv(der::context_0, tlv(der::octet_string, auth_safe))}),
                seq({seq({sha256, tlv(der::octet_string, mac)}), tlv(der::octet_string, salt), tlv(der::integer, {1})})});
}

// Where the MAC's digest is in a file, and the file with it made again after the authSafe was
// altered in place.
bytes resealed(const bytes& original, const bytes& altered, std::string_view password)
{
    const detail::pkcs12_impl::framed f = detail::pkcs12_impl::frame(original, "original", 1000000);
    REQUIRE(f.mac);
    const auto at = static_cast<std::size_t>(f.auth_safe.data() - original.data());
    const auto digest_at = static_cast<std::size_t>(f.mac->digest.data() - original.data());
    const mtls::secure_bytes pass = detail::pkcs12_impl::bmp_password(password, "test");
    const mtls::secure_bytes key = detail::pkcs12_impl::derive_key<crypto>(
        f.mac->hash, {pass.data(), pass.size()}, f.mac->salt, 3, f.mac->iterations,
        detail::pkcs12_impl::output_size(f.mac->hash));
    const bytes mac = detail::pkcs12_impl::hmac<crypto>(f.mac->hash, {key.data(), key.size()},
                                                        detail::byte_view(altered).subspan(at, f.auth_safe.size()));
    bytes out = altered;
    std::copy(mac.begin(), mac.end(), out.begin() + static_cast<std::ptrdiff_t>(digest_at));
    return out;
}

} // namespace

TEST_CASE("pkcs12: the guide's deviceKeystore.pkcs12 gives the key and chain wolfSSL reads from it")
{
    const guide_keystores& g = guide_files();
    const bytes file = g.bytes("deviceKeystore.pkcs12");
    CHECK(detail::looks_like_pkcs12(file));
    CHECK(detail::jks_format(file) == detail::java_keystore_format::none);

    const detail::pkcs12_store store = detail::open_pkcs12<crypto>(file, g.store_password, "deviceKeystore.pkcs12");
    CHECK(store.integrity_checked);
    // openssl: the certificates encrypted, then the key shrouded in a SafeContents in clear.
    CHECK(store.decrypted.size() == 1);
    std::size_t keys = 0, certificates = 0;
    for (const detail::pkcs12_bag& b : store.bags) {
        keys += b.kind == detail::pkcs12_bag_kind::private_key ? 1 : 0;
        certificates += b.kind == detail::pkcs12_bag_kind::certificate ? 1 : 0;
        CHECK_FALSE(b.trusted);
    }
    CHECK(keys == 1);
    CHECK(certificates == 2);

    const mtls::keystore_contents ours =
        detail::read_pkcs12_keystore<crypto>(file, g.store_password, "deviceKeystore.pkcs12");
    const mtls::keystore_contents wolfssl = crypto::read_keystore(file, g.store_password, "deviceKeystore.pkcs12");
    CHECK(key_bytes(ours.private_key) == key_bytes(wolfssl.private_key));
    const std::vector<bytes> chain = pem_chain(g / "deviceCertChain.pem");
    REQUIRE(chain.size() == 2);
    CHECK(ours.certificate == chain[0]);
    CHECK(ours.others == std::vector<bytes>{chain[1]});
    CHECK(detail::pkcs12_trusted_certificates(store).empty());
    CHECK_ERROR(detail::read_pkcs12_truststore<crypto>(file, g.store_password, "deviceKeystore.pkcs12"),
                errc::truststore_empty,
                "deviceKeystore.pkcs12: no trusted certificate entry (keytool -importcert adds one); it holds the "
                "private key entries \"devicekeyentry\": a keystore, not a truststore");
}

TEST_CASE("pkcs12: keytool 17's own PKCS#12 keystore (-importkeystore -deststoretype PKCS12)")
{
    const guide_keystores& g = guide_files();
    const bytes file = g.bytes("keytoolKeystore.p12");
    const detail::pkcs12_store store = detail::open_pkcs12<crypto>(file, g.store_password, "keytoolKeystore.p12");
    // keytool: the key shrouded in clear, then the certificates encrypted (PBES2, AES-256).
    CHECK(store.decrypted.size() == 1);
    const detail::pkcs12_bag& key = detail::pkcs12_key_entry(store, std::nullopt);
    CHECK(key.alias == "devicekeyentry");
    CHECK(key.shrouded);
    CHECK_FALSE(key.local_key_id.empty());

    const mtls::keystore_contents ours = detail::pkcs12_private_key<crypto>(store, key, g.store_password);
    const mtls::keystore_contents wolfssl = crypto::read_keystore(file, g.store_password, "keytoolKeystore.p12");
    CHECK(key_bytes(ours.private_key) == key_bytes(wolfssl.private_key));
    const std::vector<bytes> chain = pem_chain(g / "deviceCertChain.pem");
    CHECK(ours.certificate == chain[0]);
    CHECK(ours.others == std::vector<bytes>{chain[1]});
}

TEST_CASE("pkcs12: keytool's truststores hold the server certificate as a trusted certificate entry")
{
    const guide_keystores& g = guide_files();
    const std::vector<bytes> server = pem_chain(g / "serverCertificate.pem");
    REQUIRE(server.size() == 1);
    // The guide's "JKS" truststore command writes PKCS#12 under keytool 17: the content decides.
    for (const char* name : {"deviceTruststore.pkcs12", "deviceTruststore.jks"}) {
        CAPTURE(name);
        const bytes file = g.bytes(name);
        CHECK(detail::looks_like_pkcs12(file));
        const detail::pkcs12_store store = detail::open_pkcs12<crypto>(file, g.trust_password, name);
        REQUIRE(store.bags.size() == 1);
        CHECK(store.bags[0].kind == detail::pkcs12_bag_kind::certificate);
        CHECK(store.bags[0].trusted);
        CHECK(store.bags[0].alias == "servercertificate");
        CHECK(detail::read_pkcs12_truststore<crypto>(file, g.trust_password, name) == server);
        CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(file, g.trust_password, name), errc::keystore_alias_missing,
                    "no private key entry (trusted certificate entries only: \"servercertificate\"): a truststore, "
                    "not a keystore");
        CHECK_ERROR(detail::open_pkcs12<crypto>(file, g.store_password, name), errc::keystore_password_wrong,
                    "its integrity MAC (HMAC-SHA-256) does not match this store password");
    }
}

TEST_CASE("pkcs12: the guide's keystore with the server certificate added (step 5) holds both")
{
    const guide_keystores& g = guide_files();
    const bytes file = g.bytes("combinedKeystore.pkcs12");
    const std::vector<bytes> chain = pem_chain(g / "deviceCertChain.pem");
    const std::vector<bytes> server = pem_chain(g / "serverCertificate.pem");
    const mtls::keystore_contents contents =
        detail::read_pkcs12_keystore<crypto>(file, g.store_password, "combinedKeystore.pkcs12");
    CHECK(contents.certificate == chain[0]);
    CHECK(contents.others == std::vector<bytes>{chain[1]}); // the server's certificate is no part of the chain
    CHECK(detail::read_pkcs12_truststore<crypto>(file, g.store_password, "combinedKeystore.pkcs12") == server);
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(file, g.store_password, "combinedKeystore.pkcs12",
                                                     "servercertificate"),
                errc::keystore_alias_missing,
                "\"servercertificate\" is a trusted certificate entry, not a private key entry; its private key "
                "entries: \"devicekeyentry\"");
}

TEST_CASE("pkcs12: two keys need an alias, a missing one lists them, and aliases match whatever their case")
{
    const guide_keystores& g = guide_files();
    const bytes file = g.bytes("two.p12");
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(file, g.store_password, "two.p12"), errc::keystore_alias_missing,
                "two.p12: 2 private key entries and no alias to choose one; its private key entries: ");
    const auto e = mtls::test::thrown_by([&] { detail::read_pkcs12_keystore<crypto>(file, g.store_password, "two.p12"); });
    REQUIRE(e);
    CHECK(mtls::test::contains(e->detail(), "\"first-device\""));
    CHECK(mtls::test::contains(e->detail(), "\"second-device\""));
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(file, g.store_password, "two.p12", "devicekeyentry"),
                errc::keystore_alias_missing, "two.p12: no entry \"devicekeyentry\"; its private key entries: ");

    const mtls::keystore_contents first =
        detail::read_pkcs12_keystore<crypto>(file, g.store_password, "two.p12", "first-device");
    CHECK(first.certificate == pem_chain(g / "deviceCertChain.pem")[0]);
    const mtls::keystore_contents second =
        detail::read_pkcs12_keystore<crypto>(file, g.store_password, "two.p12", "Second-DEVICE");
    CHECK(second.certificate ==
          pem_chain(mtls::test::keystore_platform().chain(guide_keystores::second_device))[0]);
}

TEST_CASE("pkcs12: a wrong store password is named before anything is decrypted")
{
    const guide_keystores& g = guide_files();
    const bytes file = g.bytes("deviceKeystore.pkcs12");
    CHECK_ERROR(detail::open_pkcs12<crypto>(file, "store-pass-2", "f.p12"), errc::keystore_password_wrong,
                "f.p12: its integrity MAC (HMAC-SHA-256) does not match this store password (keytool's -storepass, "
                "openssl pkcs12's -passout)");
    CHECK_ERROR(detail::open_pkcs12<crypto>(file, "", "f.p12"), errc::keystore_password_wrong, "integrity MAC");
    CHECK_ERROR(detail::open_pkcs12<crypto>(file, "\xFF\xFE", "f.p12"), errc::invalid_argument, "not UTF-8");
    // An iteration count above the limit is refused before any derivation runs.
    CHECK_ERROR(detail::open_pkcs12<crypto>(file, g.store_password, "f.p12", 100), errc::keystore_format_unsupported,
                "f.p12: its MAC claims 2048 iterations; at most 100 are run");
}

TEST_CASE("pkcs12: a key under a password of its own, apart from the store's")
{
    const auto& s = stores();
    const bytes device = s["ec.der"];
    const bytes id{1, 2, 3, 4};
    const bytes file = pfx({in_clear({bag(2, s["ec-keypass.epk"], {"devicekeyentry", id, false}),
                                      cert_bag(device, {"devicekeyentry", id, false})})},
                           "storepass1");
    const mtls::keystore_contents contents =
        detail::read_pkcs12_keystore<crypto>(file, "storepass1", "keypass.p12", std::nullopt, "keypass22");
    CHECK(key_bytes(contents.private_key) == s["ec.pk8"]);
    CHECK(contents.certificate == device);
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(file, "storepass1", "keypass.p12"), errc::key_password_wrong,
                "keypass.p12: private key 1 (\"devicekeyentry\"): the key password does not decrypt it");
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(file, "keypass22", "keypass.p12", std::nullopt, "keypass22"),
                errc::keystore_password_wrong, "keypass.p12: its integrity MAC");
}

TEST_CASE("pkcs12: openssl's other algorithms are read or named")
{
    const auto& s = stores();
    for (const char* name : {"small.p12", "des3.p12", "aes128.p12", "nomac.p12"}) {
        CAPTURE(name);
        const mtls::keystore_contents contents = detail::read_pkcs12_keystore<crypto>(s[name], "storepass1", name);
        CHECK(key_bytes(contents.private_key) == s["ec.pk8"]);
        CHECK(contents.certificate == s["ec.der"]);
        CHECK(contents.others == std::vector<bytes>{s["ca.der"]});
    }
    CHECK_FALSE(detail::open_pkcs12<crypto>(s["nomac.p12"], "storepass1", "nomac.p12").integrity_checked);
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(s["legacy.p12"], "storepass1", "legacy.p12"),
                errc::keystore_format_unsupported,
                "legacy.p12: ContentInfo 1 of its AuthenticatedSafe is encrypted with pbeWithSHAAnd40BitRC2-CBC "
                "(openssl pkcs12 -legacy");
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(s["aes192.p12"], "storepass1", "aes192.p12"),
                errc::keystore_format_unsupported, "PBES2 with the cipher 2.16.840.1.101.3.4.1.22");
    // A file of certificates alone (-nokeys) is no keystore, and no truststore for Java either.
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(s["nokeys.p12"], "storepass1", "nokeys.p12"),
                errc::keystore_alias_missing, "no private key entry (2 certificates only");
    CHECK_ERROR(detail::read_pkcs12_truststore<crypto>(s["nokeys.p12"], "storepass1", "nokeys.p12"),
                errc::truststore_empty, "its 2 certificates lack Java's trusted-key-usage attribute");
}

TEST_CASE("pkcs12: every truncation of a real keystore and truststore is refused as malformed")
{
    std::size_t tried = 0;
    const guide_keystores& g = guide_files();
    const bytes small = stores()["small.p12"];
    const bytes trust = g.bytes("deviceTruststore.pkcs12");
    for (const bytes* file : {&small, &trust}) {
        for (std::size_t n = 0; n < file->size(); ++n, ++tried) {
            const bytes prefix(file->begin(), file->begin() + static_cast<std::ptrdiff_t>(n));
            const auto code = outcome([&] { (void)detail::open_pkcs12<crypto>(prefix, "storepass1", "cut.p12"); });
            if (code != std::error_code(errc::keystore_malformed)) {
                CAPTURE(n);
                FAIL_CHECK((code ? code->message() : "read"));
            }
        }
    }
    CHECK(tried == small.size() + trust.size());
}

TEST_CASE("pkcs12: every flipped byte of a real keystore is refused, and with its MAC made again, named")
{
    const bytes file = stores()["small.p12"];
    const detail::pkcs12_impl::framed f = detail::pkcs12_impl::frame(file, "small.p12", 1);
    const auto auth_safe_at = static_cast<std::size_t>(f.auth_safe.data() - file.data());
    const std::set<std::error_code> before_mac{errc::keystore_malformed, errc::keystore_password_wrong,
                                               errc::keystore_format_unsupported};
    const std::set<std::error_code> after_mac{errc::keystore_malformed,    errc::keystore_format_unsupported,
                                              errc::key_password_wrong,    errc::keystore_alias_missing,
                                              errc::private_key_malformed, errc::no_certificate};
    const auto read = [](const bytes& b) {
        return outcome([&] { (void)detail::read_pkcs12_keystore<crypto>(b, "storepass1", "f.p12"); });
    };
    std::size_t tried = 0, read_after_reseal = 0;
    for (std::size_t i = 0; i < file.size(); ++i) {
        for (const unsigned char mask : {0x01, 0x80, 0xFF}) {
            ++tried;
            bytes altered = file;
            altered[i] ^= mask;
            const auto code = read(altered);
            if (!code || before_mac.count(*code) == 0) {
                CAPTURE(i);
                FAIL_CHECK((code ? code->message() : "read"));
            }
            if (i < auth_safe_at || i >= auth_safe_at + f.auth_safe.size())
                continue;
            const auto after = read(resealed(file, altered, "storepass1"));
            if (!after)
                ++read_after_reseal; // an attribute's bytes, a certificate's signature: nothing the reader judges
            else if (after_mac.count(*after) == 0) {
                CAPTURE(i);
                FAIL_CHECK(after->message());
            }
        }
    }
    CHECK(tried == 3 * file.size());
    CHECK(read_after_reseal > 0);
}

TEST_CASE("pkcs12: crafted lengths, counts and nesting are refused before anything is allocated for them")
{
    const auto& s = stores();
    const bytes device = s["ec.der"];
    const auto open = [](const bytes& file) { return detail::open_pkcs12<crypto>(file, "pw", "crafted.p12"); };

    // A SafeContents claiming 4 GiB, and a million bags claimed in a few bytes.
    const bytes huge = seq({data_type, tlv(der::context_0, tlv(der::octet_string, {0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF}))});
    CHECK_ERROR(open(pfx({huge})), errc::keystore_malformed, "crafted.p12: a SafeContents is not a SEQUENCE of bags");
    const bytes million = seq({data_type, tlv(der::context_0, tlv(der::octet_string, {0x30, 0x83, 0x0F, 0x42, 0x40, 0x30, 0x00}))});
    CHECK_ERROR(open(pfx({million})), errc::keystore_malformed, "crafted.p12: a SafeContents is not a SEQUENCE of bags");
    // A certificate bag claiming more than the file holds.
    const bytes long_certificate = in_clear({bag(3, seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x16, 0x01}),
                                                        tlv(der::context_0, {0x04, 0x84, 0x7F, 0xFF, 0xFF, 0xFF})}))});
    CHECK_ERROR(open(pfx({long_certificate})), errc::keystore_malformed, "bag 1 (a certificate) is not a CertBag");
    // Iteration counts of 2^40, for the MAC and for an encryption, refused before a round is run.
    const bytes auth_safe = seq({in_clear({cert_bag(device)})});
    const bytes sha256 = seq({oid({0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}), tlv(der::null, {})});
    const bytes many = tlv(der::integer, {0x01, 0x00, 0x00, 0x00, 0x00, 0x00});
    const auto with_mac = [&](const bytes& algorithm, const bytes& iterations) {
        return seq({tlv(der::integer, {3}), seq({data_type, tlv(der::context_0, tlv(der::octet_string, auth_safe))}),
                    seq({seq({algorithm, tlv(der::octet_string, bytes(32, 0))}), tlv(der::octet_string, bytes(8, 1)),
                         iterations})});
    };
    CHECK_ERROR(open(with_mac(sha256, many)), errc::keystore_format_unsupported,
                "crafted.p12: its MAC claims 1099511627776 iterations; at most 5000000 are run");
    CHECK_ERROR(open(with_mac(sha256, tlv(der::integer, {0x00}))), errc::keystore_malformed,
                "its MAC's iteration count is not a positive number");
    CHECK_ERROR(open(with_mac(seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0E})}), tlv(der::integer, {1}))),
                errc::keystore_format_unsupported, "PBMAC1");
    const bytes pbes2 = seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D}),
                             seq({seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C}),
                                       seq({tlv(der::octet_string, bytes(8, 2)), many})}),
                                  seq({oid({0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A}),
                                       tlv(der::octet_string, bytes(16, 3))})})});
    const bytes encrypted = seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x06}),
                                 tlv(der::context_0, seq({tlv(der::integer, {0}),
                                                          seq({data_type, pbes2, tlv(der::implicit_0, bytes(32, 4))})}))});
    CHECK_ERROR(open(seq({tlv(der::integer, {3}),
                          seq({data_type, tlv(der::context_0, tlv(der::octet_string, seq({encrypted})))})})),
                errc::keystore_format_unsupported,
                "ContentInfo 1 of its AuthenticatedSafe's encryption claims 1099511627776 iterations");
    // SafeContents nested five deep.
    bytes nested = seq({cert_bag(device)});
    for (int i = 0; i < 5; ++i)
        nested = seq({bag(6, nested)});
    const bytes deep = seq({data_type, tlv(der::context_0, tlv(der::octet_string, nested))});
    CHECK_ERROR(open(pfx({deep})), errc::keystore_malformed, "nests SafeContents more than 4 deep");
    // Four deep is read.
    bytes four = seq({cert_bag(device, {"ok", {}, true})});
    for (int i = 0; i < 4; ++i)
        four = seq({bag(6, four)});
    CHECK(detail::pkcs12_trusted_certificates(open(pfx({seq({data_type, tlv(der::context_0, tlv(der::octet_string, four))})}))) ==
          std::vector<bytes>{device});
}

TEST_CASE("pkcs12: each defect of a crafted file is named")
{
    const auto& s = stores();
    const bytes device = s["ec.der"];
    const bytes ca = s["ca.der"];
    const bytes id{9, 9};
    const auto keystore = [](const bytes& file) {
        return detail::read_pkcs12_keystore<crypto>(file, "pw", "crafted.p12");
    };

    // A key without localKeyId is matched to its certificate by public key; the chain follows
    // issuers, whatever the order of the bags.
    const mtls::keystore_contents matched = keystore(pfx({in_clear({cert_bag(ca), bag(1, s["ec.pk8"]), cert_bag(device)})}));
    CHECK(key_bytes(matched.private_key) == s["ec.pk8"]);
    CHECK(matched.certificate == device);
    CHECK(matched.others == std::vector<bytes>{ca});

    CHECK_ERROR(keystore(pfx({in_clear({bag(1, s["ec.pk8"], {"k", id, false})})})), errc::no_certificate,
                "crafted.p12: private key 1 (\"k\") has no certificate in the file");
    CHECK_ERROR(keystore(pfx({in_clear({bag(1, s["ed.pk8"], {"ed", id, false}), cert_bag(device, {"ed", id, false})})})),
                errc::private_key_malformed, "private key 1 (\"ed\") is a key of algorithm 1.3.101.112");
    CHECK_ERROR(keystore(pfx({in_clear({bag(1, s["ec.pk8"], {"same", {}, false}), bag(1, s["ec.pk8"], {"Same", {}, false})})})),
                errc::keystore_alias_missing, "2 private key entries and no alias");
    CHECK_ERROR(detail::read_pkcs12_keystore<crypto>(
                    pfx({in_clear({bag(1, s["ec.pk8"], {"same", {}, false}), bag(1, s["ec.pk8"], {"Same", {}, false})})}),
                    "pw", "crafted.p12", "SAME"),
                errc::keystore_malformed, "private key 1 (\"same\") and private key 2 (\"Same\") have the same alias");
    CHECK_ERROR(keystore(pfx({in_clear({})})), errc::keystore_alias_missing, "no private key entry: the keystore is empty");
    CHECK_ERROR(keystore(pfx({in_clear({cert_bag({0x30, 0x03, 0x02, 0x01, 0x01, 0x00})})})), errc::keystore_malformed,
                "bag 1's certificate is not a DER certificate");
    CHECK_ERROR(keystore(pfx({in_clear({bag(1, bytes{0x04, 0x00})})})), errc::keystore_malformed,
                "bag 1 (a private key) holds no key");
    CHECK_ERROR(keystore(pfx({in_clear({seq({oid({0x2A, 0x03}), tlv(der::context_0, {0x05, 0x00})})})})),
                errc::keystore_malformed, "bag 1 is of type 1.2.3, not a PKCS#12 bag");
    // Public-key privacy, and content types that are no ContentInfo of a PKCS#12 file.
    const bytes enveloped = seq({oid({0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03}), tlv(der::context_0, seq({}))});
    CHECK_ERROR(keystore(pfx({enveloped})), errc::keystore_format_unsupported, "(envelopedData), not with a password");
    // The PFX itself: bytes after it, another version, BER.
    bytes trailing = pfx({in_clear({})});
    trailing.push_back(0);
    CHECK_ERROR(keystore(trailing), errc::keystore_malformed, "crafted.p12: 1 bytes after its PFX");
    const bytes ber{0x30, 0x80, 0x02, 0x01, 0x03, 0x00, 0x00};
    CHECK(detail::looks_like_pkcs12(ber));
    CHECK_ERROR(keystore(ber), errc::keystore_format_unsupported, "BER with indefinite lengths");
    CHECK_ERROR(keystore(bytes{0x30, 0x03, 0x02, 0x01, 0x03}), errc::keystore_malformed,
                "its PFX is not a version and a ContentInfo");
    CHECK_FALSE(detail::looks_like_pkcs12(bytes{0x30, 0x03, 0x02, 0x01, 0x02}));
    CHECK_ERROR(keystore(bytes{0x30, 0x03, 0x02, 0x01, 0x02}), errc::keystore_malformed, "not a PKCS#12 file");
}
