// The Java KeyStore reader (detail/jks.hpp) on keystores made as the platform's guide makes them:
// openssl's key and chain exported as PKCS#12 with `-name devicekeyentry`, converted by
// `keytool -importkeystore -deststoretype JKS` (an EC and an RSA key, a key password of its own,
// two key entries), truststores by `keytool -importcert -storetype JKS`, a JCEKS. The key read
// is openssl's PKCS#8 byte for byte, the chain its certificates; each refusal has its code and
// cause; every truncation and flipped byte gives a named error; crafted files with counts and
// lengths past the end are refused before anything is allocated for them.
#include "c8y/mtls/detail/jks.hpp"
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
#include "support/local_platform.hpp"

namespace fs = std::filesystem;
namespace mtls = c8y::mtls;
namespace detail = c8y::mtls::detail;
using mtls::errc;
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

// Keys, certificates and keystores made once for this program by openssl and keytool.
struct keytool_stores {
    fs::path dir = fs::path(C8Y_TEST_WORK_DIR) / "jks";

    keytool_stores()
    {
        fs::remove_all(dir);
        fs::create_directories(dir);
        const std::string script = R"(
ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'
openssl req -x509 $ec -keyout ca.key -subj /CN=jks-test-ca -days 30 -out ca.pem
openssl req -x509 $ec -keyout other.key -subj /CN=jks-other-ca -days 30 -out other.pem
openssl req -new $ec -keyout ec.key -subj /CN=jks-ec-device -out ec.csr
openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 -out ec.pem
openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -subj /CN=jks-rsa-device -out rsa.csr
openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -set_serial 3 -days 30 -out rsa.pem
for c in ca other ec rsa; do openssl x509 -in $c.pem -outform DER -out $c.der; done
for k in ec rsa; do openssl pkcs8 -topk8 -nocrypt -in $k.key -outform DER -out $k.pk8; done
cat ec.pem ca.pem > ec-chain.pem
cat rsa.pem ca.pem > rsa-chain.pem
openssl pkcs12 -export -name devicekeyentry -inkey ec.key -in ec-chain.pem -out ec.p12 -passout pass:storepass1
openssl pkcs12 -export -name devicekeyentry -inkey rsa.key -in rsa-chain.pem -out rsa.p12 -passout pass:storepass1
kt='keytool -noprompt'
from='-srcstoretype PKCS12 -srcstorepass storepass1'
to='-deststoretype JKS -deststorepass storepass1'
$kt -importkeystore -srckeystore ec.p12 $from -destkeystore deviceKeystore.jks $to
$kt -importkeystore -srckeystore rsa.p12 $from -srcalias devicekeyentry -destkeystore rsa.jks $to -destkeypass keypass22
$kt -importkeystore -srckeystore ec.p12 $from -srcalias devicekeyentry -destalias ec-device -destkeystore two.jks $to
$kt -importkeystore -srckeystore rsa.p12 $from -srcalias devicekeyentry -destalias rsa-device -destkeystore two.jks $to
$kt -importcert -alias servercertificate -file ca.pem -keystore truststore.jks -storetype JKS -storepass trustpass1
$kt -importcert -alias othercertificate -file other.pem -keystore truststore.jks -storetype JKS -storepass trustpass1
cp deviceKeystore.jks mixed.jks
$kt -importcert -alias servercertificate -file ca.pem -keystore mixed.jks -storetype JKS -storepass storepass1
$kt -importkeystore -srckeystore ec.p12 $from -destkeystore ec.jceks -deststoretype JCEKS -deststorepass storepass1
)";
        int code = 0;
        const std::string output =
            run_command("cd " + shell_quote(dir.string()) + " && sh -e -c " + shell_quote(script) + " 2>&1", &code);
        if (code != 0)
            FAIL("making the keystores failed: " << output);
    }

    bytes operator[](const char* file) const { return read_bytes(dir / file); }
};

