// c8y-mtls: predicts, offline, the platform's verdict on a device's certificate chain and names
// the cause of every refusal, where the platform itself answers with a bare TLS alert.
#pragma once

#include "c8y/mtls/config.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/client_id.hpp"
#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/detail/json.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/detail/x509_der.hpp"
#include "c8y/mtls/detail/x509_parse.hpp"
#include "c8y/mtls/detail/x509_pem.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/time_format.hpp"
#include "c8y/mtls/crypto.hpp"

namespace c8y::mtls {

/// Which platform's chain requirements apply.
enum class chain_profile {
    /// The platform guide's: the uploaded CA must be in the chain; at most 2 certificates (the
    /// public cloud's limit; dedicated installations configure more).
    guide,
    /// Newer platform versions': a chain of the device certificate alone is accepted when its
    /// issuer was uploaded; at most 10 certificates.
    current,
};

enum class finding_severity { error, warning };

/// Who refuses what a finding names. The platform is a Java service: its TLS server cuts the
/// device's chain before the first uploaded certificate (the trust anchor) and hands the rest to
/// the JDK's PKIX validator, then applies rules of its own.
enum class finding_basis {
    /// The JDK's PKIX validator refuses it (RFC 5280 path validation, the JDK's certificate
    /// parser and its disabled algorithms): the handshake fails.
    pkix,
    /// A rule of the platform's own (PLATFORM.md): the CN and the client id, the uploaded CA in
    /// the chain, the chain's length, the uploaded certificate's CA:TRUE, the key that signs the
    /// handshake.
    platform,
    /// The guide's rules or a stricter reading than the platform's (RFC 5280's, the web PKI's):
    /// the platform's validator accepts it.
    guide,
};

/// How sure a refusal must be to count as an error.
enum class chain_verdict {
    /// Every rule the guide states is an error (c8y-mtls-doctor's default).
    guide,
    /// Only what the platform certainly refuses (finding_basis pkix or platform) is an error;
    /// what only the guide refuses is a warning. connect() judges this way, so that a device the
    /// platform would accept is never kept offline.
    platform,
};

template <class K = default_crypto, Clock C = std::chrono::system_clock>
class basic_chain_validator;

/// The stable ids of the validator's rules, as reports and c8y-mtls-doctor print them.
namespace chain_rule {
inline constexpr std::string_view parse = "parse";               ///< every certificate is DER X.509
inline constexpr std::string_view version = "version";           ///< CA and uploaded certificates are X.509 v3
inline constexpr std::string_view order = "order";               ///< each certificate is followed by its signer (names, key ids)
inline constexpr std::string_view signature = "signature";       ///< each signature verifies with the next certificate's key
inline constexpr std::string_view ca_flag = "ca-flag";           ///< every signer has basicConstraints CA:TRUE
inline constexpr std::string_view path_length = "path-length";   ///< pathLenConstraint respected along the chain
inline constexpr std::string_view key_usage = "key-usage";       ///< a signer's keyUsage, when present, has keyCertSign
inline constexpr std::string_view leaf_not_ca = "leaf-not-ca";   ///< the device certificate is not a CA
inline constexpr std::string_view trust = "trust";               ///< the chain ends in, or is signed by, an uploaded certificate
inline constexpr std::string_view ca_included = "ca-included";   ///< the profile's rule on the uploaded CA being in the chain
inline constexpr std::string_view chain_length = "chain-length"; ///< at most the profile's (or configured) number of certificates
inline constexpr std::string_view validity = "validity";         ///< within notBefore..notAfter at the time checked
inline constexpr std::string_view expires_soon = "expires-soon"; ///< warning: notAfter within the margin
inline constexpr std::string_view key_strength = "key-strength"; ///< RSA >= 2048 bits, EC on P-256/P-384/P-521
inline constexpr std::string_view signature_hash = "signature-hash"; ///< signed with SHA-256 or stronger
inline constexpr std::string_view common_name = "common-name";   ///< the device certificate's CN present, without ':'
inline constexpr std::string_view client_id = "client-id";       ///< the client id's device identifier is the CN
inline constexpr std::string_view private_key = "private-key";   ///< the private key is the device certificate's
inline constexpr std::string_view critical_extension = "critical-extension";   ///< no critical extension the platform's validator does not process
inline constexpr std::string_view duplicate_extension = "duplicate-extension"; ///< no extension twice in one certificate
inline constexpr std::string_view aia_critical = "aia-critical";  ///< authorityInfoAccess is not critical
inline constexpr std::string_view aia_malformed = "aia-malformed"; ///< warning: authorityInfoAccess is a list of access descriptions
inline constexpr std::string_view basic_constraints_critical = "basic-constraints-critical"; ///< warning: a CA's basicConstraints is critical
inline constexpr std::string_view leaf_key_usage = "leaf-key-usage"; ///< warning: the device certificate's keyUsage has no keyCertSign
inline constexpr std::string_view leaf_path_length = "leaf-path-length"; ///< warning: the device certificate has no pathLenConstraint
} // namespace chain_rule

/// One thing the validator found.
struct chain_finding {
    std::string_view rule; ///< one of chain_rule
    finding_severity severity = finding_severity::error;
    /// Who refuses it; under chain_verdict::platform a `guide` finding is a warning.
    finding_basis basis = finding_basis::pkix;
    /// Position in the chain as sent (0: the device certificate). Empty for an uploaded
    /// certificate that is not in the chain, and for the chain as a whole.
    std::optional<std::size_t> index;
    std::string subject; ///< the certificate's subject, "/CN=device-0001"; empty for the chain as a whole
    std::string message; ///< what is wrong and what to do about it
};

/// What the validator read from one certificate of the chain.
struct chain_certificate {
    bool parsed = false; ///< false: only `subject` says anything ("(unparsable)")
    std::string subject;
    std::string issuer;
    std::chrono::sys_seconds not_before{};
    std::chrono::sys_seconds not_after{};
    std::string key;       ///< "RSA 2048", "EC P-256", ...
    std::string signature; ///< "RSA PKCS#1 v1.5 with SHA-256", ...
};

/// The validator's verdict: every finding, in chain order (findings about the chain as a whole
/// and uploaded certificates outside it last).
class chain_report {
public:
    /// True when no error was found: the platform would accept the chain (warnings allowed).
    bool ok() const noexcept { return errors_ == 0; }
    const std::vector<chain_finding>& findings() const noexcept { return findings_; }
    const std::vector<chain_certificate>& certificates() const noexcept { return certificates_; }
    std::size_t error_count() const noexcept { return errors_; }
    std::size_t warning_count() const noexcept { return findings_.size() - errors_; }

