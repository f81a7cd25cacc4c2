// c8y-mtls: the definitions tls.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/wolfssl/tls.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::string wolfssl_error_text(int code)
{
    char buffer[WOLFSSL_MAX_ERROR_SZ] = {};
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), buffer, sizeof buffer);
    return std::string(buffer) + " (wolfSSL " + std::to_string(code) + ")";
}

C8Y_MTLS_DECL const char* wolfssl_suite_name(tls_cipher_suite suite)
{
    switch (suite) {
    case tls_cipher_suite::tls13_aes_128_gcm_sha256: return "TLS13-AES128-GCM-SHA256";
    case tls_cipher_suite::tls13_aes_256_gcm_sha384: return "TLS13-AES256-GCM-SHA384";
    case tls_cipher_suite::tls13_chacha20_poly1305_sha256: return "TLS13-CHACHA20-POLY1305-SHA256";
    case tls_cipher_suite::ecdhe_ecdsa_aes_128_gcm_sha256: return "ECDHE-ECDSA-AES128-GCM-SHA256";
    case tls_cipher_suite::ecdhe_ecdsa_aes_256_gcm_sha384: return "ECDHE-ECDSA-AES256-GCM-SHA384";
    case tls_cipher_suite::ecdhe_rsa_aes_128_gcm_sha256: return "ECDHE-RSA-AES128-GCM-SHA256";
    case tls_cipher_suite::ecdhe_rsa_aes_256_gcm_sha384: return "ECDHE-RSA-AES256-GCM-SHA384";
    case tls_cipher_suite::ecdhe_rsa_chacha20_poly1305_sha256: return "ECDHE-RSA-CHACHA20-POLY1305";
    case tls_cipher_suite::ecdhe_ecdsa_chacha20_poly1305_sha256: return "ECDHE-ECDSA-CHACHA20-POLY1305";
    }
    return "";
}

C8Y_MTLS_DECL std::string subject_of(const der_certificate& der)
{
    parsed_certificate parsed;
    return parse_certificate(der, parsed).empty() ? name_text(parsed.subject) : std::string("(unreadable certificate)");
}

C8Y_MTLS_DECL auto wolfssl_trust_store::for_certificates(const std::vector<der_certificate>& cas) -> std::shared_ptr<wolfssl_trust_store>
{
    std::string key; // each certificate's length, then its bytes
    for (const der_certificate& ca : cas) {
        const std::size_t n = ca.size();
        for (int shift = 24; shift >= 0; shift -= 8)
            key.push_back(static_cast<char>((n >> shift) & 0xff));
        key.append(reinterpret_cast<const char*>(ca.data()), ca.size());
    }
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<wolfssl_trust_store>> loaded;
    const std::lock_guard lock(mutex);
    std::erase_if(loaded, [](const auto& entry) { return entry.second.expired(); });
    if (auto it = loaded.find(key); it != loaded.end())
        if (auto shared = it->second.lock())
            return shared;
    auto made = std::make_shared<wolfssl_trust_store>();
    if (!made->store_)
        throw error(errc::tls_handshake_failed, "wolfSSL certificate store cannot be created");
    for (const der_certificate& ca : cas)
        made->add(ca);
    loaded.emplace(std::move(key), made);
    return made;
}

C8Y_MTLS_DECL bool wolfssl_trust_store::attach(WOLFSSL_CTX* ctx) const
{
    if (wolfSSL_X509_STORE_up_ref(store_) != WOLFSSL_SUCCESS)
        return false;
    wolfSSL_CTX_set_cert_store(ctx, store_);
    if (wolfSSL_CTX_get_cert_store(ctx) == store_)
        return true;
    wolfSSL_X509_STORE_free(store_);
    return false;
}