const keytool_stores& stores()
{
    static const keytool_stores made;
    return made;
}

// The code of the c8y::mtls::error that `f` throws, or nullopt when it returns.
template <class F>
std::optional<std::error_code> outcome(F&& f)
{
    if (const auto e = mtls::test::thrown_by(f))
        return e->code();
    return std::nullopt;
}

// ---- crafted keystores, sealed with the digest JavaKeyStore writes ---------------------------

struct writer {
    bytes out;
    writer& u16(std::uint32_t v) { return number(v, 2); }
    writer& u32(std::uint64_t v) { return number(v, 4); }
    writer& u64(std::uint64_t v) { return number(v, 8); }
    writer& raw(const bytes& b)
    {
        out.insert(out.end(), b.begin(), b.end());
        return *this;
    }
    writer& text(std::string_view s)
    {
        u16(static_cast<std::uint32_t>(s.size()));
        out.insert(out.end(), s.begin(), s.end());
        return *this;
    }
    writer& certificate(const bytes& der)
    {
        text("X.509");
        u32(der.size());
        return raw(der);
    }
    writer& number(std::uint64_t v, int size)
    {
        for (int i = size - 1; i >= 0; --i)
            out.push_back(static_cast<unsigned char>(v >> (8 * i)));
        return *this;
    }
};

// A password as Java's chars, big-endian: ASCII only here.
bytes java_chars(std::string_view password)
{
    bytes out;
    for (const char c : password) {
        out.push_back(0);
        out.push_back(static_cast<unsigned char>(c));
    }
    return out;
}

bytes sha1(const bytes& data) { return crypto::digest(mtls::hash_function::sha1, data); }

bytes concat(std::initializer_list<bytes> parts)
{
    bytes out;
    for (const bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// `body` (magic to the last entry) followed by its integrity digest under `password_chars`.
bytes sealed_chars(const bytes& body, const bytes& password_chars)
{
    const std::string_view whitener = "Mighty Aphrodite";
    return concat({body, sha1(concat({password_chars, bytes(whitener.begin(), whitener.end()), body}))});
}

bytes sealed(const bytes& body, std::string_view password) { return sealed_chars(body, java_chars(password)); }

// A file's digest made again after its body was changed.
bytes resealed(const bytes& file, std::string_view password)
{
    return sealed(bytes(file.begin(), file.end() - 20), password);
}

// KeyProtector's encryption, as sun.security.provider.KeyProtector.protect does it, as an
// EncryptedPrivateKeyInfo; `oid` replaced to try another algorithm.
bytes protect(const bytes& plain, std::string_view password, const bytes& oid = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x2A,
                                                                                  0x02, 0x11, 0x01, 0x01})
{
    const bytes pass = java_chars(password);
    const bytes salt(20, 0x5A);
    bytes data = salt;
    bytes block = salt;
    for (std::size_t at = 0; at < plain.size(); at += 20) {
        block = sha1(concat({pass, block}));
        for (std::size_t i = 0; i < 20 && at + i < plain.size(); ++i)
            data.push_back(static_cast<unsigned char>(plain[at + i] ^ block[i]));
    }
    data = concat({data, sha1(concat({pass, plain}))});
    bytes algorithm;
    detail::der::append(algorithm, detail::der::object_identifier, oid);
    detail::der::append(algorithm, detail::der::null, bytes{});
    bytes fields;
    detail::der::append(fields, detail::der::sequence, algorithm);
    detail::der::append(fields, detail::der::octet_string, data);
    bytes info;
    detail::der::append(info, detail::der::sequence, fields);
    return info;
}

writer header(std::uint32_t count, std::uint32_t version = 2)
{
    writer w;
    w.u32(0xFEEDFEED).u32(version).u32(count);
    return w;
}

writer& key_entry(writer& w, std::string_view alias, const bytes& protected_key, const std::vector<bytes>& chain)
{
    w.u32(1).text(alias).u64(1700000000000).u32(protected_key.size()).raw(protected_key).u32(chain.size());
    for (const bytes& c : chain)
        w.certificate(c);
    return w;
}

writer& trusted_entry(writer& w, std::string_view alias, const bytes& der)
{
    return w.u32(2).text(alias).u64(1700000000000).certificate(der);
}

} // namespace