    /// The first error, or nullptr when ok().
    C8Y_MTLS_DECL const chain_finding* first_error() const noexcept;
    /// True when a finding of `rule` with `severity` is in the report.
    C8Y_MTLS_DECL bool has(std::string_view rule, finding_severity severity = finding_severity::error) const noexcept;

    chain_profile profile() const noexcept { return profile_; }
    std::size_t max_chain_length() const noexcept { return max_chain_length_; }
    /// The time the validity windows were checked at.
    std::chrono::sys_seconds checked_at() const noexcept { return at_; }
    /// False when no uploaded certificate was given, so that the rules that need one were skipped.
    bool checked_trust() const noexcept { return checked_trust_; }
    /// Which findings count as errors (chain_validator_options::verdict).
    chain_verdict verdict() const noexcept { return verdict_; }

    /// The first error as the exception connect() throws: errc::chain_rejected, with a detail
    /// naming the rule, the certificate and the cause ("order: certificate 1 (/CN=ca): ...").
    /// On a report without error, an errc::invalid_argument error saying so.
    C8Y_MTLS_DECL error to_error() const;

    /// Throws to_error() unless ok().
    C8Y_MTLS_DECL void throw_if_rejected() const;

    /// The report as one JSON object: {"ok":..,"profile":..,"max_chain_length":..,"checked_at":..,
    /// "checked_trust":..,"verdict":..,"errors":..,"warnings":..,"certificates":[..],"findings":[..]},
    /// each finding {"rule":..,"severity":..,"basis":..,"index":..,"subject":..,"message":..}.
    C8Y_MTLS_DECL std::string to_json() const;

private:
    template <class K, Clock C>
    friend class basic_chain_validator;

    std::vector<chain_finding> findings_;
    std::vector<chain_certificate> certificates_;
    std::size_t errors_ = 0;
    chain_profile profile_ = chain_profile::guide;
    std::size_t max_chain_length_ = 2;
    std::chrono::sys_seconds at_{};
    bool checked_trust_ = false;
    chain_verdict verdict_ = chain_verdict::guide;
};

/// "pkix", "platform" or "guide", as reports print a finding's basis.
C8Y_MTLS_DECL std::string_view basis_name(finding_basis basis) noexcept;

struct chain_validator_options {
    chain_profile profile = chain_profile::guide;
    /// Most certificates a chain may have; empty: the profile's (2 for guide, 10 for current).
    std::optional<std::size_t> max_chain_length;
    /// A certificate that expires within this margin gets an expires-soon warning.
    std::chrono::seconds expiry_margin = std::chrono::days(30);
    /// The time to check validity at; empty: the Clock's now().
    std::optional<std::chrono::sys_seconds> at;
    /// Which findings are errors: all the guide's rules, or only what the platform certainly refuses.
    chain_verdict verdict = chain_verdict::guide;
};

/// Judges a device chain the way the platform will, offline.
///
/// `K` provides the cryptography (the Crypto policy: wolfSSL's by default), `C` the time
/// (Clock). The validator holds the certificates uploaded to the platform as trusted, parsed
/// once; validate() is const and may run on several threads at once. Copies share the
/// uploaded certificates.
template <class K, Clock C>
class basic_chain_validator {
    static_assert(Crypto<K>, "K must model the Crypto policy (crypto.hpp); the default, wolfSSL's, is declared by "
                             "c8y/mtls/wolfssl/crypto.hpp (c8y/mtls.hpp includes it)");

public:
    /// `trusted`: the certificates uploaded to the tenant (DER), possibly none: then the rules
    /// that need them (trust; the current profile's leaf-only allowance; the uploaded CA's own
    /// checks) are skipped. Throws error(errc::trusted_certificate_malformed) naming the
    /// certificate when one is not DER X.509.
    explicit basic_chain_validator(std::vector<der_certificate> trusted = {}, chain_validator_options options = {})
        : trusted_(std::make_shared<trusted_set>()), options_(options)
    {
        trusted_->der = std::move(trusted);
        trusted_->parsed.resize(trusted_->der.size());
        for (std::size_t i = 0; i < trusted_->der.size(); ++i) {
            const std::string why = detail::parse_certificate(trusted_->der[i], trusted_->parsed[i]);
            if (!why.empty())
                throw error(errc::trusted_certificate_malformed,
                            "uploaded certificate " + std::to_string(i + 1) + " of " +
                                std::to_string(trusted_->der.size()) + ": " + why);
            trusted_->summaries.push_back(run::summary_of(trusted_->parsed[i]));
        }
    }

