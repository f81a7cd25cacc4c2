// c8y-mtls tests: the keystores and truststores of the platform guide's "Creating keystore and
// truststore" steps, made once per test program by the tools the guide names, for a device of the
// local platform (so that it connects with each of them):
//
//   1. openssl pkcs12 -export -name devicekeyentry      deviceKeystore.pkcs12
//   2. keytool -importkeystore ... -deststoretype JKS    deviceKeystore.jks
//   3. openssl s_client -showcerts | openssl x509        serverCertificate.pem (the broker's own)
//   4. keytool -importcert ... deviceTruststore.pkcs12   PKCS#12 truststore
//      keytool -import ... deviceTruststore.jks          the guide's "JKS" command: keytool 17
//                                                        writes PKCS#12 whatever the file's name
//   5. keytool -importcert into each keystore            combinedKeystore.pkcs12, combinedKeystore.jks
//
// and, for the errors and choices the guide's readers meet: a real JKS truststore (-storetype
// JKS), keytool's own PKCS#12 keystore (-importkeystore -deststoretype PKCS12), a JKS whose key
// has a password of its own (-destkeypass), JKS and PKCS#12 keystores of two keys, and the CA
// uploaded to the platform as a PKCS#12 truststore (what c8y-mtls-doctor --trusted takes).
//
// keytool starts a JVM each time (about a second): the files are made once, with options that
// only shorten the JVM's start.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "local_platform.hpp"

namespace c8y::mtls::test {

/// The local platform the guide's files are made for, started once per program, with the devices
/// `ks-device` (whose files the guide's steps use) and `ks-device-2` (the second key).
inline local_platform& keystore_platform()
{
    static local_platform instance([] {
        local_platform::options o;
        o.dir = std::filesystem::path(C8Y_TEST_WORK_DIR) / "keystore-platform";
        o.devices = {"ks-device", "ks-device-2"};
        return o;
    }());
    return instance;
}

struct guide_keystores {
    static constexpr const char* device = "ks-device";
    static constexpr const char* second_device = "ks-device-2";
    static constexpr const char* store_password = "store-pass-1"; ///< every keystore's
    static constexpr const char* trust_password = "trust-pass-1"; ///< every truststore's
    static constexpr const char* key_password = "key-pass-22";    ///< keypass.jks's key only

    std::filesystem::path dir;

    std::filesystem::path operator/(const char* file) const { return dir / file; }