C8Y_MTLS_DECL void wolfssl_trust_store::add(const der_certificate& ca)
{
    parsed_certificate parsed;
    if (parse_certificate(ca, parsed).empty() && !weak_key_reason(parsed.key).empty())
        return;
    if (wolfSSL_CertManagerLoadCABuffer(store_->cm, ca.data(), static_cast<long>(ca.size()),
                                        WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
        throw error(errc::pem_malformed,
                    "truststore certificate " + subject_of(ca) + " is not usable as a CA");
}

} // namespace c8y::mtls::detail

namespace c8y::mtls {

C8Y_MTLS_DECL wolfssl_tls::context::context(const credentials& device, const truststore& trust, const tls_options& options)
    : options_(options),
      suites_(detail::narrowed(options.cipher_suites, default_tls_cipher_suites, "cipher_suites")),
      groups_(detail::narrowed(options.groups, default_tls_groups, "groups"))
{
    // The versions follow the suites: offering TLS 1.3 without one of its suites would have a
    // TLS 1.3 server choose it and find no suite in common.
    const auto tls13 = [](tls_cipher_suite s) { return (static_cast<std::uint16_t>(s) & 0xFF00) == 0x1300; };
    const bool offers_tls13 = std::any_of(suites_.begin(), suites_.end(), tls13);
    const bool offers_tls12 = !std::all_of(suites_.begin(), suites_.end(), tls13);
    ctx_.reset(wolfSSL_CTX_new(wolfSSLv23_client_method()));
    if (!ctx_)
        throw error(errc::tls_handshake_failed, "wolfSSL context cannot be created");
    if (wolfSSL_CTX_SetMinVersion(ctx_.get(), offers_tls12 ? WOLFSSL_TLSV1_2 : WOLFSSL_TLSV1_3) != WOLFSSL_SUCCESS)
        throw error(errc::tls_handshake_failed, "the minimum TLS version cannot be set");
    if (!offers_tls13 && wolfSSL_CTX_set_max_proto_version(ctx_.get(), TLS1_2_VERSION) != WOLFSSL_SUCCESS)
        throw error(errc::tls_handshake_failed, "TLS 1.2 cannot be set as the maximum version");
    offer_only_what_the_sdk_allows();
    // Every connection is a full handshake (the SDK resumes no session): a process-wide
    // cache entry per connection, with the server's chain (SESSION_CERTS), would be waste.
    wolfSSL_CTX_set_session_cache_mode(ctx_.get(), WOLFSSL_SESS_CACHE_OFF);
    load_truststore(trust);
    wolfSSL_CTX_set_verify(ctx_.get(),
                           options.verify_server_certificate ? WOLFSSL_VERIFY_PEER : WOLFSSL_VERIFY_NONE,
                           &context::on_verify);

    if (!device.has_certificate())
        return; // credentials::none(): nothing to send when the server asks
    load_chain(device);
    if (const pkcs11_key* in_token = device.token_key()) {
        // The chain loaded first gives wolfSSL the key's type and size; the signatures are the token's.
        const detail::pkcs11_found_key found = detail::find_pkcs11_key(*in_token);
        const detail::parsed_certificate leaf = detail::parsed_or_throw(device.chain().front(), "device certificate");
        if (!detail::same_bytes(leaf.public_key_info, found.public_key_info))
            throw error(errc::private_key_mismatch, "the key " + in_token->uri.text() + " is not the one of " +
                                                        detail::subject_of(device.chain().front()));
        token_ = found.token;
        const int rc = found.named_by_id
                           ? wolfSSL_CTX_use_PrivateKey_Id(ctx_.get(), found.key.id.data(),
                                                           static_cast<long>(found.key.id.size()), token_->device_id())
                           : wolfSSL_CTX_use_PrivateKey_Label(ctx_.get(), found.key.label.c_str(), token_->device_id());
        if (rc != WOLFSSL_SUCCESS)
            throw error(errc::pkcs11_failed, "wolfSSL refused the key " + in_token->uri.text());
        return;
    }
    const auto& key = device.private_key();
    if (key.empty())
        throw error(errc::private_key_malformed, "the credentials hold no private key (already wiped?)");
    if (wolfSSL_CTX_use_PrivateKey_buffer(ctx_.get(), key.data(), static_cast<long>(key.size()),
                                          WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
        throw error(errc::private_key_malformed, "wolfSSL refused the private key");
    if (wolfSSL_CTX_check_private_key(ctx_.get()) != WOLFSSL_SUCCESS)
        throw error(errc::private_key_mismatch,
                    "the key is not the one of " + detail::subject_of(device.chain().front()));
}

C8Y_MTLS_DECL void wolfssl_tls::context::offer_only_what_the_sdk_allows()
{
    std::string list;
    for (const tls_cipher_suite suite : suites_) {
        // Appended piece by piece: `":" + std::string(...)` trips g++ 12's -Wrestrict at -O3.
        if (!list.empty())
            list += ':';
        list += detail::wolfssl_suite_name(suite);
    }
    if (wolfSSL_CTX_set_cipher_list(ctx_.get(), list.c_str()) != WOLFSSL_SUCCESS)
        throw error(errc::tls_handshake_failed, "wolfSSL cannot offer the cipher suites " + list);
    std::vector<int> groups;
    for (const tls_group group : groups_)
        groups.push_back(static_cast<int>(group));
    if (wolfSSL_CTX_set_groups(ctx_.get(), groups.data(), static_cast<int>(groups.size())) != WOLFSSL_SUCCESS)
        throw error(errc::tls_handshake_failed, "wolfSSL cannot offer the key-exchange groups");
    if (wolfSSL_CTX_set1_sigalgs_list(ctx_.get(), detail::wolfssl_signature_algorithms) != WOLFSSL_SUCCESS)
        throw error(errc::tls_handshake_failed, "wolfSSL cannot limit the handshake signature algorithms");
}

C8Y_MTLS_DECL void wolfssl_tls::context::load_truststore(const truststore& trust)
{
    for (const der_certificate& ca : trust.certificates()) {
        detail::parsed_certificate parsed;
        if (detail::parse_certificate(ca, parsed).empty()) {
            if (std::string weak = detail::weak_key_reason(parsed.key); !weak.empty())
                weak_cas_.push_back({std::vector<unsigned char>(parsed.subject.begin(), parsed.subject.end()),
                                     detail::name_text(parsed.subject) + " has " + weak});
        }
    }
    trust_store_ = detail::wolfssl_trust_store::for_certificates(trust.certificates());
    if (!trust_store_->attach(ctx_.get()))
        throw error(errc::tls_handshake_failed, "wolfSSL cannot use the shared truststore");
}

C8Y_MTLS_DECL void wolfssl_tls::context::load_chain(const credentials& device)
{
    std::vector<unsigned char> chain;
    for (const der_certificate& der : device.chain())
        chain.insert(chain.end(), der.begin(), der.end());
    if (wolfSSL_CTX_use_certificate_chain_buffer_format(ctx_.get(), chain.data(), static_cast<long>(chain.size()),
                                                        WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
        throw error(errc::pem_malformed, "wolfSSL refused the device chain");
}

C8Y_MTLS_DECL bool wolfssl_tls::context::offers(std::uint16_t suite) const noexcept
{
    return std::any_of(suites_.begin(), suites_.end(),
                       [&](tls_cipher_suite s) { return static_cast<std::uint16_t>(s) == suite; });
}

C8Y_MTLS_DECL auto wolfssl_tls::context::weak_ca_named(detail::byte_view name) const noexcept -> const std::string*
{
    for (const weak_ca& ca : weak_cas_)
        if (detail::same_name(ca.subject, name))
            return &ca.reason;
    return nullptr;
}

C8Y_MTLS_DECL wolfssl_tls::session::session(context& ctx, std::string_view host)
    : ctx_(ctx), ssl_(wolfSSL_new(ctx.native_handle())),
      server_name_(ctx.options().server_name.empty() ? std::string(host) : ctx.options().server_name)
{
    if (!ssl_)
        throw error(errc::tls_handshake_failed, "wolfSSL session cannot be created");
    wolfSSL_SSLSetIORecv(ssl_.get(), &session::on_receive);
    wolfSSL_SSLSetIOSend(ssl_.get(), &session::on_send);
    wolfSSL_SetIOReadCtx(ssl_.get(), this);
    wolfSSL_SetIOWriteCtx(ssl_.get(), this);
    wolfSSL_set_ex_data(ssl_.get(), 0, this);
    if (!detail::looks_like_ip_literal(server_name_) &&
        wolfSSL_UseSNI(ssl_.get(), WOLFSSL_SNI_HOST_NAME, server_name_.data(),
                       static_cast<unsigned short>(server_name_.size())) != WOLFSSL_SUCCESS)
        throw error(errc::tls_handshake_failed, "SNI cannot be set for " + server_name_);
    // TLS 1.3's first flight carries one key share, for the first group (X25519 by default:
    // a P-256 exchange makes Debian's wolfSSL (FP_ECC) keep about 800 KB of tables).
    wolfSSL_UseKeyShare(ssl_.get(), static_cast<word16>(ctx.groups_.front()));
}

C8Y_MTLS_DECL auto wolfssl_tls::session::handshake() -> tls_status
{
    if (refusal_) {
        failure_ = *refusal_;
        return tls_status::failed;
    }
    const tls_status status = step(wolfSSL_connect(ssl_.get()));
    if (status == tls_status::done && ctx_.options().verify_server_certificate && !server_checked_) {
        // Fail closed: a wolfSSL built without WOLFSSL_ALWAYS_VERIFY_CB skips on_verify.
        failure_ = error(errc::tls_handshake_failed,
                         "wolfSSL did not show the server certificate to the SDK's checks (build it with "
                         "WOLFSSL_ALWAYS_VERIFY_CB, as --enable-opensslall does)");
        return tls_status::failed;
    }
    if (status == tls_status::done) {
        wolfSSL_FreeArrays(ssl_.get()); // kept by wolfSSL under TLS 1.3 for post-handshake auth, never allowed here
        trim_after_handshake_ = true;
        release_if_drained(input_, 1024);
    }
    return status;
}

C8Y_MTLS_DECL auto wolfssl_tls::session::write(std::span<const char> data) -> tls_status
{
    while (!data.empty()) {
        const int n = wolfSSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
        if (n <= 0)
            return step(n);
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return tls_status::done;
}

C8Y_MTLS_DECL auto wolfssl_tls::session::read(std::span<char> out, std::size_t& n) -> tls_status
{
    n = 0;
    const int r = wolfSSL_read(ssl_.get(), out.data(), static_cast<int>(out.size()));
    if (r > 0) {
        n = static_cast<std::size_t>(r);
        return tls_status::done;
    }
    return step(r);
}

C8Y_MTLS_DECL void wolfssl_tls::session::feed(std::span<const char> ciphertext)
{
    input_.append(ciphertext.data(), ciphertext.size());
    if (watching_hello_)
        watch_hello(ciphertext);
}

C8Y_MTLS_DECL void wolfssl_tls::session::consume_output(std::size_t n)
{
    output_.erase(0, n);
    release_if_drained(output_, trim_after_handshake_ ? 1024 : 64 * 1024);
    if (output_.empty())
        trim_after_handshake_ = false; // the handshake's last flight is out
}

C8Y_MTLS_DECL auto wolfssl_tls::session::step(int result) -> tls_status
{
    if (result == WOLFSSL_SUCCESS)
        return tls_status::done;
    const int code = wolfSSL_get_error(ssl_.get(), result);
    if (code == WOLFSSL_ERROR_WANT_READ && !input_closed_)
        return tls_status::want_read;
    failure_ = classify(code);
    return tls_status::failed;
}

C8Y_MTLS_DECL void wolfssl_tls::session::watch_hello(std::span<const char> ciphertext)
{
    constexpr std::size_t enough = 2048; // far more than any ServerHello
    hello_bytes_.insert(hello_bytes_.end(), ciphertext.begin(), ciphertext.end());
    const std::optional<detail::server_hello> hello = detail::read_server_hello(hello_bytes_);
    if (!hello && hello_bytes_.size() <= enough)
        return;
    watching_hello_ = false;
    std::vector<unsigned char>().swap(hello_bytes_);
    if (hello && hello->version < 0x0303)
        refusal_ = error(errc::tls_protocol_version, "the server chose " + detail::tls_version_name(hello->version));
    else if (hello && !ctx_.offers(hello->cipher_suite))
        refusal_ = error(errc::tls_cipher_suite_refused,
                         "the server chose " + detail::tls_cipher_suite_name(hello->cipher_suite) + " (" +
                             detail::tls_code_point(hello->cipher_suite) + ")");
}

C8Y_MTLS_DECL auto wolfssl_tls::session::classify(int code) const -> error
{
    if (refusal_)
        return *refusal_;
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

C8Y_MTLS_DECL void wolfssl_tls::session::note_verify_failure(int err, std::span<const unsigned char> der)
{
    detail::parsed_certificate c;
    const bool parsed = !der.empty() && detail::parse_certificate(der, c).empty();
    const std::string subject = parsed ? detail::name_text(c.subject) : std::string("(unreadable)");
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    switch (err) {
    case ASN_AFTER_DATE_E:
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
        verify_detail_ = subject + (parsed ? " expired on " + format_time(c.not_after) : " expired") +
                         " (checked at " + format_time(now) + ")";
        return;
    case ASN_BEFORE_DATE_E:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
        verify_detail_ = subject +
                         (parsed ? " is not valid before " + format_time(c.not_before) : " is not valid yet") +
                         " (checked at " + format_time(now) + "): check the device clock";
        return;
    }
    if (parsed) {
        if (const std::string* weak = ctx_.weak_ca_named(c.issuer)) {
            refusal_ = error(errc::server_key_too_weak,
                             "the truststore's " + *weak + ", so it does not vouch for " + subject);
            return;
        }
    }
    verify_detail_ = "no CA in the truststore signed " + subject;
    if (parsed)
        verify_detail_ += " (issuer " + detail::name_text(c.issuer) + ")" + signer_sent_for(c);
}

C8Y_MTLS_DECL std::string wolfssl_tls::session::signer_sent_for(const detail::parsed_certificate& c) const
{
    for (const auto& der : peer_chain_) {
        detail::parsed_certificate signer;
        if (der.empty() || !detail::parse_certificate(der, signer).empty() ||
            !detail::same_name(signer.subject, c.issuer))
            continue;
        const std::string name = detail::name_text(signer.subject);
        if (signer.version < 3)
            return ": the server sent " + name + " as its signer, an X.509 v1 certificate, which cannot be a CA";
        if (!signer.has_basic_constraints)
            return ": the server sent " + name + " as its signer, without basicConstraints, so not a CA";
        if (!signer.is_ca)
            return ": the server sent " + name + " as its signer, which is not a CA (basicConstraints CA:FALSE)";
        return ": the server sent its own " + name + " as its signer, not the truststore's CA of that name";
    }
    return {};
}

C8Y_MTLS_DECL int wolfssl_tls::session::on_receive(WOLFSSL*, char* buf, int size, void* self_ptr)
{
    auto* self = static_cast<session*>(self_ptr);
    if (self->input_.empty())
        return self->input_closed_ ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
    const std::size_t n = std::min(static_cast<std::size_t>(size), self->input_.size());
    std::memcpy(buf, self->input_.data(), n);
    self->input_.erase(0, n);
    release_if_drained(self->input_, self->trim_after_handshake_ ? 1024 : 64 * 1024);
    return static_cast<int>(n);
}

C8Y_MTLS_DECL void wolfssl_tls::session::release_if_drained(std::string& buffer, std::size_t keep)
{
    if (buffer.empty() && buffer.capacity() > keep)
        std::string().swap(buffer);
}

C8Y_MTLS_DECL int wolfssl_tls::session::on_send(WOLFSSL*, char* buf, int size, void* self_ptr)
{
    static_cast<session*>(self_ptr)->output_.append(buf, static_cast<std::size_t>(size));
    return size;
}

// wolfSSL presents each certificate of the server's chain here (WOLFSSL_ALWAYS_VERIFY_CB), the
// server certificate last: on it the SDK's own rules judge the whole chain, then wolfSSL's
// verdict is kept with its cause in words. A refusal here ends the handshake with an alert,
// before the client's certificate or any application data is sent.
C8Y_MTLS_DECL int wolfssl_tls::context::on_verify(int preverified, WOLFSSL_X509_STORE_CTX* store)
{
    auto* ssl = static_cast<WOLFSSL*>(
        wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* self = ssl ? static_cast<session*>(wolfSSL_get_ex_data(ssl, 0)) : nullptr;
    if (!self)
        return preverified;
    const tls_options& options = self->ctx_.options();
    if (!options.verify_server_certificate)
        return preverified;
    WOLFSSL_X509* cert = wolfSSL_X509_STORE_CTX_get_current_cert(store);
    const int depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
    int size = 0;
    const unsigned char* der = cert ? wolfSSL_X509_get_der(cert, &size) : nullptr;
    const std::span<const unsigned char> bytes(der, der && size > 0 ? static_cast<std::size_t>(size) : 0);
    if (depth >= 0 && depth < 16) {
        if (self->peer_chain_.size() <= static_cast<std::size_t>(depth))
            self->peer_chain_.resize(static_cast<std::size_t>(depth) + 1);
        self->peer_chain_[static_cast<std::size_t>(depth)].assign(bytes.begin(), bytes.end());
    }
    if (depth == 0) {
        // The SDK's rules speak first: wolfSSL refuses some of the same faults for TLS 1.2 only
        // (keyUsage, extendedKeyUsage), in words of its own.
        std::vector<detail::byte_view> chain(self->peer_chain_.begin(), self->peer_chain_.end());
        self->refusal_ = detail::check_server_certificates(chain, self->server_name_, options.verify_host_name);
        self->server_checked_ = true;
    }
    if (!self->refusal_ && !preverified && self->verify_detail_.empty())
        self->note_verify_failure(wolfSSL_X509_STORE_CTX_get_error(store), bytes);
    if (depth == 0)
        std::vector<std::vector<unsigned char>>().swap(self->peer_chain_);
    if (self->refusal_)
        return 0;
    return preverified;
}

} // namespace c8y::mtls