TEST_CASE("jks: the guide's deviceKeystore.jks gives openssl's EC key and chain byte for byte")
{
    const auto& s = stores();
    const bytes file = s["deviceKeystore.jks"];
    CHECK(detail::jks_format(file) == detail::java_keystore_format::jks);

    const detail::jks_store store = detail::open_jks<crypto>(file, "storepass1", "deviceKeystore.jks");
    REQUIRE(store.entries.size() == 1);
    CHECK(store.version == 2);
    CHECK(store.entries[0].alias == "devicekeyentry");
    CHECK(store.entries[0].kind == detail::jks_entry_kind::private_key);
    CHECK(store.entries[0].created > std::chrono::sys_days(std::chrono::year(2024) / 1 / 1));
    CHECK(detail::jks_trusted_certificates(store).empty());

    const mtls::keystore_contents contents =
        detail::read_jks_keystore<crypto>(file, "storepass1", "deviceKeystore.jks");
    CHECK(key_bytes(contents.private_key) == s["ec.pk8"]);
    CHECK(contents.certificate == s["ec.der"]);
    CHECK(contents.others == std::vector<bytes>{s["ca.der"]});
}

TEST_CASE("jks: an RSA key under a key password of its own (-destkeypass)")
{
    const auto& s = stores();
    const bytes file = s["rsa.jks"];
    const mtls::keystore_contents contents =
        detail::read_jks_keystore<crypto>(file, "storepass1", "rsa.jks", std::nullopt, "keypass22");
    CHECK(key_bytes(contents.private_key) == s["rsa.pk8"]);
    CHECK(contents.certificate == s["rsa.der"]);
    CHECK(contents.others == std::vector<bytes>{s["ca.der"]});

    // The store password opens the store but not the key; a wrong key password neither.
    CHECK_ERROR(detail::read_jks_keystore<crypto>(file, "storepass1", "rsa.jks"), errc::key_password_wrong,
                "rsa.jks: entry 1 (\"devicekeyentry\"): the key password does not decrypt its private key");
    CHECK_ERROR(detail::read_jks_keystore<crypto>(file, "storepass1", "rsa.jks", "devicekeyentry", "keypass2"),
                errc::key_password_wrong, "-destkeypass");
    // The key password does not open the store.
    CHECK_ERROR(detail::read_jks_keystore<crypto>(file, "keypass22", "rsa.jks", std::nullopt, "keypass22"),
                errc::keystore_password_wrong, "rsa.jks: its integrity digest does not match this store password");
}

TEST_CASE("jks: a wrong store password is told apart from a malformed file")
{
    const bytes file = stores()["deviceKeystore.jks"];
    CHECK_ERROR(detail::open_jks<crypto>(file, "storepass2", "deviceKeystore.jks"), errc::keystore_password_wrong,
                "keytool's -storepass");
    CHECK_ERROR(detail::open_jks<crypto>(file, "", "deviceKeystore.jks"), errc::keystore_password_wrong, "-storepass");
    const bytes cut(file.begin(), file.end() - 1);
    CHECK_ERROR(detail::open_jks<crypto>(cut, "storepass2", "deviceKeystore.jks"), errc::keystore_malformed,
                "the file is cut short or altered");
    CHECK_ERROR(detail::open_jks<crypto>(file, "\xFF\xFE", "deviceKeystore.jks"), errc::invalid_argument,
                "not UTF-8");
}