    std::vector<unsigned char> bytes(const char* file) const
    {
        std::ifstream in(dir / file, std::ios::binary);
        if (!in)
            throw std::runtime_error("guide_keystores: no " + (dir / file).string());
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
};

/// The files, made on first use in C8Y_TEST_WORK_DIR/guide-keystores.
inline const guide_keystores& guide_files()
{
    static const guide_keystores made = [] {
        local_platform& platform = keystore_platform();
        guide_keystores g;
        g.dir = std::filesystem::path(C8Y_TEST_WORK_DIR) / "guide-keystores";
        std::filesystem::remove_all(g.dir);
        std::filesystem::create_directories(g.dir);
        const std::string script = R"(
kt() { keytool -J-XX:+UseSerialGC -J-XX:TieredStopAtLevel=1 -noprompt "$@"; }
cp "$DEVICE/deviceKey.pem" "$DEVICE/deviceCertChain.pem" .
# 1. The keystore from the device's key and chain.
openssl pkcs12 -export -name devicekeyentry -inkey deviceKey.pem -passin env:KEY_PW -in deviceCertChain.pem \
    -out deviceKeystore.pkcs12 -passout env:STORE_PW
# 2. In JKS.
kt -importkeystore -srckeystore deviceKeystore.pkcs12 -srcstoretype PKCS12 -srcstorepass:env STORE_PW \
    -destkeystore deviceKeystore.jks -deststoretype JKS -deststorepass:env STORE_PW
# 3. The server certificate, as the broker sends it.
openssl s_client -showcerts -connect "localhost:$PORT" </dev/null 2>/dev/null | openssl x509 -outform PEM > serverCertificate.pem
# 4. The truststores.
kt -importcert -keystore deviceTruststore.pkcs12 -alias servercertificate -file serverCertificate.pem \
    -storepass:env TRUST_PW
kt -import -file serverCertificate.pem -alias servercertificate -keystore deviceTruststore.jks -storepass:env TRUST_PW
# 5. The server certificate added to each keystore.
cp deviceKeystore.pkcs12 combinedKeystore.pkcs12
cp deviceKeystore.jks combinedKeystore.jks
kt -importcert -keystore combinedKeystore.pkcs12 -alias servercertificate -file serverCertificate.pem \
    -storepass:env STORE_PW
kt -import -file serverCertificate.pem -alias servercertificate -keystore combinedKeystore.jks -storepass:env STORE_PW
# Beyond the guide: a JKS truststore for real, keytool's own PKCS#12 keystore, a key password of
# its own, two keys, the uploaded CA as a truststore.
kt -import -file serverCertificate.pem -alias servercertificate -keystore realTruststore.jks -storetype JKS \
    -storepass:env TRUST_PW
kt -importkeystore -srckeystore deviceKeystore.pkcs12 -srcstoretype PKCS12 -srcstorepass:env STORE_PW \
    -destkeystore keytoolKeystore.p12 -deststoretype PKCS12 -deststorepass:env STORE_PW
kt -importkeystore -srckeystore deviceKeystore.pkcs12 -srcstoretype PKCS12 -srcstorepass:env STORE_PW \
    -srcalias devicekeyentry -destkeystore keypass.jks -deststoretype JKS -deststorepass:env STORE_PW \
    -destkeypass:env KEYPASS
openssl pkcs12 -export -name devicekeyentry -inkey "$SECOND/deviceKey.pem" -passin env:KEY_PW2 \
    -in "$SECOND/deviceCertChain.pem" -out second.pkcs12 -passout env:STORE_PW
kt -importkeystore -srckeystore deviceKeystore.pkcs12 -srcstoretype PKCS12 -srcstorepass:env STORE_PW \
    -srcalias devicekeyentry -destalias first-device -destkeystore two.jks -deststoretype JKS -deststorepass:env STORE_PW
kt -importkeystore -srckeystore second.pkcs12 -srcstoretype PKCS12 -srcstorepass:env STORE_PW \
    -srcalias devicekeyentry -destalias second-device -destkeystore two.jks -deststoretype JKS -deststorepass:env STORE_PW
kt -importkeystore -srckeystore two.jks -srcstoretype JKS -srcstorepass:env STORE_PW \
    -destkeystore two.p12 -deststoretype PKCS12 -deststorepass:env STORE_PW
kt -importcert -keystore uploadedCa.pkcs12 -alias uploadedca -file "$CA" -storepass:env TRUST_PW
)";
        const std::string env =
            "DEVICE=" + shell_quote(platform.device_dir(guide_keystores::device).string()) +
            " SECOND=" + shell_quote(platform.device_dir(guide_keystores::second_device).string()) +
            " CA=" + shell_quote(platform.trusted_ca().string()) + " PORT=" + std::to_string(platform.port()) +
            " KEY_PW=" + shell_quote(platform.password(guide_keystores::device)) +
            " KEY_PW2=" + shell_quote(platform.password(guide_keystores::second_device)) +
            " STORE_PW=" + guide_keystores::store_password + " TRUST_PW=" + guide_keystores::trust_password +
            " KEYPASS=" + guide_keystores::key_password;
        int code = 0;
        const std::string output = run_command(
            "cd " + shell_quote(g.dir.string()) + " && env " + env + " sh -e -c " + shell_quote(script) + " 2>&1", &code);
        if (code != 0)
            throw std::runtime_error("making the guide's keystores failed: " + output);
        return g;
    }();
    return made;
}

} // namespace c8y::mtls::test