    const chain_validator_options& options() const noexcept { return options_; }
    std::size_t trusted_count() const noexcept { return trusted_->der.size(); }

    /// Validates `chain` (DER, as it will be sent: the device certificate first), with the
    /// device's DER private key when not empty and the MQTT client id (wire form, "d:dev-1")
    /// when given. Never throws for bad certificates: they are findings.
    chain_report validate(std::span<const der_certificate> chain, std::span<const unsigned char> private_key = {},
                          std::optional<std::string_view> client_id = std::nullopt) const
    {
        run r(*this, chain, private_key, nullptr, client_id);
        return r.finish();
    }

    /// Validates loaded credentials: their chain, and their private key unless it was wiped (a
    /// key in a token: its public key against the certificate's).
    chain_report validate(const credentials& device, std::optional<std::string_view> client_id = std::nullopt) const
    {
        const secure_bytes& key = device.private_key();
        run r(*this, device.chain(), std::span<const unsigned char>(key.data(), key.size()), device.token_key(),
              client_id);
        return r.finish();
    }

private:
    struct trusted_set {
        std::vector<der_certificate> der;
        std::vector<detail::parsed_certificate> parsed;
        std::vector<chain_certificate> summaries;
    };

    // One validation: the chain read once, then every rule in turn.
    class run {
    public:
        run(const basic_chain_validator& v, std::span<const der_certificate> chain,
            std::span<const unsigned char> private_key, const pkcs11_key* token_key,
            std::optional<std::string_view> client_id)
            : v_(v), chain_(chain), n_(chain.size()), parsed_(chain.size()), ok_(chain.size(), 0)
        {
            report_.profile_ = v.options_.profile;
            report_.max_chain_length_ = v.options_.max_chain_length.value_or(
                v.options_.profile == chain_profile::guide ? 2 : 10);
            report_.at_ = v.options_.at.value_or(std::chrono::time_point_cast<std::chrono::seconds>(C::now()));
            report_.checked_trust_ = !v.trusted_->der.empty();
            report_.verdict_ = v.options_.verdict;
            at_ = report_.at_;
            read_chain();
            if (n_ == 0) {
                add(chain_rule::parse, std::nullopt, "",
                    "the chain holds no certificate: give the device certificate first, then each signer up to the "
                    "uploaded CA",
                    finding_basis::pkix);
                return;
            }
            find_anchor();
            find_path_end();
            check_pairs();
            check_signers();
            check_leaf(private_key, token_key, client_id);
            check_each_certificate();
            check_anchor();
            check_chain_length();
        }

        chain_report finish()
        {
            // Chain order first; findings about the chain as a whole or outside it last.
            std::stable_sort(report_.findings_.begin(), report_.findings_.end(),
                             [](const chain_finding& a, const chain_finding& b) {
                                 return a.index.value_or(SIZE_MAX) < b.index.value_or(SIZE_MAX);
                             });
            return std::move(report_);
        }

    private:
        using parsed = detail::parsed_certificate;

        void add(std::string_view rule, std::optional<std::size_t> index, std::string subject, std::string message,
                 finding_basis basis, finding_severity severity = finding_severity::error)
        {
            if (basis == finding_basis::guide && v_.options_.verdict == chain_verdict::platform)
                severity = finding_severity::warning;
            if (severity == finding_severity::error)
                ++report_.errors_;
            report_.findings_.push_back({rule, severity, basis, index, std::move(subject), std::move(message)});
        }
        void add_at(std::string_view rule, std::size_t i, std::string message, finding_basis basis,
                    finding_severity severity = finding_severity::error)
        {
            add(rule, i, report_.certificates_[i].subject, std::move(message), basis, severity);
        }

        // ---- what the platform's validator reads -----------------------------------------------

        // The platform's TLS server (the JDK's) cuts the chain before its first uploaded
        // certificate, which becomes the trust anchor, and validates the certificates below it
        // only: path_end_ of them. Without uploaded certificates (connect()), the first
        // self-issued certificate after the device certificate, or else the last one, may be
        // that anchor, so what the JDK skips on an anchor is not held against it.
        void find_path_end()
        {
            if (!v_.trusted_->der.empty()) {
                path_end_ = anchor_index_.value_or(n_);
                return;
            }
            path_end_ = n_ > 1 ? n_ - 1 : n_;
            for (std::size_t i = 1; i < n_; ++i)
                if (ok_[i] && parsed_[i].self_issued()) {
                    path_end_ = i;
                    return;
                }
        }

        bool in_path(std::optional<std::size_t> index) const { return index && *index < path_end_; }

        // Who refuses a defect that the JDK checks on the certificates of the path: the JDK there,
        // `at_anchor` on the uploaded certificate (an empty index: uploaded, outside the chain),
        // nobody past it.
        finding_basis path_basis(std::optional<std::size_t> index, finding_basis at_anchor = finding_basis::guide) const
        {
            if (in_path(index))
                return finding_basis::pkix;
            return !index || *index == path_end_ ? at_anchor : finding_basis::guide;
        }

