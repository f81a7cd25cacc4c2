// c8y-mtls: the definitions pkcs8.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/pkcs8.hpp"

namespace c8y::mtls::detail::pkcs8_impl {

C8Y_MTLS_DECL secure_bytes wrap(byte_view algorithm_identifier, byte_view key)
{
    static constexpr unsigned char version_0[] = {der::integer, 0x01, 0x00};
    const auto key_header = der::header(der::octet_string, key.size());
    const std::size_t content = sizeof version_0 + algorithm_identifier.size() + key_header.size() + key.size();
    const auto header = der::header(der::sequence, content);
    secure_bytes out(header.size() + content);
    unsigned char* at = out.data();
    for (const byte_view part : {byte_view(header), byte_view(version_0), algorithm_identifier, byte_view(key_header), key}) {
        if (!part.empty())
            std::memcpy(at, part.data(), part.size());
        at += part.size();
    }
    return out;
}

C8Y_MTLS_DECL std::optional<der::reader> sequence_of(byte_view der)
{
    der::reader r(der);
    der::element seq;
    if (r.next(der::sequence, seq) || !r.empty())
        return std::nullopt;
    return der::reader(seq.value);
}

C8Y_MTLS_DECL bool is_small_integer(der::reader& r, unsigned value)
{
    der::element e;
    return !r.next(der::integer, e) && e.value.size() == 1 && e.value[0] == value;
}

} // namespace c8y::mtls::detail::pkcs8_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::optional<pkcs8_key> read_pkcs8(byte_view der)
{
    using namespace pkcs8_impl;
    auto fields = sequence_of(der);
    der::element version, algorithm, key;
    if (!fields || fields->next(der::integer, version) || version.value.size() != 1 || version.value[0] > 1 ||
        fields->next(der::sequence, algorithm) || fields->next(der::octet_string, key))
        return std::nullopt;
    der::reader alg(algorithm.value);
    der::element oid, parameter;
    if (alg.next(der::object_identifier, oid))
        return std::nullopt;
    pkcs8_key out;
    out.key = key.value;
    auto inner = sequence_of(key.value);
    if (!inner)
        return std::nullopt;
    if (same_bytes(oid.value, x509_impl::rsa_encryption)) {
        der::element modulus;
        if (!is_small_integer(*inner, 0) || inner->next(der::integer, modulus))
            return std::nullopt;
        out.algorithm = key_algorithm::rsa;
        out.bits = x509_impl::bit_length(modulus.value);
        return out;
    }
    if (same_bytes(oid.value, x509_impl::ec_public_key) && !alg.next(der::object_identifier, parameter) &&
        is_small_integer(*inner, 1)) {
        out.algorithm = key_algorithm::ec;
        out.curve = parameter.value;
        out.bits = same_bytes(parameter.value, x509_impl::p256)   ? 256
                   : same_bytes(parameter.value, x509_impl::p384) ? 384
                   : same_bytes(parameter.value, x509_impl::p521) ? 521
                                                                  : 0;
        return out;
    }
    return std::nullopt;
}

C8Y_MTLS_DECL secure_bytes pkcs8_from(std::string_view label, byte_view der, const std::string& source)
{
    using namespace pkcs8_impl;
    const auto malformed = [&](std::string_view why) {
        return error(errc::private_key_malformed, source + ": " + std::string(why));
    };
    if (label == "PRIVATE KEY") {
        if (!read_pkcs8(der))
            throw malformed("not a PKCS#8 RSA or EC private key");
        return secure_bytes(der.data(), der.size());
    }
    auto fields = sequence_of(der);
    if (label == "RSA PRIVATE KEY") {
        der::element modulus;
        if (!fields || !is_small_integer(*fields, 0) || fields->next(der::integer, modulus))
            throw malformed("not a PKCS#1 RSA private key");
        static constexpr unsigned char rsa_algorithm[] = {0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86,
                                                          0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00};
        return wrap(rsa_algorithm, der);
    }
    if (label == "EC PRIVATE KEY") {
        der::element secret, parameters, curve;
        if (!fields || !is_small_integer(*fields, 1) || fields->next(der::octet_string, secret))
            throw malformed("not a SEC1 EC private key");
        if (fields->next(der::context_0, parameters) ||
            der::reader(parameters.value).next(der::object_identifier, curve))
            throw malformed("the SEC1 EC key does not name its curve (write it with `openssl ec` or as PKCS#8)");
        std::vector<unsigned char> algorithm_content;
        der::append(algorithm_content, der::object_identifier, x509_impl::ec_public_key);
        der::append(algorithm_content, der::object_identifier, curve.value);
        std::vector<unsigned char> algorithm;
        der::append(algorithm, der::sequence, algorithm_content);
        return wrap(algorithm, der);
    }
    throw malformed("a '" + std::string(label) + "' block is no private key");
}

} // namespace c8y::mtls::detail
