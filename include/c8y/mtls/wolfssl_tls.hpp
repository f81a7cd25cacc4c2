// c8y-mtls: the default Tls policy, wolfSSL driven through its custom I/O callbacks.
#pragma once

#include "c8y/mtls/config.hpp"

#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/x509_wolfcrypt.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/tls.hpp"

namespace c8y::mtls {

namespace detail {

inline std::string wolfssl_error_text(int code)
{
    char buffer[WOLFSSL_MAX_ERROR_SZ] = {};
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), buffer, sizeof buffer);
    return std::string(buffer) + " (wolfSSL " + std::to_string(code) + ")";
}

inline bool is_ip_literal(std::string_view host)
{
    return !host.empty() && (host.find(':') != std::string_view::npos ||
                             std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }));
}

} // namespace detail

/// wolfSSL as the Tls policy: TLS 1.3 preferred, TLS 1.2 at least, the server verified against
/// the truststore and its name checked, the device's whole chain sent.
struct wolfssl_tls {
    /// The chain validator's signature check (certificate_crypto): RSA PKCS#1 v1.5, RSASSA-PSS
    /// and ECDSA through wolfCrypt. Never throws.
    static bool verify_signature(const signature_check& check) { return detail::wolfcrypt_verify_signature(check); }

    /// Whether a DER private key (PKCS#8, PKCS#1 or SEC1) is the one of a DER SubjectPublicKeyInfo.
    static key_match private_key_matches(std::span<const unsigned char> private_key,
                                         std::span<const unsigned char> public_key_info)
    {
        return detail::wolfcrypt_private_key_matches(private_key, public_key_info);
    }

