// c8y-mtls tests: a corpus of device chains made with the OpenSSL CLI the way the platform guide
// makes them (openssl req -x509 with its v3_ca extensions for CAs, openssl ca with v3_signed for
// devices), each certificate with at most one defect, in an RSA and an EC family.
//
// Needs C8Y_TEST_WORK_DIR and what tests/support/local_platform.hpp needs.
#pragma once

#include <c8y/mtls.hpp>
#include <c8y/mtls/detail/x509_pem.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/local_platform.hpp"

#ifndef C8Y_TEST_WORK_DIR
#error "C8Y_TEST_WORK_DIR must name a directory the tests may write to"
#endif

namespace c8y::mtls::test {

enum class key_family { rsa, ec };

inline const char* family_name(key_family f) { return f == key_family::rsa ? "rsa" : "ec"; }

inline std::string read_text(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The corpus of one key family, made once per test program under C8Y_TEST_WORK_DIR/chain-corpus/.
///
/// Certificates (NAME.pem, keys NAME.key), by what each is for:
///   root, inter, leaf (signed by root), leaf_i (by inter)     the guide's chains
///   leaf_colon, leaf_nocn, leaf_ca, leaf_sha1, leaf_md5 (RSA), leaf_weak (RSA 1024 / secp256k1),
///   leaf_expired, leaf_future, leaf_soon (10 days), leaf_pss (RSA)   one defect each, signed by root
///   inter_v1 + leaf_v1i, root_v1 + leaf_r1                    version 1 CAs
///   inter_noca + leaf_noca, inter_noks + leaf_noks            a signer with CA:FALSE / without keyCertSign
///   root_pl0 + inter_pl + leaf_pl                             pathlen:0 exceeded
///   inter_pl0 + leaf_pl0                                      pathlen:0 respected
///   other_root + leaf_other                                   the root's name, another key (key ids differ)
///   root_noid, root_noid2 + leaf_noid, leaf_noid_ok           no key ids: only the signature tells
///   rogue_root + leaf_rogue                                   a CA nobody uploaded
///   root384 + leaf384 (EC)                                    a P-384 CA, ECDSA with SHA-384
///   other_leaf.key                                            a key of no certificate
///   leaf.p12 (password "keystore-pass"), leaf_enc.key (AES-256, "key-pass")
/// Where the JDK's PKIX validator and RFC 5280 have something to say:
///   leaf_crit, inter_crit + leaf_icrit, root_crit + leaf_rcrit   an unknown critical extension
///   leaf_dup                                                  an extension twice
///   leaf_aia_crit, leaf_aia_bad                               authorityInfoAccess critical / malformed
///   leaf_pathlen                                              pathlen on the device certificate
///   inter_pl0_new + leaf_si0                                  a self-issued intermediate (a key rollover) under pathlen:0
///   inter_pl1 + inter_pl1b + inter_pl1b_new + leaf_si1        the same under pathlen:1, as long as it allows
///   inter_upl0 + leaf_upl0                                    a CA under a pathlen:0 intermediate
///   inter_bcnc + leaf_bcnc                                    a CA whose basicConstraints is not critical
///   leaf_kcs, leaf_v1, leaf_odd (RSA 2050)                    keyCertSign on a device; version 1; an odd modulus
class chain_corpus {
public:
    explicit chain_corpus(key_family family)
        : family_(family), dir_(std::filesystem::path(C8Y_TEST_WORK_DIR) / "chain-corpus" / family_name(family))
    {
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        std::ofstream(dir_ / "ca.cnf") << config;
        std::ofstream(dir_ / "make.sh") << script();
        run_command("cd " + shell_quote(dir_.string()) + " && sh -e make.sh 2>&1");
    }

    key_family family() const { return family_; }
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path pem(const std::string& name) const { return dir_ / (name + ".pem"); }
    std::filesystem::path key(const std::string& name) const { return dir_ / (name + ".key"); }

    /// The DER of the named certificates, in the order given.
    std::vector<der_certificate> der(const std::vector<std::string>& names) const
    {
        std::vector<der_certificate> out;
        for (const std::string& name : names)
            for (auto& d : detail::pem_certificates(read_text(pem(name)), name))
                out.push_back(std::move(d));
        return out;
    }

    /// The DER private key of a corpus key file, as the credentials loaders give it.
    secure_bytes private_key(const std::string& name) const
    {
        return detail::private_key_from_pem<default_crypto>(read_text(key(name)), {}, name);
    }

    /// Writes the named certificates, concatenated, to a PEM file and returns its path.
    std::filesystem::path bundle(const std::string& file, const std::vector<std::string>& names) const
    {
        const std::filesystem::path out = dir_ / (file + ".bundle.pem");
        std::ofstream o(out, std::ios::binary);
        for (const std::string& name : names)
            o << read_text(pem(name));
        return out;
    }

    /// The chains every long-chain test uses: leaf, 98 intermediates, root (made once, EC).
    static const std::vector<der_certificate>& chain_of_100()
    {
        static const std::vector<der_certificate> chain = [] {
            const std::filesystem::path d = std::filesystem::path(C8Y_TEST_WORK_DIR) / "chain-corpus" / "long";
            std::filesystem::remove_all(d);
            std::filesystem::create_directories(d);
            std::ofstream(d / "ca.cnf") << config;
            run_command("cd " + shell_quote(d.string()) + " && sh -e -c " + shell_quote(long_chain_script) + " 2>&1");
            return detail::pem_certificates(read_text(d / "chain.pem"), "chain.pem");
        }();
        return chain;
    }

private:
    // The guide's configuration (caConfig.cnf) reduced to what signing needs, plus one extension
    // section per defect. openssl ca keeps its database in the corpus directory.
    static constexpr const char* config = R"([ ca ]
default_ca = CA_default

[ CA_default ]
dir               = .
database          = $dir/index.txt
serial            = $dir/serial
new_certs_dir     = $dir/issued
default_md        = sha256
default_days      = 365
policy            = policy_any
unique_subject    = no

[ policy_any ]
organizationName  = optional
commonName        = optional

[ req ]
distinguished_name  = req_distinguished_name
string_mask         = utf8only
default_md          = sha256

[ req_distinguished_name ]

# The guide's sections.
[ v3_ca ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true, pathlen:10
keyUsage = digitalSignature, cRLSign, keyCertSign

[ v3_signed ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = nonRepudiation, digitalSignature, keyEncipherment

# Variants, one defect (or one limit) each.
[ v3_ca_pathlen0 ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true, pathlen:0
keyUsage = digitalSignature, cRLSign, keyCertSign

[ v3_ca_no_keycertsign ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true
keyUsage = digitalSignature, cRLSign

[ v3_signer_not_ca ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:false
keyUsage = digitalSignature, keyCertSign

[ v3_signed_ca ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:true
keyUsage = digitalSignature, keyCertSign

# OpenSSL 3 adds key identifiers unless told not to.
[ v3_ca_no_ids ]
subjectKeyIdentifier = none
authorityKeyIdentifier = none
basicConstraints = critical, CA:true
keyUsage = digitalSignature, cRLSign, keyCertSign

[ v3_signed_no_ids ]
subjectKeyIdentifier = none
authorityKeyIdentifier = none
basicConstraints = critical, CA:false
keyUsage = digitalSignature, keyEncipherment

# What the JDK's PKIX validator and RFC 5280 judge: critical extensions it does not process, a
# critical or malformed authorityInfoAccess, pathlen on a device, a non-critical CA flag.
[ v3_signed_critical_ext ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = nonRepudiation, digitalSignature, keyEncipherment
1.3.6.1.4.1.99999.1 = critical, ASN1:UTF8String:must-understand

[ v3_ca_critical_ext ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true, pathlen:10
keyUsage = digitalSignature, cRLSign, keyCertSign
1.3.6.1.4.1.99999.1 = critical, ASN1:UTF8String:must-understand

[ v3_signed_critical_aia ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = nonRepudiation, digitalSignature, keyEncipherment
authorityInfoAccess = critical, caIssuers;URI:http://ca.example/ca.crt

[ v3_signed_bad_aia ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = nonRepudiation, digitalSignature, keyEncipherment
1.3.6.1.5.5.7.1.1 = ASN1:UTF8String:not-an-access-description

[ v3_signed_pathlen ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false, pathlen:0
keyUsage = nonRepudiation, digitalSignature, keyEncipherment

[ v3_signed_keycertsign ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = digitalSignature, keyCertSign

[ v3_ca_pathlen1 ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true, pathlen:1
keyUsage = digitalSignature, cRLSign, keyCertSign

[ v3_ca_bc_not_critical ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = CA:true
keyUsage = digitalSignature, cRLSign, keyCertSign

# Two extensions of one OID: OpenSSL writes .2 and .3, the corpus script makes both .2 (openssl
# keeps one extension per OID when it makes a certificate).
[ v3_signed_twice ]
subjectKeyIdentifier = none
authorityKeyIdentifier = none
basicConstraints = critical, CA:false
keyUsage = nonRepudiation, digitalSignature, keyEncipherment
1.3.6.1.4.1.99999.2 = ASN1:UTF8String:first
1.3.6.1.4.1.99999.3 = ASN1:UTF8String:second
)";

    // A chain of 100: one EC key signs every link, each CA under its own name.
    static constexpr const char* long_chain_script = R"(
openssl ecparam -name prime256v1 -genkey -noout -out k.pem
openssl req -config ca.cnf -new -x509 -key k.pem -days 3650 -extensions v3_ca -subj "/CN=long-0" -out c0.pem
i=1
while [ $i -le 98 ]; do
  openssl req -config ca.cnf -new -key k.pem -subj "/CN=long-$i" -out r.csr
  openssl x509 -req -in r.csr -CA c$((i-1)).pem -CAkey k.pem -set_serial $i -days 3650 -extfile ca.cnf -extensions v3_ca -out c$i.pem 2>/dev/null
  i=$((i+1))
done
openssl req -config ca.cnf -new -key k.pem -subj "/CN=long-device" -out r.csr
openssl x509 -req -in r.csr -CA c98.pem -CAkey k.pem -set_serial 99 -days 365 -extfile ca.cnf -extensions v3_signed -out leaf.pem 2>/dev/null
cat leaf.pem > chain.pem
i=98
while [ $i -ge 0 ]; do cat c$i.pem >> chain.pem; i=$((i-1)); done
)";

    std::string script() const
    {
        const bool rsa = family_ == key_family::rsa;
        const std::string F = rsa ? "RSA" : "EC";
        std::string s;
        s += "mkdir -p issued\n: > index.txt\necho 1000 > serial\n";
        s += rsa ? "genkey() { openssl genrsa -out \"$1\" 2048 2>/dev/null; }\n"
                 : "genkey() { openssl ecparam -name prime256v1 -genkey -noout -out \"$1\"; }\n";
        // root NAME KEY SUBJECT EXTENSIONS [more req options]
        s += "root() { openssl req -config ca.cnf -new -x509 -key \"$2\" -days 7300 -sha256 -extensions \"$4\" "
             "-subj \"$3\" -out \"$1.pem\" $5 $6; }\n";
        // issue NAME KEY SUBJECT ISSUER EXTENSIONS [more openssl ca options]
        s += "issue() { n=$1 k=$2 subj=$3 by=$4 ext=$5; shift 5; "
             "openssl req -config ca.cnf -new -key \"$k\" -subj \"$subj\" -out \"$n.csr\"; "
             "openssl ca -config ca.cnf -batch -notext -cert \"$by.pem\" -keyfile \"$by.key\" -in \"$n.csr\" "
             "-out \"$n.pem\" $ext \"$@\" 2>/dev/null; }\n";
        for (const char* k : {"root", "inter", "leaf", "other_root", "other_leaf", "rogue_root", "root_noid",
                              "root_noid2", "root_v1", "root_pl0"})
            s += std::string("genkey ") + k + ".key\n";
        s += rsa ? "openssl genrsa -out weak.key 1024 2>/dev/null\n"
                 : "openssl ecparam -name secp256k1 -genkey -noout -out weak.key\n";
        if (!rsa)
            s += "openssl ecparam -name secp384r1 -genkey -noout -out root384.key\n";

        const std::string root_subject = "/O=Corpus/CN=" + F + " Root CA";
        s += "root root root.key '" + root_subject + "' v3_ca\n";
        s += "root other_root other_root.key '" + root_subject + "' v3_ca\n";
        s += "root rogue_root rogue_root.key '/O=Rogue/CN=" + F + " Rogue CA' v3_ca\n";
        s += "root root_noid root_noid.key '/CN=" + F + " No-Id CA' v3_ca_no_ids\n";
        s += "root root_noid2 root_noid2.key '/CN=" + F + " No-Id CA' v3_ca_no_ids\n";
        s += "root root_pl0 root_pl0.key '/CN=" + F + " Pathlen-0 Root' v3_ca_pathlen0\n";
        // A version 1 self-signed CA: a request signed by its own key, without extensions.
        s += "openssl req -config ca.cnf -new -key root_v1.key -subj '/CN=" + F +
             " V1 Root' -out root_v1.csr\n"
             "openssl x509 -req -in root_v1.csr -signkey root_v1.key -days 7300 -sha256 -out root_v1.pem 2>/dev/null\n";
        if (!rsa)
            s += "root root384 root384.key '/CN=EC P-384 Root' v3_ca -sha384\n";

        const std::string device = "device-" + std::string(rsa ? "rsa" : "ec");
        const std::string v3_ca = "-extensions v3_ca -days 3650";
        const std::string v3_signed = "-extensions v3_signed -days 365";
        s += "issue inter inter.key '/CN=" + F + " Intermediate CA' root '" + v3_ca + "'\n";
        s += "issue leaf leaf.key '/CN=" + device + "' root '" + v3_signed + "'\n";
        s += "issue leaf_i leaf.key '/CN=" + device + "' inter '" + v3_signed + "'\n";
        s += "issue leaf_colon leaf.key '/CN=" + device + ":1' root '" + v3_signed + "'\n";
        s += "issue leaf_nocn leaf.key '/O=Corpus/OU=" + device + "' root '" + v3_signed + "'\n";
        s += "issue leaf_ca leaf.key '/CN=" + device + "' root '-extensions v3_signed_ca -days 365'\n";
        s += "issue leaf_sha1 leaf.key '/CN=" + device + "' root '" + v3_signed + "' -md sha1\n";
        if (rsa) {
            s += "issue leaf_md5 leaf.key '/CN=" + device + "' root '" + v3_signed + "' -md md5\n";
            s += "issue leaf_pss leaf.key '/CN=" + device + "' root '" + v3_signed +
                 "' -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32\n";
        }
        s += "issue leaf_weak weak.key '/CN=" + device + "' root '" + v3_signed + "'\n";
        s += "issue leaf_expired leaf.key '/CN=" + device +
             "' root '-extensions v3_signed' -startdate 20200101000000Z -enddate 20210101000000Z\n";
        s += "issue leaf_future leaf.key '/CN=" + device +
             "' root '-extensions v3_signed' -startdate 20990101000000Z -enddate 20991231000000Z\n";
        s += "issue leaf_soon leaf.key '/CN=" + device + "' root '-extensions v3_signed -days 10'\n";

        // A version 1 intermediate (openssl ca makes version 1 when given no extensions).
        s += "cp inter.key inter_v1.key\n";
        s += "issue inter_v1 inter_v1.key '/CN=" + F + " V1 Intermediate' root '-days 3650'\n";
        s += "issue leaf_v1i leaf.key '/CN=" + device + "' inter_v1 '" + v3_signed + "'\n";
        s += "issue leaf_r1 leaf.key '/CN=" + device + "' root_v1 '" + v3_signed + "'\n";
        s += "cp inter.key inter_noca.key\n";
        s += "issue inter_noca inter_noca.key '/CN=" + F + " Not-CA Signer' root '-extensions v3_signer_not_ca -days 3650'\n";
        s += "issue leaf_noca leaf.key '/CN=" + device + "' inter_noca '" + v3_signed + "'\n";
        s += "cp inter.key inter_noks.key\n";
        s += "issue inter_noks inter_noks.key '/CN=" + F + " No-KeyCertSign CA' root '-extensions v3_ca_no_keycertsign -days 3650'\n";
        s += "issue leaf_noks leaf.key '/CN=" + device + "' inter_noks '" + v3_signed + "'\n";
        s += "cp inter.key inter_pl.key\n";
        s += "issue inter_pl inter_pl.key '/CN=" + F + " Below Pathlen-0' root_pl0 '" + v3_ca + "'\n";
        s += "issue leaf_pl leaf.key '/CN=" + device + "' inter_pl '" + v3_signed + "'\n";
        s += "cp inter.key inter_pl0.key\n";
        s += "issue inter_pl0 inter_pl0.key '/CN=" + F + " Pathlen-0 Intermediate' root '-extensions v3_ca_pathlen0 -days 3650'\n";
        s += "issue leaf_pl0 leaf.key '/CN=" + device + "' inter_pl0 '" + v3_signed + "'\n";
        s += "issue leaf_other leaf.key '/CN=" + device + "' other_root '" + v3_signed + "'\n";
        s += "issue leaf_noid leaf.key '/CN=" + device + "' root_noid2 '-extensions v3_signed_no_ids -days 365'\n";
        s += "issue leaf_noid_ok leaf.key '/CN=" + device + "' root_noid '-extensions v3_signed_no_ids -days 365'\n";
        s += "issue leaf_rogue leaf.key '/CN=" + device + "' rogue_root '" + v3_signed + "'\n";
        if (!rsa)
            s += "issue leaf384 leaf.key '/CN=" + device + "' root384 '" + v3_signed + "' -md sha384\n";

        // The JDK's PKIX validator and RFC 5280.
        s += "issue leaf_crit leaf.key '/CN=" + device + "' root '-extensions v3_signed_critical_ext -days 365'\n";
        s += "cp inter.key inter_crit.key\n";
        s += "issue inter_crit inter_crit.key '/CN=" + F + " Critical-Extension CA' root '-extensions v3_ca_critical_ext -days 3650'\n";
        s += "issue leaf_icrit leaf.key '/CN=" + device + "' inter_crit '" + v3_signed + "'\n";
        s += "genkey root_crit.key\n";
        s += "root root_crit root_crit.key '/CN=" + F + " Critical-Extension Root' v3_ca_critical_ext\n";
        s += "issue leaf_rcrit leaf.key '/CN=" + device + "' root_crit '" + v3_signed + "'\n";
        s += "issue leaf_aia_crit leaf.key '/CN=" + device + "' root '-extensions v3_signed_critical_aia -days 365'\n";
        s += "issue leaf_aia_bad leaf.key '/CN=" + device + "' root '-extensions v3_signed_bad_aia -days 365'\n";
        s += "issue leaf_pathlen leaf.key '/CN=" + device + "' root '-extensions v3_signed_pathlen -days 365'\n";
        s += "issue leaf_kcs leaf.key '/CN=" + device + "' root '-extensions v3_signed_keycertsign -days 365'\n";
        s += "issue leaf_v1 leaf.key '/CN=" + device + "' root '-days 365'\n";
        // Self-signed with both extensions, .3 made .2, signed again by itself (openssl x509 signs
        // for a CA only a certificate whose own signature holds), then by the root.
        s += "openssl req -config ca.cnf -new -x509 -key leaf.key -subj '/CN=" + device +
             "' -extensions v3_signed_twice -days 365 -outform DER -out leaf_dup.self.der\n"
             "perl -0777 -pi -e 's/\\x86\\x8d\\x1f\\x03/\\x86\\x8d\\x1f\\x02/' leaf_dup.self.der\n"
             "openssl x509 -inform DER -in leaf_dup.self.der -signkey leaf.key -out leaf_dup.self.pem 2>/dev/null\n"
             "openssl x509 -in leaf_dup.self.pem -CA root.pem -CAkey root.key -set_serial 4242 -days 365 "
             "-out leaf_dup.pem 2>/dev/null\n";
        // Key rollovers: a self-issued certificate of an intermediate's name and new key, signed
        // by its old key, under pathlen:0 (inter_pl0) and under pathlen:1 with one CA between.
        s += "genkey inter_pl0_new.key\n";
        s += "issue inter_pl0_new inter_pl0_new.key '/CN=" + F + " Pathlen-0 Intermediate' inter_pl0 '" + v3_ca + "'\n";
        s += "issue leaf_si0 leaf.key '/CN=" + device + "' inter_pl0_new '" + v3_signed + "'\n";
        s += "cp inter.key inter_upl0.key\n";
        s += "issue inter_upl0 inter_upl0.key '/CN=" + F + " Below Pathlen-0 Intermediate' inter_pl0 '" + v3_ca + "'\n";
        s += "issue leaf_upl0 leaf.key '/CN=" + device + "' inter_upl0 '" + v3_signed + "'\n";
        s += "cp inter.key inter_pl1.key\n";
        s += "issue inter_pl1 inter_pl1.key '/CN=" + F + " Pathlen-1 Intermediate' root '-extensions v3_ca_pathlen1 -days 3650'\n";
        s += "genkey inter_pl1b.key\ngenkey inter_pl1b_new.key\n";
        s += "issue inter_pl1b inter_pl1b.key '/CN=" + F + " Below Pathlen-1' inter_pl1 '" + v3_ca + "'\n";
        s += "issue inter_pl1b_new inter_pl1b_new.key '/CN=" + F + " Below Pathlen-1' inter_pl1b '" + v3_ca + "'\n";
        s += "issue leaf_si1 leaf.key '/CN=" + device + "' inter_pl1b_new '" + v3_signed + "'\n";
        s += "cp inter.key inter_bcnc.key\n";
        s += "issue inter_bcnc inter_bcnc.key '/CN=" + F + " Non-Critical-CA-Flag CA' root '-extensions v3_ca_bc_not_critical -days 3650'\n";
        s += "issue leaf_bcnc leaf.key '/CN=" + device + "' inter_bcnc '" + v3_signed + "'\n";
        if (rsa) {
            s += "openssl genrsa -out odd.key 2050 2>/dev/null\n";
            s += "issue leaf_odd odd.key '/CN=" + device + "' root '" + v3_signed + "'\n";
        }

        s += "cat leaf.pem root.pem > leaf_chain.pem\n"
             "openssl pkcs12 -export -name devicekeyentry -inkey leaf.key -in leaf_chain.pem -out leaf.p12 "
             "-passout pass:keystore-pass\n"
             "openssl pkey -in leaf.key -aes256 -passout pass:key-pass -out leaf_enc.key\n";
        return s;
    }

    key_family family_;
    std::filesystem::path dir_;
};

/// The corpus of a family, made on first use.
inline const chain_corpus& corpus(key_family family)
{
    static const chain_corpus rsa(key_family::rsa);
    static const chain_corpus ec(key_family::ec);
    return family == key_family::rsa ? rsa : ec;
}

} // namespace c8y::mtls::test