TEST_CASE("jks: keytool's truststore gives its certificates, in the file's order")
{
    const auto& s = stores();
    const bytes file = s["truststore.jks"];
    const std::vector<bytes> trusted = detail::read_jks_truststore<crypto>(file, "trustpass1", "truststore.jks");
    // keytool writes the entries of its Hashtable: the order is the file's, not the imports'.
    const detail::jks_store store = detail::open_jks<crypto>(file, "trustpass1", "truststore.jks");
    REQUIRE(store.entries.size() == 2);
    REQUIRE(trusted.size() == 2);
    std::set<std::string> aliases;
    for (std::size_t i = 0; i < store.entries.size(); ++i) {
        const auto& e = store.entries[i];
        CAPTURE(e.alias);
        CHECK(e.kind == detail::jks_entry_kind::trusted_certificate);
        CHECK(trusted[i] == s[e.alias == "servercertificate" ? "ca.der" : "other.der"]);
        aliases.insert(e.alias);
    }
    CHECK(aliases == std::set<std::string>{"servercertificate", "othercertificate"});

    // A truststore is no keystore, and a keystore without trusted entries no truststore.
    CHECK_ERROR(detail::read_jks_keystore<crypto>(file, "trustpass1", "truststore.jks"), errc::keystore_alias_missing,
                "no private key entry (trusted certificate entries only: ");
    CHECK_ERROR(detail::read_jks_truststore<crypto>(s["deviceKeystore.jks"], "storepass1", "deviceKeystore.jks"),
                errc::truststore_empty, "deviceKeystore.jks: no trusted certificate entry");
}

TEST_CASE("jks: the guide's keystore with the server certificate added (step 5) holds both")
{
    const auto& s = stores();
    const bytes file = s["mixed.jks"];
    const mtls::keystore_contents contents = detail::read_jks_keystore<crypto>(file, "storepass1", "mixed.jks");
    CHECK(key_bytes(contents.private_key) == s["ec.pk8"]);
    CHECK(contents.certificate == s["ec.der"]);
    CHECK(detail::read_jks_truststore<crypto>(file, "storepass1", "mixed.jks") == std::vector<bytes>{s["ca.der"]});
    CHECK_ERROR(detail::read_jks_keystore<crypto>(file, "storepass1", "mixed.jks", "servercertificate"),
                errc::keystore_alias_missing,
                "\"servercertificate\" is a trusted certificate entry, not a private key entry; its private key "
                "entries: \"devicekeyentry\"");
}

TEST_CASE("jks: a keystore with two keys needs an alias, and a missing one lists them")
{
    const auto& s = stores();
    const bytes file = s["two.jks"];
    CHECK_ERROR(detail::read_jks_keystore<crypto>(file, "storepass1", "two.jks"), errc::keystore_alias_missing,
                "two.jks: 2 private key entries and no alias to choose one");
    const auto e = mtls::test::thrown_by([&] { detail::read_jks_keystore<crypto>(file, "storepass1", "two.jks"); });
    REQUIRE(e);
    CHECK(mtls::test::contains(e->detail(), "\"ec-device\""));
    CHECK(mtls::test::contains(e->detail(), "\"rsa-device\""));
    CHECK_ERROR(detail::read_jks_keystore<crypto>(file, "storepass1", "two.jks", "devicekeyentry"),
                errc::keystore_alias_missing, "two.jks: no entry \"devicekeyentry\"; its private key entries: ");

    const mtls::keystore_contents ec = detail::read_jks_keystore<crypto>(file, "storepass1", "two.jks", "ec-device");
    CHECK(key_bytes(ec.private_key) == s["ec.pk8"]);
    CHECK(ec.certificate == s["ec.der"]);
    // As JavaKeyStore does, aliases match whatever their case.
    const mtls::keystore_contents rsa = detail::read_jks_keystore<crypto>(file, "storepass1", "two.jks", "RSA-Device");
    CHECK(key_bytes(rsa.private_key) == s["rsa.pk8"]);
    CHECK(rsa.certificate == s["rsa.der"]);
}