        // Who refuses a signer that is no version 3 CA: the JDK takes a version 1 or 2
        // certificate as a CA only when it is self-issued and right below the anchor (a key
        // rollover, RFC 5280 6.1.4 (k)'s out-of-band case); the platform refuses to upload a
        // certificate without CA:TRUE.
        finding_basis ca_basis(const parsed& c, std::optional<std::size_t> index) const
        {
            if (c.version < 3 && c.self_issued() && index && *index + 1 == path_end_)
                return finding_basis::guide;
            return path_basis(index, finding_basis::platform);
        }

        std::string label(std::size_t i) const { return "certificate " + std::to_string(i); }

        void read_chain()
        {
            report_.certificates_.resize(n_);
            for (std::size_t i = 0; i < n_; ++i) {
                chain_certificate& summary = report_.certificates_[i];
                // The uploaded certificate, sent as it was uploaded, was read once already.
                const auto& trusted = v_.trusted_->parsed;
                const auto same = std::find_if(trusted.begin(), trusted.end(), [&](const parsed& t) {
                    return detail::same_bytes(t.der, chain_[i]);
                });
                if (same != trusted.end()) {
                    ok_[i] = 1;
                    parsed_[i] = *same;
                    summary = v_.trusted_->summaries[static_cast<std::size_t>(same - trusted.begin())];
                    continue;
                }
                const std::string why = detail::parse_certificate(chain_[i], parsed_[i]);
                if (!why.empty()) {
                    summary.subject = "(unparsable)";
                    add_at(chain_rule::parse, i,
                           "certificate " + std::to_string(i) + " is not a DER X.509 certificate (" + why +
                               "): export it again from the CA that made it",
                           finding_basis::pkix);
                    continue;
                }
                ok_[i] = 1;
                summary = summary_of(parsed_[i]);
            }
        }

    public:
        static chain_certificate summary_of(const parsed& c)
        {
            chain_certificate summary;
            summary.parsed = true;
            summary.subject = detail::name_text(c.subject);
            summary.issuer = detail::name_text(c.issuer);
            summary.not_before = c.not_before;
            summary.not_after = c.not_after;
            summary.key = detail::key_text(c.key);
            summary.signature = detail::signature_text(c.signature_algorithm);
            return summary;
        }

    private:
        // ---- trust anchor ----------------------------------------------------------------

        bool is_trusted(const parsed& c, std::size_t& which) const
        {
            const auto& t = v_.trusted_->parsed;
            for (std::size_t k = 0; k < t.size(); ++k)
                if (detail::same_bytes(c.der, t[k].der) ||
                    (detail::same_name(c.subject, t[k].subject) &&
                     detail::same_bytes(c.public_key_info, t[k].public_key_info))) {
                    which = k;
                    return true;
                }
            return false;
        }

        void find_anchor()
        {
            if (v_.trusted_->der.empty())
                return;
            for (std::size_t i = 0; i < n_; ++i) {
                std::size_t which = 0;
                if (ok_[i] && is_trusted(parsed_[i], which)) {
                    anchor_ = which;
                    anchor_index_ = i;
                    return;
                }
            }
            // Not in the chain: an uploaded certificate that signed the last one.
            const std::size_t last = n_ - 1;
            if (!ok_[last])
                return;
            const parsed& c = parsed_[last];
            const auto& t = v_.trusted_->parsed;
            for (std::size_t k = 0; k < t.size(); ++k) {
                if (!detail::same_name(c.issuer, t[k].subject))
                    continue;
                named_signer_uploaded_ = true;
                if (c.signature_algorithm.known && signed_by(c, t[k])) {
                    anchor_ = k;
                    return;
                }
            }
        }

        bool signed_by(const parsed& c, const parsed& signer) const
        {
            signature_check check;
            check.scheme = c.signature_algorithm.scheme;
            check.hash = c.signature_algorithm.hash;
            check.pss_salt_length = c.signature_algorithm.pss_salt_length;
            check.signed_data = c.tbs;
            check.signature = c.signature;
            check.public_key = signer.public_key_info;
            return K::verify_signature(check);
        }

        // ---- order and signatures ---------------------------------------------------------

        std::optional<std::size_t> duplicate_of(std::size_t i) const
        {
            for (std::size_t k = 0; k < i; ++k)
                if (detail::same_bytes(chain_[k], chain_[i]))
                    return k;
            return std::nullopt;
        }

