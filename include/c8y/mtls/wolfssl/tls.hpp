// c8y-mtls: the default Tls policy, wolfSSL driven through its custom I/O callbacks.
#pragma once

#include "c8y/mtls/config.hpp"

#include "c8y/mtls/wolfssl/config.hpp"

#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/server_certificate.hpp"
#include "c8y/mtls/detail/tls_hello.hpp"
#include "c8y/mtls/wolfssl/crypto.hpp"
#include "c8y/mtls/wolfssl/pkcs11.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/time_format.hpp"
#include "c8y/mtls/tls.hpp"

namespace c8y::mtls {

namespace detail {

C8Y_MTLS_DECL std::string wolfssl_error_text(int code);

// wolfSSL's names of the suites the SDK offers.
C8Y_MTLS_DECL const char* wolfssl_suite_name(tls_cipher_suite suite);

// Handshake signatures the server may make: RSA-PSS, ECDSA and RSA PKCS#1 with SHA-2 (TLS 1.3
// allows PKCS#1 only in certificates). No SHA-1, no MD5.
inline constexpr const char* wolfssl_signature_algorithms =
    "RSA-PSS+SHA256:RSA-PSS+SHA384:RSA-PSS+SHA512:ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:RSA+SHA256:RSA+SHA384:"
    "RSA+SHA512";

// A certificate's subject for a message, or a word saying it cannot be read.
C8Y_MTLS_DECL std::string subject_of(const der_certificate& der);

// The truststore's CAs, loaded once for every context made from the same certificates: a fleet
// of N devices that trust one CA keeps one copy of it, not N. Shared automatically, by the
// certificates' bytes; each context holds a reference, and the last one frees the store.
class wolfssl_trust_store {
public:
    C8Y_MTLS_DECL static std::shared_ptr<wolfssl_trust_store> for_certificates(const std::vector<der_certificate>& cas);

    wolfssl_trust_store() : store_(wolfSSL_X509_STORE_new()) {}
    wolfssl_trust_store(const wolfssl_trust_store&) = delete;
    wolfssl_trust_store& operator=(const wolfssl_trust_store&) = delete;
    ~wolfssl_trust_store() { wolfSSL_X509_STORE_free(store_); }

    /// Makes `ctx` verify against this store (a reference of its own, released with the context).
    C8Y_MTLS_DECL bool attach(WOLFSSL_CTX* ctx) const;

private:
    // A CA the SDK judges too weak is not given (see context::load_truststore); every other one
    // must load, as wolfSSL_CTX_load_verify_buffer would load it.
    C8Y_MTLS_DECL void add(const der_certificate& ca);

    WOLFSSL_X509_STORE* store_;
};

} // namespace detail

/// wolfSSL as the Tls policy: TLS 1.3 preferred, TLS 1.2 at least, only the SDK's cipher suites
/// and groups offered, the server verified against the truststore and judged by the SDK's own
/// rules (host name, key usage, key and signature strength), the device's whole chain sent.
struct wolfssl_tls {
    /// The backend's Crypto policy: the client checks the device's chain with it before connecting.
    using crypto = wolfssl_crypto;

    class session;

    class context {
    public:
        C8Y_MTLS_DECL context(const credentials& device, const truststore& trust, const tls_options& options);

        context(const context&) = delete;
        context& operator=(const context&) = delete;

        WOLFSSL_CTX* native_handle() const noexcept { return ctx_.get(); }
        const tls_options& options() const noexcept { return options_; }

    private:
        // The cipher list, the groups and the handshake signatures are set explicitly: wolfSSL's
        // defaults (Debian's build) offer anonymous, NULL, RC4, 3DES and integrity-only suites.
        C8Y_MTLS_DECL void offer_only_what_the_sdk_allows();

        // A CA whose key is too weak is not trusted (no chain below it can be stronger than it);
        // it is remembered so that a server it signed is refused naming it. The others are in
        // the store shared by every context of the same truststore.
        C8Y_MTLS_DECL void load_truststore(const truststore& trust);

        // wolfSSL sends, in order, every certificate of a chain buffer (DER, one after the other).
        C8Y_MTLS_DECL void load_chain(const credentials& device);

        C8Y_MTLS_DECL bool offers(std::uint16_t suite) const noexcept;

        // The truststore's weak CA of that name, if it has one.
        C8Y_MTLS_DECL const std::string* weak_ca_named(detail::byte_view name) const noexcept;

        static int on_verify(int preverified, WOLFSSL_X509_STORE_CTX* store);