TEST_CASE("jks: JCEKS is named and refused; PKCS#12 and PEM are not Java keystores")
{
    const auto& s = stores();
    const bytes jceks = s["ec.jceks"];
    CHECK(detail::jks_format(jceks) == detail::java_keystore_format::jceks);
    CHECK_ERROR(detail::read_jks_keystore<crypto>(jceks, "storepass1", "ec.jceks"), errc::keystore_format_unsupported,
                "ec.jceks: a JCEKS keystore (magic 0xCECECECE), not JKS");
    for (const char* other : {"ec.p12", "ca.pem", "ec.pk8"}) {
        CAPTURE(other);
        CHECK(detail::jks_format(s[other]) == detail::java_keystore_format::none);
        CHECK_ERROR(detail::open_jks<crypto>(s[other], "storepass1", other), errc::keystore_malformed,
                    "not a Java keystore");
    }
    CHECK(detail::jks_format(bytes{0xFE, 0xED, 0xFE}) == detail::java_keystore_format::none);
    CHECK(detail::jks_format(bytes{}) == detail::java_keystore_format::none);
}

TEST_CASE("jks: every truncation of a real keystore and truststore is refused as malformed")
{
    const auto& s = stores();
    std::size_t tried = 0;
    for (const char* name : {"deviceKeystore.jks", "truststore.jks"}) {
        const bytes file = s[name];
        const std::string password = name[0] == 'd' ? "storepass1" : "trustpass1";
        for (std::size_t n = 0; n < file.size(); ++n, ++tried) {
            const bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
            const auto code = outcome([&] { detail::read_jks_keystore<crypto>(prefix, password, name); });
            if (code != std::error_code(errc::keystore_malformed)) {
                CAPTURE(n);
                FAIL_CHECK(name << ": " << (code ? code->message() : "read"));
            }
        }
    }
    CHECK(tried == s["deviceKeystore.jks"].size() + s["truststore.jks"].size());
}

TEST_CASE("jks: every flipped byte of a real keystore is refused, and with its digest made again, named")
{
    const auto& s = stores();
    const bytes file = s["deviceKeystore.jks"];
    std::size_t tried = 0;
    // As keytool wrote it: the digest protects every byte, so nothing altered is read.
    const std::set<std::error_code> before_digest{errc::keystore_malformed, errc::keystore_password_wrong,
                                                  errc::keystore_format_unsupported};
    // With the digest made again over the altered bytes, what it protects is judged.
    const std::set<std::error_code> after_digest{errc::keystore_malformed,      errc::keystore_format_unsupported,
                                                 errc::key_password_wrong,      errc::keystore_alias_missing,
                                                 errc::private_key_malformed,   errc::no_certificate};
    std::size_t read_after_reseal = 0;
    for (std::size_t i = 0; i < file.size(); ++i) {
        for (const unsigned char mask : {0x01, 0x80, 0xFF}) {
            ++tried;
            bytes altered = file;
            altered[i] ^= mask;
            const auto code = outcome([&] { detail::read_jks_keystore<crypto>(altered, "storepass1", "f.jks"); });
            if (!code || before_digest.count(*code) == 0) {
                CAPTURE(i);
                FAIL_CHECK((code ? code->message() : "read"));
            }
            if (i + 20 >= file.size())
                continue;
            const bytes again = resealed(altered, "storepass1");
            const auto after = outcome([&] { detail::read_jks_keystore<crypto>(again, "storepass1", "f.jks"); });
            if (!after)
                ++read_after_reseal; // the alias's bytes, the timestamp: nothing the reader judges
            else if (after_digest.count(*after) == 0) {
                CAPTURE(i);
                FAIL_CHECK(after->message());
            }
        }
    }
    CHECK(tried == 3 * file.size());
    CHECK(read_after_reseal > 0);
}