        void check_pairs()
        {
            for (std::size_t i = 0; i + 1 < n_; ++i) {
                if (!ok_[i] || !ok_[i + 1])
                    continue;
                const parsed& c = parsed_[i];
                const parsed& next = parsed_[i + 1];
                if (const auto k = duplicate_of(i + 1)) {
                    add_at(chain_rule::order, i,
                           label(i) + " is followed by a second copy of certificate " + std::to_string(*k) +
                               ": remove the duplicate so that each certificate is followed by the one that signed it",
                           path_basis(i));
                    continue;
                }
                if (!detail::same_name(c.issuer, next.subject)) {
                    std::string message;
                    if (c.self_issued())
                        message = label(i) + " is self-signed, so the chain must end with it, but " +
                                  (i + 2 == n_ ? std::string("1 more follows: remove it")
                                               : std::to_string(n_ - 1 - i) + " more follow: remove them") +
                                  ", or move this certificate to the end";
                    else
                        message = label(i) + " was issued by " + report_.certificates_[i].issuer +
                                  ", but the next certificate is " + report_.certificates_[i + 1].subject +
                                  ": each certificate must be followed by the one that signed it" + signer_hint(i);
                    add_at(chain_rule::order, i, std::move(message), path_basis(i));
                    continue;
                }
                if (!c.authority_key_id.empty() && !next.subject_key_id.empty() &&
                    !detail::same_bytes(c.authority_key_id, next.subject_key_id)) {
                    add_at(chain_rule::order, i,
                           label(i) + " names its signer's key " + hex(c.authority_key_id) + ", but certificate " +
                               std::to_string(i + 1) + " has key " + hex(next.subject_key_id) +
                               ": the next certificate has the signer's name but another key (a CA made again under "
                               "the same name?); put the CA that signed it after it",
                           path_basis(i));
                    continue;
                }
                if (c.signature_algorithm.known && checkable(next.key) && !signed_by(c, next))
                    add_at(chain_rule::signature, i,
                           "the signature of " + label(i) + " does not verify with the key of certificate " +
                               std::to_string(i + 1) + " (" + report_.certificates_[i + 1].subject +
                               "): it was signed by another key of the same name (a CA made again?) or was altered",
                           path_basis(i));
            }
        }

        std::string signer_hint(std::size_t i) const
        {
            // Looking through the chain for the real signer is quadratic: only for chains of sane length.
            if (n_ > 64)
                return {};
            for (std::size_t j = 0; j < n_; ++j)
                if (j != i + 1 && j != i && ok_[j] && detail::same_name(parsed_[i].issuer, parsed_[j].subject))
                    return "; certificate " + std::to_string(j) + " is its signer: put it right after it";
            return "; the chain does not hold its signer";
        }

        static bool checkable(const detail::x509_public_key& key)
        {
            return key.type == detail::x509_key_type::rsa || key.type == detail::x509_key_type::ec;
        }

        // ---- signers -----------------------------------------------------------------------

        // The number of CA certificates between the device certificate and position `j`
        // that count for pathLenConstraint (self-issued ones do not, RFC 5280 6.1.4).
        std::size_t intermediates_below(std::size_t j) const
        {
            std::size_t count = 0;
            for (std::size_t k = 1; k < j && k < n_; ++k)
                if (!ok_[k] || !parsed_[k].self_issued())
                    ++count;
            return count;
        }

        void check_signer(const parsed& c, std::size_t position, std::optional<std::size_t> index,
                          const std::string& subject, const std::string& who)
        {
            const std::string signee = position == 1 ? "the device certificate" : "certificate " + std::to_string(position - 1);
            if (!c.has_basic_constraints)
                add(chain_rule::ca_flag, index, subject,
                    who + " signs " + signee +
                        " but has no basicConstraints extension: the platform requires CA:TRUE on every certificate "
                        "that signs another (issue it with the guide's v3_ca extensions)",
                    ca_basis(c, index));
            else if (!c.is_ca)
                add(chain_rule::ca_flag, index, subject,
                    who + " signs " + signee +
                        " but its basicConstraints say CA:FALSE: the platform requires CA:TRUE on every certificate "
                        "that signs another (issue it with the guide's v3_ca extensions)",
                    ca_basis(c, index));
            if (c.has_key_usage && !c.key_cert_sign)
                add(chain_rule::key_usage, index, subject,
                    who + " signs certificates but its keyUsage lacks keyCertSign: issue it with keyUsage = "
                          "digitalSignature, cRLSign, keyCertSign (the guide's v3_ca)",
                    path_basis(index));
            if (c.path_length) {
                const std::size_t below = intermediates_below(position);
                if (below > *c.path_length)
                    add(chain_rule::path_length, index, subject,
                        who + " allows " + std::to_string(*c.path_length) + " CA certificate" +
                            (*c.path_length == 1 ? "" : "s") + " below it (pathlen:" + std::to_string(*c.path_length) +
                            "), but " + std::to_string(below) +
                            " stand between it and the device certificate: raise its pathlen or shorten the chain",
                        path_basis(index));
            }
        }

        void check_signers()
        {
            for (std::size_t i = 1; i < n_; ++i)
                if (ok_[i] && !duplicate_of(i))
                    check_signer(parsed_[i], i, i, report_.certificates_[i].subject, label(i));
        }

        // ---- the device certificate ---------------------------------------------------------

