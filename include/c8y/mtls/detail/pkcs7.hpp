// c8y-mtls: the certificates of the platform's EST answer (RFC 7030 4.2.3): a PKCS#7 "certs-only"
// message (RFC 5652 SignedData without signers), sent as base64, or PEM certificates as the
// platform's documentation shows them.
#pragma once

#include "c8y/mtls/config.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/pem.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/detail/x509_pem.hpp"
#include "c8y/mtls/error.hpp"

namespace c8y::mtls::detail {

namespace pkcs7_oid {
// Content octets of the object identifiers of a certs-only message.
inline constexpr unsigned char signed_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
inline constexpr unsigned char data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
} // namespace pkcs7_oid

namespace pkcs7_impl {

// How deep indefinite-length elements may nest: the envelope needs 5 (ContentInfo, [0],
// SignedData, [0] or [1], a CRL); the limit keeps hostile input from exhausting the stack.
inline constexpr int max_indefinite_depth = 8;

/// Reads consecutive elements of the message's envelope as BER allows it: definite lengths as
/// DER has them (read by der::reader, with its rules) and, for constructed elements, the
/// indefinite length closed by end-of-contents octets, which Java's CMS encoder writes: the
/// platform's answer in thin-edge.io's tests starts 30 80 06 09 ... A0 80 30 80. The
/// certificates inside are DER.
class envelope_reader {
public:
    explicit envelope_reader(byte_view data, int depth = 0) noexcept : rest_(data), depth_(depth) {}

    bool empty() const noexcept { return rest_.empty(); }
    bool next_is(unsigned char tag) const noexcept { return !rest_.empty() && rest_[0] == tag; }
    unsigned char next_tag() const noexcept { return rest_.empty() ? 0 : rest_[0]; }
    std::size_t remaining() const noexcept { return rest_.size(); }

    /// The next element (`value` without the end-of-contents octets of an indefinite length);
    /// nullptr on success, otherwise why the bytes are not BER.
    C8Y_MTLS_DECL const char* next(der::element& out) noexcept;

private:
    byte_view rest_;
    int depth_;
};

// "EST answer: SOURCE: WHAT", the detail of every refusal.
C8Y_MTLS_DECL error malformed(std::string_view source, const std::string& what);

// "1 byte", "7 bytes".
C8Y_MTLS_DECL std::string byte_count(std::size_t n);

// An OID as text for a message; one too long to be a real one is only measured.
C8Y_MTLS_DECL std::string oid_for_people(byte_view oid);

// The next element of `fields`, which must be `what` with tag `tag`; throws naming it otherwise.
C8Y_MTLS_DECL der::element take(envelope_reader& fields, unsigned char tag, std::string_view what,
                                std::string_view source);

// Throws unless `fields`, the content of `what`, has been read to its end.
C8Y_MTLS_DECL void expect_end(const envelope_reader& fields, std::string_view what, std::string_view source);

// Throws unless `e` is shaped as an X.509 Certificate: a DER SEQUENCE of a SEQUENCE (the signed
// part), a SEQUENCE (the algorithm) and a BIT STRING. Its fields are judged by whoever uses it.
C8Y_MTLS_DECL void check_certificate_shape(const der::element& e, std::string_view source, const std::string& which);

} // namespace pkcs7_impl

/// The certificates of a PKCS#7 certs-only message (ContentInfo of content type signedData;
/// SignedData of version 1 with no digest algorithm, no encapsulated content, no signer), copied
/// in the order of the message. The envelope may use BER's indefinite lengths; each certificate
/// must be DER. Every defect of the structure, and a message without certificates, throws
/// error(errc::est_answer_malformed) naming `source` and the defect.
C8Y_MTLS_DECL std::vector<der_certificate> certificates_from_pkcs7(byte_view der, std::string_view source);

/// The certificates of an EST answer's body, whichever form it has: base64 of a certs-only
/// message (RFC 7030; whitespace and CR/LF line breaks allowed), the message as binary, or PEM
/// (CERTIFICATE blocks, as the platform's documentation shows, or else PKCS7 blocks). Anything
/// else, an empty body included, throws error(errc::est_answer_malformed) naming `source`.
/// Allocates at most about twice the size of `body`.
C8Y_MTLS_DECL std::vector<der_certificate> certificates_from_est_answer(std::string_view body, std::string_view source);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/pkcs7.ipp"
#endif