TEST_CASE("jks: crafted counts and lengths past the end are refused before anything is allocated for them")
{
    const bytes ca = stores()["ca.der"];
    // A million entries in a file of a few bytes.
    writer million = header(1000000);
    trusted_entry(million, "a", ca);
    CHECK_ERROR(detail::open_jks<crypto>(sealed(million.out, "pw"), "pw", "million.jks"), errc::keystore_malformed,
                "million.jks: claims 1000000 entries, but the ");
    // A certificate of 4 GiB.
    writer huge = header(1);
    huge.u32(2).text("big").u64(0).text("X.509").u32(0xFFFFFFFF).raw(ca);
    CHECK_ERROR(detail::open_jks<crypto>(sealed(huge.out, "pw"), "pw", "huge.jks"), errc::keystore_malformed,
                "huge.jks: entry 1 (\"big\")'s certificate at byte 40 claims 4294967295 bytes, but ");
    // An alias of 65535 bytes in a small file.
    writer alias = header(1);
    alias.u32(2).u16(0xFFFF).raw(bytes(40, 'a'));
    CHECK_ERROR(detail::open_jks<crypto>(sealed(alias.out, "pw"), "pw", "alias.jks"), errc::keystore_malformed,
                "entry 1's alias at byte 18 claims 65535 bytes");
    // A chain of 4 billion certificates, and a protected key of 4 GiB.
    writer chain = header(1);
    chain.u32(1).text("k").u64(0).u32(4).raw(bytes(4, 0)).u32(0xFFFFFFFF).raw(bytes(60, 0));
    CHECK_ERROR(detail::open_jks<crypto>(sealed(chain.out, "pw"), "pw", "chain.jks"), errc::keystore_malformed,
                "entry 1 (\"k\") claims a chain of 4294967295 certificates");
    writer key = header(1);
    key.u32(1).text("k").u64(0).u32(0xFFFFFFF0).raw(bytes(60, 0));
    CHECK_ERROR(detail::open_jks<crypto>(sealed(key.out, "pw"), "pw", "key.jks"), errc::keystore_malformed,
                "entry 1 (\"k\")'s protected key at byte 31 claims 4294967280 bytes");
}