        void check_leaf(std::span<const unsigned char> private_key, const pkcs11_key* token_key,
                        std::optional<std::string_view> client_id)
        {
            if (!ok_[0])
                return;
            const parsed& leaf = parsed_[0];
            // The JDK does not mind a device certificate that could sign others; the guide does.
            if (leaf.is_ca)
                add_at(chain_rule::leaf_not_ca, 0,
                       "the device certificate has basicConstraints CA:TRUE: issue it with the guide's v3_signed "
                       "extensions (CA:FALSE)",
                       finding_basis::guide);
            else if (leaf.has_key_usage && leaf.key_cert_sign)
                add_at(chain_rule::leaf_key_usage, 0,
                       "the device certificate's keyUsage has keyCertSign, but it is no CA: the platform accepts it, "
                       "other verifiers may not; issue it with the guide's v3_signed keyUsage",
                       finding_basis::guide, finding_severity::warning);
            // RFC 5280 gives pathLenConstraint a meaning on CAs only: the JDK ignores it here.
            if (!leaf.is_ca && leaf.path_length)
                add_at(chain_rule::leaf_path_length, 0,
                       "the device certificate has pathlen:" + std::to_string(*leaf.path_length) +
                           " without CA:TRUE: it means nothing there and the platform ignores it, but RFC 5280 "
                           "allows it on CAs only and strict verifiers refuse it; issue it with the guide's v3_signed "
                           "basicConstraints (CA:FALSE alone)",
                       finding_basis::guide, finding_severity::warning);
            const std::optional<std::string> cn = detail::common_name(leaf.subject);
            if (!cn || cn->empty())
                add_at(chain_rule::common_name, 0,
                       "the device certificate has no CN: the platform takes the device identifier from it",
                       finding_basis::platform);
            else if (cn->find(':') != std::string::npos)
                add_at(chain_rule::common_name, 0,
                       "the device certificate's CN " + detail::quoted(*cn) +
                           " contains ':', which separates the parts of the MQTT client id: the platform cannot take "
                           "it as a device identifier",
                       finding_basis::platform);
            if (client_id) {
                try {
                    const auto id = mtls::client_id::parse(*client_id);
                    if (cn && id.device_id != *cn)
                        add_at(chain_rule::client_id, 0,
                               "the client id " + detail::quoted(*client_id) + " names the device " +
                                   detail::quoted(id.device_id) + ", but the device certificate's CN is " +
                                   detail::quoted(*cn) + ": they must be equal (connect as \"d:" + *cn + "\")",
                               finding_basis::platform);
                } catch (const error& e) {
                    add_at(chain_rule::client_id, 0, e.detail(), finding_basis::platform);
                }
            }
            if (token_key && !detail::same_bytes(token_key->public_key_info, leaf.public_key_info))
                add_at(chain_rule::private_key, 0,
                       "the key " + token_key->uri.text() +
                           " in the token is not the one of the device certificate: use the certificate requested "
                           "with that key",
                       finding_basis::platform);
            if (!private_key.empty()) {
                const key_match match = K::private_key_matches(private_key, leaf.public_key_info);
                if (match == key_match::differs)
                    add_at(chain_rule::private_key, 0,
                           "the private key is not the one of the device certificate: use the key the certificate "
                           "was requested with",
                           finding_basis::platform);
                else if (match == key_match::unreadable)
                    add_at(chain_rule::private_key, 0,
                           "the private key cannot be read as an RSA or EC key (PKCS#8, PKCS#1 or SEC1 DER)",
                           finding_basis::platform);
            }
        }

        // ---- every certificate ---------------------------------------------------------------

        // The JDK does not check the anchor's dates: an expired uploaded CA is the guide's concern.
        void check_dates(const parsed& c, std::optional<std::size_t> index, const std::string& subject,
                         const std::string& who)
        {
            if (at_ < c.not_before)
                add(chain_rule::validity, index, subject,
                    who + " is not valid before " + format_time(c.not_before) + " (checked at " + format_time(at_) +
                        "): wait, or check the device's clock",
                    path_basis(index));
            else if (at_ > c.not_after)
                add(chain_rule::validity, index, subject,
                    who + " expired on " + format_time(c.not_after) + " (checked at " + format_time(at_) +
                        "): renew it",
                    path_basis(index));
            else if (c.not_after - at_ < v_.options_.expiry_margin)
                add(chain_rule::expires_soon, index, subject,
                    who + " expires on " + format_time(c.not_after) + ", within " +
                        std::to_string(std::chrono::duration_cast<std::chrono::hours>(c.not_after - at_).count() / 24) +
                        " days of " + format_time(at_) + ": renew it before then",
                    finding_basis::guide, finding_severity::warning);
        }

        // The JDK refuses RSA keys under 1024 bits (jdk.certpath.disabledAlgorithms), the anchor's
        // too, and cannot verify with EC keys off P-256, P-384 and P-521; the rest is the guide's.
        void check_key(const parsed& c, std::optional<std::size_t> index, const std::string& subject,
                       const std::string& who)
        {
            using detail::x509_key_type;
            const auto& key = c.key;
            if (key.type == x509_key_type::rsa && key.bits < 2048)
                add(chain_rule::key_strength, index, subject,
                    who + " has an RSA key of " + std::to_string(key.bits) +
                        " bits: the guide asks for 2048 bits or more (1024 and fewer are unsafe" +
                        (key.bits < 1024 ? ", and the platform's validator refuses them)" : ")"),
                    key.bits < 1024 ? path_basis(index, finding_basis::pkix) : finding_basis::guide);
            else if (key.type == x509_key_type::ec && key.curve == detail::x509_curve::other)
                // The device's key signs the handshake, which the platform then cannot verify.
                add(chain_rule::key_strength, index, subject,
                    who + " has an EC key on curve " +
                        (key.parameter.empty() ? std::string("(explicit parameters)") : detail::der::oid_text(key.parameter)) +
                        ", which the platform cannot use: use P-256, P-384 or P-521",
                    index == 0 ? finding_basis::platform : path_basis(index, finding_basis::pkix));
            else if (key.type != x509_key_type::rsa && key.type != x509_key_type::ec)
                add(chain_rule::key_strength, index, subject,
                    who + " has a " + detail::key_text(key) +
                        " key: use RSA (2048 bits or more) or EC on P-256, P-384 or P-521",
                    finding_basis::guide);
        }