        // wolfSSL's global state, counted: initialised before the context, released after it.
        struct library {
            library()
            {
                if (wolfSSL_Init() != WOLFSSL_SUCCESS)
                    throw error(errc::tls_handshake_failed, "wolfSSL cannot be initialised");
            }
            library(const library&) = delete;
            library& operator=(const library&) = delete;
            ~library() { wolfSSL_Cleanup(); }
        };
        struct ctx_deleter {
            void operator()(WOLFSSL_CTX* c) const noexcept { wolfSSL_CTX_free(c); }
        };
        struct weak_ca {
            std::vector<unsigned char> subject; // the DER Name's content
            std::string reason;
        };
        library library_;
        std::shared_ptr<const detail::wolfssl_trust_store> trust_store_; // outlives ctx_, which verifies with it
        std::shared_ptr<detail::pkcs11_token> token_;                    // outlives ctx_, which signs in it
        std::unique_ptr<WOLFSSL_CTX, ctx_deleter> ctx_;
        tls_options options_;
        std::vector<tls_cipher_suite> suites_;
        std::vector<tls_group> groups_;
        std::vector<weak_ca> weak_cas_;
        friend class session;
    };

    class session {
    public:
        C8Y_MTLS_DECL session(context& ctx, std::string_view host);

        session(const session&) = delete;
        session& operator=(const session&) = delete;

        C8Y_MTLS_DECL tls_status handshake();

        C8Y_MTLS_DECL tls_status write(std::span<const char> data);

        C8Y_MTLS_DECL tls_status read(std::span<char> out, std::size_t& n);

        C8Y_MTLS_DECL void feed(std::span<const char> ciphertext);
        /// The transport reached end of stream: what wolfSSL still wants will never come.
        void feed_end() { input_closed_ = true; }
        std::span<const char> pending_output() const noexcept { return {output_.data(), output_.size()}; }
        C8Y_MTLS_DECL void consume_output(std::size_t n);

        /// Queues close_notify.
        void close() { wolfSSL_shutdown(ssl_.get()); }

        error failure() const { return failure_; }

        /// The negotiated protocol ("TLSv1.3").
        std::string protocol() const { return wolfSSL_get_version(ssl_.get()); }
        std::string cipher_suite() const
        {
            const int suite = wolfSSL_get_current_cipher_suite(ssl_.get());
            const char* name = wolfSSL_get_cipher_name_iana_from_suite(static_cast<unsigned char>(suite >> 8),
                                                                      static_cast<unsigned char>(suite & 0xff));
            return name ? name : "";
        }

    private:
        friend class context;

        C8Y_MTLS_DECL tls_status step(int result);

        // The ServerHello is read here before wolfSSL sees it: a suite the client did not offer
        // or a version below TLS 1.2 ends the handshake at once, naming what the server chose
        // (wolfSSL would wait for more after some unoffered suites, such as 0x0034).
        C8Y_MTLS_DECL void watch_hello(std::span<const char> ciphertext);

        C8Y_MTLS_DECL error classify(int code) const;

        // What wolfSSL refused, in words: the certificate, and the dates when they are the cause.
        C8Y_MTLS_DECL void note_verify_failure(int err, std::span<const unsigned char> der);

        // Why the certificate the server sent as the signer of `c` cannot be one, or empty.
        C8Y_MTLS_DECL std::string signer_sent_for(const detail::parsed_certificate& c) const;

        C8Y_MTLS_DECL static int on_receive(WOLFSSL*, char* buf, int size, void* self_ptr);

        // The handshake's flights (and a burst of large records) leave kilobytes of capacity
        // behind, which an idle session should not keep; steady traffic of ordinary records keeps
        // its buffer, so that it is not reallocated with every write.
        C8Y_MTLS_DECL static void release_if_drained(std::string& buffer, std::size_t keep);

        C8Y_MTLS_DECL static int on_send(WOLFSSL*, char* buf, int size, void* self_ptr);

        struct ssl_deleter {
            void operator()(WOLFSSL* s) const noexcept { wolfSSL_free(s); }
        };
        const context& ctx_;
        std::unique_ptr<WOLFSSL, ssl_deleter> ssl_;
        std::string server_name_;
        std::string input_;
        std::string output_;
        bool trim_after_handshake_ = false; // until the handshake's last flight is out
        bool input_closed_ = false;
        std::string verify_detail_;
        std::vector<std::vector<unsigned char>> peer_chain_; // by depth, until the SDK's checks ran
        std::optional<error> refusal_;                        // the SDK's own verdict on the server
        bool server_checked_ = false;
        bool watching_hello_ = true;
        std::vector<unsigned char> hello_bytes_;
        error failure_{errc::tls_handshake_failed};
    };
};


} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/wolfssl/impl/tls.ipp"
#endif