TEST_CASE("jks: each defect of a crafted keystore is named")
{
    const auto& s = stores();
    const bytes ca = s["ca.der"];
    const bytes device = s["ec.der"];
    const bytes pk8 = s["ec.pk8"];
    const auto check = [](const writer& w, errc code, std::string_view needle) {
        CHECK_ERROR(detail::read_jks_keystore<crypto>(sealed(w.out, "pw"), "pw", "crafted.jks"), code, needle);
    };

    // The reader's own KeyProtector round trip, version 1 without certificate types.
    writer v1 = header(1, 1);
    v1.u32(1).text("v1").u64(0).u32(protect(pk8, "pw").size()).raw(protect(pk8, "pw")).u32(1).u32(device.size()).raw(device);
    const mtls::keystore_contents read = detail::read_jks_keystore<crypto>(sealed(v1.out, "pw"), "pw", "v1.jks");
    CHECK(key_bytes(read.private_key) == pk8);
    CHECK(read.certificate == device);

    writer version = header(0, 3);
    check(version, errc::keystore_format_unsupported, "crafted.jks: JKS version 3 (versions 1 and 2 are read)");
    writer secret = header(1);
    secret.u32(3).text("s").u64(0).raw(bytes(40, 0));
    check(secret, errc::keystore_malformed, "entry 1 at byte 12 is a secret key entry (tag 3), which only JCEKS");
    writer tag = header(1);
    tag.u32(7).text("s").u64(0).raw(bytes(40, 0));
    check(tag, errc::keystore_malformed, "entry 1 at byte 12 has tag 7 (1: private key, 2: trusted certificate)");
    writer type = header(1);
    type.u32(2).text("t").u64(0).text("PGP").u32(ca.size()).raw(ca);
    check(type, errc::keystore_format_unsupported, "entry 1 (\"t\")'s certificate is of type \"PGP\"");
    writer trailing = header(1);
    trusted_entry(trailing, "t", ca).raw(bytes(3, 0));
    check(trailing, errc::keystore_malformed, "3 bytes after the last of its 1 entries, before the digest");
    writer utf = header(1);
    utf.u32(2).u16(2).raw({0xFF, 0x41}).u64(0).certificate(ca);
    check(utf, errc::keystore_malformed, "entry 1's alias at byte 18 is not Java's modified UTF-8");
    writer not_der = header(1);
    trusted_entry(not_der, "t", bytes{0x30, 0x05, 0x01});
    check(not_der, errc::keystore_malformed, "entry 1 (\"t\")'s certificate is not a DER certificate");
    writer twice = header(2);
    trusted_entry(key_entry(twice, "Same", protect(pk8, "pw"), {device}), "same", ca);
    check(twice, errc::keystore_malformed,
          "entry 1 (\"Same\") and entry 2 (\"same\") have the same alias (keytool never writes two)");
    writer other_oid = header(1);
    key_entry(other_oid, "k", protect(pk8, "pw", {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x03}), {device});
    check(other_oid, errc::keystore_format_unsupported,
          "entry 1 (\"k\")'s key is protected by 1.2.840.113549.1.5.3, not Sun's KeyProtector");
    writer short_key = header(1);
    key_entry(short_key, "k", protect({}, "pw"), {device});
    check(short_key, errc::keystore_malformed, "entry 1 (\"k\")'s protected key holds 40 bytes, too few");
    writer not_info = header(1);
    key_entry(not_info, "k", bytes{0x04, 0x01, 0x00}, {device});
    check(not_info, errc::keystore_malformed, "entry 1 (\"k\")'s protected key is not an EncryptedPrivateKeyInfo");
    writer no_chain = header(1);
    key_entry(no_chain, "k", protect(pk8, "pw"), {});
    check(no_chain, errc::no_certificate, "entry 1 (\"k\") has no certificate with its private key");
    writer not_key = header(1);
    key_entry(not_key, "k", protect(bytes(50, 0x30), "pw"), {device});
    check(not_key, errc::private_key_malformed, "entry 1 (\"k\")'s key decrypts, but to no PKCS#8 RSA or EC private key");
    writer empty = header(0);
    check(empty, errc::keystore_alias_missing, "crafted.jks: no private key entry: the keystore is empty");
    CHECK_ERROR(detail::read_jks_truststore<crypto>(sealed(empty.out, "pw"), "pw", "empty.jks"), errc::truststore_empty,
                "empty.jks: no trusted certificate entry");
}

TEST_CASE("jks: aliases in Java's modified UTF-8 and passwords beyond ASCII")
{
    const bytes ca = stores()["ca.der"];
    // U+0000 as C0 80, U+00E9 in two bytes, U+1F600 as a surrogate pair of three bytes each, and
    // an unpaired surrogate.
    writer w = header(1);
    const bytes alias{0xC0, 0x80, 0xC3, 0xA9, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80, 0xED, 0xA0, 0x80};
    w.u32(2).u16(static_cast<std::uint32_t>(alias.size())).raw(alias).u64(0).certificate(ca);
    // "pä😀" as Java's chars: p, U+00E4, the surrogates D83D DE00.
    const bytes chars{0x00, 'p', 0x00, 0xE4, 0xD8, 0x3D, 0xDE, 0x00};
    const bytes file = sealed_chars(w.out, chars);
    const detail::jks_store store = detail::open_jks<crypto>(file, "p\xC3\xA4\xF0\x9F\x98\x80", "utf.jks");
    REQUIRE(store.entries.size() == 1);
    CHECK(store.entries[0].alias == std::string("\0\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBD", 10));
    CHECK_ERROR(detail::open_jks<crypto>(file, "pa\xF0\x9F\x98\x80", "utf.jks"), errc::keystore_password_wrong,
                "utf.jks: ");
}