    class context {
    public:
        context(const credentials& device, const truststore& trust, const tls_options& options)
            : options_(options)
        {
            ctx_.reset(wolfSSL_CTX_new(wolfSSLv23_client_method()));
            if (!ctx_)
                throw error(errc::tls_handshake_failed, "wolfSSL context cannot be created");
            if (wolfSSL_CTX_SetMinVersion(ctx_.get(), WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS)
                throw error(errc::tls_handshake_failed, "TLS 1.2 cannot be set as the minimum version");

            for (const der_certificate& ca : trust.certificates())
                if (wolfSSL_CTX_load_verify_buffer(ctx_.get(), ca.data(), static_cast<long>(ca.size()),
                                                   WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
                    throw error(errc::pem_malformed, "truststore certificate " + detail::x509_certificate(ca).subject() +
                                                         " is not usable as a CA");
            wolfSSL_CTX_set_verify(ctx_.get(),
                                   options.verify_server_certificate ? WOLFSSL_VERIFY_PEER : WOLFSSL_VERIFY_NONE,
                                   &context::on_verify);

            if (!device.has_certificate())
                return; // credentials::none(): nothing to send when the server asks
            load_chain(device);
            const auto& key = device.private_key();
            if (key.empty())
                throw error(errc::private_key_malformed, "the credentials hold no private key (already wiped?)");
            if (wolfSSL_CTX_use_PrivateKey_buffer(ctx_.get(), key.data(), static_cast<long>(key.size()),
                                                  WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
                throw error(errc::private_key_malformed, "wolfSSL refused the private key");
            if (wolfSSL_CTX_check_private_key(ctx_.get()) != WOLFSSL_SUCCESS)
                throw error(errc::private_key_mismatch,
                            "the key is not the one of " + detail::x509_certificate(device.chain().front()).subject());
        }

        context(const context&) = delete;
        context& operator=(const context&) = delete;

        WOLFSSL_CTX* native_handle() const noexcept { return ctx_.get(); }
        const tls_options& options() const noexcept { return options_; }

    private:
        void load_chain(const credentials& device)
        {
            // wolfSSL sends, in order, every certificate of a PEM chain buffer.
            std::string pem;
            for (const der_certificate& der : device.chain()) {
                std::string block(der.size() * 2 + 128, '\0');
                const int n = wc_DerToPem(der.data(), static_cast<word32>(der.size()),
                                          reinterpret_cast<byte*>(block.data()), static_cast<word32>(block.size()),
                                          CERT_TYPE);
                if (n <= 0)
                    throw error(errc::pem_malformed, "device chain certificate cannot be re-encoded");
                pem.append(block.data(), static_cast<std::size_t>(n));
            }
            if (wolfSSL_CTX_use_certificate_chain_buffer(ctx_.get(), reinterpret_cast<const unsigned char*>(pem.data()),
                                                         static_cast<long>(pem.size())) != WOLFSSL_SUCCESS)
                throw error(errc::pem_malformed, "wolfSSL refused the device chain");
        }

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
        library library_;
        std::unique_ptr<WOLFSSL_CTX, ctx_deleter> ctx_;
        tls_options options_;
        friend class session;
    };

    class session {
    public:
        session(context& ctx, std::string_view host)
            : ssl_(wolfSSL_new(ctx.native_handle())),
              server_name_(ctx.options().server_name.empty() ? std::string(host) : ctx.options().server_name)
        {
            if (!ssl_)
                throw error(errc::tls_handshake_failed, "wolfSSL session cannot be created");
            wolfSSL_SSLSetIORecv(ssl_.get(), &session::on_receive);
            wolfSSL_SSLSetIOSend(ssl_.get(), &session::on_send);
            wolfSSL_SetIOReadCtx(ssl_.get(), this);
            wolfSSL_SetIOWriteCtx(ssl_.get(), this);
            wolfSSL_set_ex_data(ssl_.get(), 0, this);
            if (!detail::is_ip_literal(server_name_) &&
                wolfSSL_UseSNI(ssl_.get(), WOLFSSL_SNI_HOST_NAME, server_name_.data(),
                               static_cast<unsigned short>(server_name_.size())) != WOLFSSL_SUCCESS)
                throw error(errc::tls_handshake_failed, "SNI cannot be set for " + server_name_);
#if defined(HAVE_CURVE25519) && defined(WOLFSSL_TLS13)
            // The TLS 1.3 key share goes out for X25519 (P-256 stays offered): a P-256 exchange
            // makes Debian's wolfSSL (FP_ECC) keep about 800 KB of tables for the process's life.
            wolfSSL_UseKeyShare(ssl_.get(), WOLFSSL_ECC_X25519);
#endif
            if (ctx.options().verify_server_certificate && ctx.options().verify_host_name &&
                wolfSSL_check_domain_name(ssl_.get(), server_name_.c_str()) != WOLFSSL_SUCCESS)
                throw error(errc::tls_handshake_failed, "host name check cannot be set for " + server_name_);
        }

        session(const session&) = delete;
        session& operator=(const session&) = delete;

        tls_status handshake() { return step(wolfSSL_connect(ssl_.get())); }

        tls_status write(std::span<const char> data)
        {
            while (!data.empty()) {
                const int n = wolfSSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
                if (n <= 0)
                    return step(n);
                data = data.subspan(static_cast<std::size_t>(n));
            }
            return tls_status::done;
        }

        tls_status read(std::span<char> out, std::size_t& n)
        {
            n = 0;
            const int r = wolfSSL_read(ssl_.get(), out.data(), static_cast<int>(out.size()));
            if (r > 0) {
                n = static_cast<std::size_t>(r);
                return tls_status::done;
            }
            return step(r);
        }

        void feed(std::span<const char> ciphertext) { input_.append(ciphertext.data(), ciphertext.size()); }
        /// The transport reached end of stream: what wolfSSL still wants will never come.
        void feed_end() { input_closed_ = true; }
        std::span<const char> pending_output() const noexcept { return {output_.data(), output_.size()}; }
        void consume_output(std::size_t n) { output_.erase(0, n); }

        /// Queues close_notify.
        void close() { wolfSSL_shutdown(ssl_.get()); }

        error failure() const { return failure_; }

        /// The negotiated protocol ("TLSv1.3").
        std::string protocol() const { return wolfSSL_get_version(ssl_.get()); }

    private:
        friend class context;

        tls_status step(int result)
        {
            if (result == WOLFSSL_SUCCESS)
                return tls_status::done;
            const int code = wolfSSL_get_error(ssl_.get(), result);
            if (code == WOLFSSL_ERROR_WANT_READ && !input_closed_)
                return tls_status::want_read;
            failure_ = classify(code);
            return tls_status::failed;
        }

        error classify(int code) const
        {
            WOLFSSL_ALERT_HISTORY alerts{};
            if (wolfSSL_get_alert_history(ssl_.get(), &alerts) == WOLFSSL_SUCCESS && alerts.last_rx.level == alert_fatal)
                return error(make_tls_alert_error(alerts.last_rx.code), "from " + server_name_);
            switch (code) {
            case ASN_NO_SIGNER_E:
            case ASN_SELF_SIGNED_E:
            case ASN_PATHLEN_INV_E:
            case ASN_SIG_CONFIRM_E:
                return error(errc::server_not_trusted, verify_detail_.empty()
                                                           ? "the truststore has no CA that signed the server certificate"
                                                           : verify_detail_);
            case DOMAIN_NAME_MISMATCH:
                return error(errc::server_name_mismatch, "host '" + server_name_ + "', certificate " + peer_subject_);
            case ASN_AFTER_DATE_E:
                return error(errc::server_certificate_expired, verify_detail_);
            case ASN_BEFORE_DATE_E:
                return error(errc::server_certificate_not_yet_valid, verify_detail_);
            case VERSION_ERROR:
                return error(errc::tls_protocol_version, server_name_);
            case ZERO_RETURN:
            case WOLFSSL_ERROR_ZERO_RETURN: // what wolfSSL_get_error() reports for close_notify
                return error(errc::connection_closed, "the server sent close_notify");
            case SOCKET_ERROR_E:
            case SOCKET_PEER_CLOSED_E:
                return error(errc::connection_closed, "during the TLS exchange with " + server_name_);
            default:
                if (input_closed_)
                    return error(errc::connection_closed, "during the TLS exchange with " + server_name_);
                return error(errc::tls_handshake_failed, detail::wolfssl_error_text(code));
            }
        }

        static int on_receive(WOLFSSL*, char* buf, int size, void* self_ptr)
        {
            auto* self = static_cast<session*>(self_ptr);
            if (self->input_.empty())
                return self->input_closed_ ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
            const std::size_t n = std::min(static_cast<std::size_t>(size), self->input_.size());
            std::memcpy(buf, self->input_.data(), n);
            self->input_.erase(0, n);
            return static_cast<int>(n);
        }

        static int on_send(WOLFSSL*, char* buf, int size, void* self_ptr)
        {
            static_cast<session*>(self_ptr)->output_.append(buf, static_cast<std::size_t>(size));
            return size;
        }

        struct ssl_deleter {
            void operator()(WOLFSSL* s) const noexcept { wolfSSL_free(s); }
        };
        std::unique_ptr<WOLFSSL, ssl_deleter> ssl_;
        std::string server_name_;
        std::string input_;
        std::string output_;
        bool input_closed_ = false;
        std::string verify_detail_;
        std::string peer_subject_;
        error failure_{errc::tls_handshake_failed};
    };
};

// Records, for the error message, which certificate failed and why; the verdict stays wolfSSL's.
inline int wolfssl_tls::context::on_verify(int preverified, WOLFSSL_X509_STORE_CTX* store)
{
    auto* ssl = static_cast<WOLFSSL*>(
        wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* self = ssl ? static_cast<session*>(wolfSSL_get_ex_data(ssl, 0)) : nullptr;
    if (!self)
        return preverified;
    WOLFSSL_X509* cert = wolfSSL_X509_STORE_CTX_get_current_cert(store);
    auto name_line = [](WOLFSSL_X509_NAME* name) {
        char buffer[512] = {};
        const char* line = name ? wolfSSL_X509_NAME_oneline(name, buffer, sizeof buffer) : nullptr;
        return std::string(line ? line : "(unnamed)");
    };
    if (cert && wolfSSL_X509_STORE_CTX_get_error_depth(store) == 0)
        self->peer_subject_ = name_line(wolfSSL_X509_get_subject_name(cert));
    if (!preverified && cert && self->verify_detail_.empty()) {
        const int err = wolfSSL_X509_STORE_CTX_get_error(store);
        const std::string subject = name_line(wolfSSL_X509_get_subject_name(cert));
        const std::string issuer = name_line(wolfSSL_X509_get_issuer_name(cert));
        switch (err) {
        case ASN_AFTER_DATE_E:
        case X509_V_ERR_CERT_HAS_EXPIRED:
            self->verify_detail_ = subject + " is past its notAfter date";
            break;
        case ASN_BEFORE_DATE_E:
        case X509_V_ERR_CERT_NOT_YET_VALID:
            self->verify_detail_ = subject + " is before its notBefore date (check the device clock)";
            break;
        default:
            self->verify_detail_ = "no CA in the truststore signed " + subject + " (issuer " + issuer + ")";
        }
    }
    return preverified;
}

} // namespace c8y::mtls