        // The JDK refuses MD5 (jdk.certpath.disabledAlgorithms) and takes SHA-1 and SHA-224.
        void check_signature_hash(const parsed& c, std::size_t i)
        {
            const auto& alg = c.signature_algorithm;
            if (!alg.known)
                add_at(chain_rule::signature_hash, i,
                       label(i) + " is signed with " + detail::signature_text(alg) +
                           ", which the guide's rules do not name: sign it with RSA or ECDSA and SHA-256 or stronger",
                       finding_basis::guide);
            else if (alg.hash == hash_function::md5)
                add_at(chain_rule::signature_hash, i,
                       label(i) + " is signed with MD5, which is broken and which the platform's validator refuses: "
                                  "issue it again with -md sha256",
                       path_basis(i));
            else if (alg.hash == hash_function::sha1 || alg.hash == hash_function::sha224)
                add_at(chain_rule::signature_hash, i,
                       label(i) + " is signed with " + std::string(detail::hash_text(alg.hash)) +
                           ": the guide's rules need SHA-256 or stronger (SHA-1 is broken); issue it again with -md "
                           "sha256",
                       finding_basis::guide);
        }

        // RFC 5280 4.2: a certificate holds each extension once, and a verifier refuses one with a
        // critical extension it does not process. The JDK parses every certificate of the chain,
        // so a second copy is refused anywhere; critical extensions it judges on the path only.
        void check_extensions(const parsed& c, std::optional<std::size_t> index, const std::string& subject,
                              const std::string& who)
        {
            if (!c.duplicate_extension.empty())
                add(chain_rule::duplicate_extension, index, subject,
                    who + " has the extension " + detail::der::oid_text(c.duplicate_extension) +
                        " twice, which the platform's certificate parser refuses: issue it again with each "
                        "extension once",
                    index ? finding_basis::pkix : finding_basis::platform);
            const finding_severity on_path = in_path(index) ? finding_severity::error : finding_severity::warning;
            const std::string beyond =
                in_path(index) ? "" : " (the platform's validator does not read the uploaded CA's extensions, "
                                      "other verifiers do)";
            if (!c.critical_unprocessed.empty())
                add(chain_rule::critical_extension, index, subject,
                    who + " has the extension " + detail::der::oid_text(c.critical_unprocessed) +
                        " marked critical, which the platform's validator does not know and so must refuse" + beyond +
                        ": issue it without that extension, or with it non-critical",
                    path_basis(index), on_path);
            if (c.aia_critical)
                add(chain_rule::aia_critical, index, subject,
                    who + " has its authorityInfoAccess extension marked critical, which RFC 5280 4.2.2.1 forbids and "
                          "the platform's validator refuses" + beyond + ": issue it with authorityInfoAccess "
                          "non-critical",
                    path_basis(index), on_path);
            if (c.aia_malformed)
                add(chain_rule::aia_malformed, index, subject,
                    who + " has an authorityInfoAccess extension that is not a list of access descriptions: the "
                          "platform ignores it, but tools that fetch issuers from it will fail",
                    finding_basis::guide, finding_severity::warning);
            if (c.is_ca && !c.basic_constraints_critical)
                add(chain_rule::basic_constraints_critical, index, subject,
                    who + " is a CA whose basicConstraints is not marked critical: the platform accepts it, RFC 5280 "
                          "4.2.1.9 and other verifiers want it critical (the guide's v3_ca marks it so)",
                    finding_basis::guide, finding_severity::warning);
        }

        void check_each_certificate()
        {
            for (std::size_t i = 0; i < n_; ++i) {
                // A copy says nothing new; the order rule already names it.
                if (!ok_[i] || duplicate_of(i))
                    continue;
                const parsed& c = parsed_[i];
                const std::string& subject = report_.certificates_[i].subject;
                if (i > 0 && c.version != 3)
                    add_at(chain_rule::version, i,
                           label(i) + " is X.509 version " + std::to_string(c.version) +
                               ": the platform requires version 3 for CA certificates (issue it with the guide's v3_ca "
                               "extensions)",
                           ca_basis(c, i));
                check_dates(c, i, subject, label(i));
                check_key(c, i, subject, label(i));
                check_extensions(c, i, subject, label(i));
                // The uploaded certificate's own signature, and a self-signed end of the chain's, are
                // not relied on by anyone.
                const bool anchor = anchor_index_ && i == *anchor_index_;
                const bool self_signed_end = i == n_ - 1 && c.self_issued();
                if (!anchor && !self_signed_end)
                    check_signature_hash(c, i);
            }
        }

        // ---- the uploaded certificate and the profile ------------------------------------------

