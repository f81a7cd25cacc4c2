// c8y-mtls: the definitions store_format.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/store_format.hpp"

#include <map>

#include "c8y/mtls/detail/jks.hpp"
#include "c8y/mtls/detail/pem.hpp"
#include "c8y/mtls/detail/pkcs12.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL store_format recognise_store(byte_view bytes) noexcept
{
    if (bytes.empty())
        return store_format::empty;
    switch (jks_format(bytes)) {
    case java_keystore_format::jks: return store_format::jks;
    case java_keystore_format::jceks: return store_format::jceks;
    case java_keystore_format::none: break;
    }
    if (looks_like_pkcs12(bytes))
        return store_format::pkcs12;
    der::reader top(bytes);
    der::element outer, first, second;
    if (bytes[0] == der::sequence && top.next(der::sequence, outer) == nullptr && top.empty()) {
        der::reader fields(outer.value);
        if (fields.next(first) == nullptr) {
            const bool has_second = fields.next(second) == nullptr;
            if (first.tag == der::integer && has_second &&
                (second.tag == der::sequence || second.tag == der::integer || second.tag == der::octet_string))
                return store_format::der_private_key; // PKCS#8, PKCS#1 (RSA) or SEC1 (EC)
            if (first.tag == der::sequence && has_second && second.tag == der::sequence)
                return store_format::der_certificate; // TBSCertificate, signature algorithm, ...
            if (first.tag == der::sequence && has_second && second.tag == der::octet_string)
                return store_format::der_encrypted_private_key;
            if (first.tag == der::object_identifier)
                return store_format::pkcs7;
        }
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text.find("-----BEGIN ") != std::string_view::npos)
        return store_format::pem;
    return store_format::unknown;
}

C8Y_MTLS_DECL std::string_view store_format_name(store_format format) noexcept
{
    switch (format) {
    case store_format::jks: return "a JKS keystore";
    case store_format::jceks: return "a JCEKS keystore";
    case store_format::pkcs12: return "a PKCS#12 keystore";
    case store_format::pem: return "a PEM file";
    case store_format::der_certificate: return "a DER certificate";
    case store_format::der_private_key: return "a DER private key";
    case store_format::der_encrypted_private_key: return "an encrypted DER private key";
    case store_format::pkcs7: return "a PKCS#7 message (a .p7b bundle of certificates)";
    case store_format::empty: return "an empty file";
    case store_format::unknown: break;
    }
    return "neither JKS, PKCS#12, PEM nor DER";
}

C8Y_MTLS_DECL std::string pem_labels(std::string_view text, std::string_view source)
{
    std::map<std::string_view, std::size_t> counts;
    std::vector<std::string_view> order;
    for (const pem_block& block : pem_blocks(text, source))
        if (counts[block.label]++ == 0)
            order.push_back(block.label);
    std::string out;
    for (const std::string_view label : order) {
        out += (out.empty() ? "" : ", ") + std::string(label);
        if (counts[label] > 1)
            out += " (" + std::to_string(counts[label]) + ")";
    }
    return out.empty() ? "no PEM block" : out;
}

C8Y_MTLS_DECL error not_a_keystore(store_format format, std::string_view source)
{
    const std::string what = std::string(source) + ": " + std::string(store_format_name(format));
    switch (format) {
    case store_format::der_certificate:
        return error(errc::private_key_malformed, what + ", not a keystore: it holds no private key");
    case store_format::der_private_key:
    case store_format::der_encrypted_private_key:
        return error(errc::no_certificate, what + ", not a keystore: it holds no certificate");
    case store_format::pkcs7:
        return error(errc::keystore_malformed, what + ", not a keystore: it holds no private key");
    default:
        return error(errc::keystore_malformed,
                     what + ": a keystore is JKS (keytool), PKCS#12 (openssl pkcs12 -export, keytool) or PEM "
                            "(the chain and the key in one file)");
    }
}

} // namespace c8y::mtls::detail