        void check_anchor()
        {
            const bool given = !v_.trusted_->der.empty();
            const std::size_t last = n_ - 1;
            if (given && !anchor_) {
                if (ok_[last]) {
                    const parsed& c = parsed_[last];
                    const std::string& issuer = report_.certificates_[last].issuer;
                    std::string message;
                    if (named_signer_uploaded_)
                        message = "an uploaded certificate is named " + issuer + ", but its key did not sign " +
                                  label(last) +
                                  ": the uploaded CA and the one that signed the chain differ (a CA made again?); "
                                  "upload the CA that signed it";
                    else if (c.self_issued())
                        message = "the chain ends with the self-signed " + report_.certificates_[last].subject +
                                  ", which is not among the uploaded certificates: upload it to the tenant's trusted "
                                  "certificates";
                    else
                        message = label(last) + " is not an uploaded certificate and none of them signed it (its "
                                                "issuer is " +
                                  issuer + "): upload " + issuer +
                                  " to the tenant's trusted certificates, or complete the chain up to an uploaded one";
                    add_at(chain_rule::trust, last, std::move(message), finding_basis::pkix);
                } else {
                    add_at(chain_rule::trust, last,
                           "the chain ends with a certificate that cannot be read, so it cannot lead to an uploaded one",
                           finding_basis::pkix);
                }
                return;
            }
            if (anchor_ && !anchor_index_) {
                // The uploaded certificate signed the chain's last one but is not in the chain.
                const parsed& t = v_.trusted_->parsed[*anchor_];
                const std::string subject = detail::name_text(t.subject);
                const std::string who = "the uploaded certificate " + subject;
                if (t.version != 3)
                    add(chain_rule::version, std::nullopt, subject,
                        who + " is X.509 version " + std::to_string(t.version) +
                            ": the platform accepts version 3 uploads only",
                        finding_basis::platform);
                check_signer(t, n_, std::nullopt, subject, who);
                check_dates(t, std::nullopt, subject, who);
                check_key(t, std::nullopt, subject, who);
                check_extensions(t, std::nullopt, subject, who);
                const bool leaf_only_allowed = v_.options_.profile == chain_profile::current && n_ == 1;
                if (!leaf_only_allowed)
                    add(chain_rule::ca_included, std::nullopt, subject,
                        std::string(v_.options_.profile == chain_profile::guide
                                         ? "the platform requires the uploaded CA in the chain"
                                         : "the current platform accepts the device certificate alone when its issuer "
                                           "was uploaded, but not a partial chain") +
                            ": append " + subject + " after " + label(last),
                        finding_basis::platform);
            }
            if (!given && v_.options_.profile == chain_profile::guide && n_ == 1 && ok_[0])
                add(chain_rule::ca_included, std::nullopt, "",
                    "the chain holds only the device certificate: the platform requires the uploaded CA in the chain; "
                    "append it (cat deviceCert.pem caCert.pem > deviceCertChain.pem)",
                    finding_basis::platform);
        }

        void check_chain_length()
        {
            const std::size_t max = report_.max_chain_length_;
            if (n_ <= max)
                return;
            std::string message = "the chain has " + std::to_string(n_) + " certificates, ";
            if (v_.options_.max_chain_length)
                message += "more than the " + std::to_string(max) + " this installation accepts";
            else if (v_.options_.profile == chain_profile::guide)
                message += "more than the public cloud's limit of 2 (the device certificate and the uploaded CA, no "
                           "intermediate); a dedicated installation can allow more (max_chain_length, "
                           "c8y-mtls-doctor --max-chain-length)";
            else
                message += "more than the platform's limit of " + std::to_string(max);
            add(chain_rule::chain_length, std::nullopt, "", std::move(message), finding_basis::platform);
        }

        // ---- text ------------------------------------------------------------------------------

        static std::string hex(detail::byte_view bytes)
        {
            return detail::hex(bytes.first(std::min<std::size_t>(bytes.size(), 32)), detail::hex_upper, ':');
        }

        const basic_chain_validator& v_;
        std::span<const der_certificate> chain_;
        std::size_t n_;
        std::vector<parsed> parsed_;
        std::vector<char> ok_;
        std::chrono::sys_seconds at_{};
        std::optional<std::size_t> anchor_;       // index into the uploaded certificates
        std::optional<std::size_t> anchor_index_; // position of the uploaded certificate in the chain
        bool named_signer_uploaded_ = false;
        std::size_t path_end_ = 0; // the certificates below the trust anchor (find_path_end)
        chain_report report_;
    };

    std::shared_ptr<trusted_set> trusted_;
    chain_validator_options options_;
};

/// The DER of every certificate in PEM text, in order, for the validator: what the bytes hold is
/// not judged here (a certificate that does not parse becomes the validator's `parse` finding).
/// Throws error(errc::pem_malformed) naming `source` and the block when the PEM armour or the
/// base64 is broken.
C8Y_MTLS_DECL std::vector<der_certificate> pem_certificates(std::string_view pem, std::string_view source = "memory");

/// The validator with wolfSSL's cryptography and the system clock.
using chain_validator = basic_chain_validator<>;

/// What connect() runs before handshaking: the credentials' chain and key (unless wiped) and the
/// client id as it will be sent, against every rule that needs no uploaded certificate (the
/// device does not know which one was uploaded). `report.throw_if_rejected()` then throws the
/// first error as errc::chain_rejected.
template <class K = default_crypto, Clock C = std::chrono::system_clock>
chain_report validate_credentials(const credentials& device, std::optional<std::string_view> client_id = std::nullopt,
                                  const chain_validator_options& options = {})
{
    return basic_chain_validator<K, C>({}, options).validate(device, client_id);
}

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/chain_validator.ipp"
#endif
