// c8y-mtls: the platform's trust steps from C++: the administrator's REST calls of the device
// certificate guide (trusted certificates, proof of possession, the device token's lifespan),
// with HTTP Basic authentication on the SDK's HTTPS client.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c8y/mtls/detail/async_op.hpp"
#include "c8y/mtls/detail/json.hpp"
#include "c8y/mtls/detail/platform_answer.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/http.hpp"
#include "c8y/mtls/provisioning.hpp"

namespace c8y::mtls::provisioning {

/// A CA certificate as the platform holds it (`/tenant/tenants/{id}/trusted-certificates`):
/// what was uploaded and the read-only fields the platform adds.
struct trusted_certificate {
    std::string fingerprint; ///< the platform's key for it (SHA-1 of the DER, hex)
    std::string name;
    std::string status; ///< "ENABLED" or "DISABLED"
    bool auto_registration_enabled = false;
    std::string certificate_pem; ///< certInPemFormat as answered (the platform may leave out the PEM armour)
    std::string subject;
    std::string issuer;
    std::string serial_number;
    std::string not_before;
    std::string not_after;
    std::string algorithm_name;
    bool proof_of_possession_valid = false;
    std::string verification_code;              ///< proofOfPossessionUnsignedVerificationCode, when one is open
    std::string verification_code_usable_until; ///< proofOfPossessionVerificationCodeUsableUntil
    bool tenant_certificate_authority = false;  ///< the tenant's own CA (create_certificate_authority())
    std::string json;                           ///< the whole answer, for fields the SDK does not read
};

/// What is uploaded: the CA certificate (PEM) under a name, enabled or not, with or without
/// auto-registration of the devices it signed.
struct certificate_upload {
    std::string name;
    std::string certificate_pem;
    bool enabled = true;
    bool auto_registration = false;
};

/// What to change of an uploaded certificate; what is left empty stays as it is.
struct certificate_update {
    std::optional<std::string> name;
    std::optional<bool> enabled;
    std::optional<bool> auto_registration;
};

/// A row of a bulk registration the platform did not take.
struct bulk_registration_failure {
    std::string device_id;
    std::string reason; ///< the platform's failureReason
    std::string line;   ///< the CSV line as the platform quotes it
};

/// The platform's answer to a bulk registration: how many rows it read, created, took as an
/// update of a device requested before (its one-time password replaced), and refused, row by row.
struct bulk_registration_result {
    std::size_t all = 0;
    std::size_t created = 0;
    std::size_t failed = 0;
    std::size_t successful = 0;
    std::vector<std::string> credentials_updated; ///< the device ids of credentialUpdatedList
    std::vector<bulk_registration_failure> failures;
    std::string json; ///< the whole answer
};

/// The key of the platform's certificate-authority feature (GET /features/{key}).
inline constexpr std::string_view certificate_authority_feature_key = "certificate-authority";

/// The platform refuses a device token lifespan under this (PLATFORM.md).
inline constexpr std::chrono::seconds minimum_token_lifespan{300};

/// A trusted certificate as the platform answers it (`what` names the request in errors).
C8Y_MTLS_DECL trusted_certificate read_trusted_certificate(std::string_view body, std::string_view what);

/// The answer to POST /devicecontrol/bulkNewDeviceRequests.
C8Y_MTLS_DECL bulk_registration_result read_bulk_registration_result(std::string_view body, std::string_view what);

/// A multipart/form-data body holding `content` as the file field `field` named `file_name`, and
/// its Content-Type (the boundary chosen so that `content` does not hold it).
C8Y_MTLS_DECL std::pair<std::string, std::string> multipart_file(std::string_view field, std::string_view file_name,
                                                                 std::string_view content);

// g++ 12 reports -Wmismatched-new-delete on coroutine frames whose allocation it inlined (Asio's
// awaitable frames have their own operator new/delete pair): a false positive, kept out of
// applications built with -Werror.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

/// The administrator's side of the device certificate guide, on an HTTPS client (`Https`:
/// basic_https_client, usually built without device credentials) with HTTP Basic
/// authentication (a user with ROLE_TENANT_ADMIN or ROLE_TENANT_MANAGEMENT_ADMIN):
///
///     https_client http(io.get_executor(), truststore::from_path("/etc/ssl/certs"));
///     platform_admin admin(http, "https://acme.cumulocity.com", basic_credentials(user, password));
///     const certificate_upload upload{"factory CA", ca_pem, true, true};
///     const trusted_certificate ca = co_await admin.upload_certificate(upload);
///     co_await admin.prove_possession(ca.fingerprint, ca_key);
///
/// The tenant id is the one given, or asked of the platform (`GET /tenant/currentTenant`) once.
/// Every call takes any Asio completion token (asio::use_awaitable by default), completes with
/// void(std::error_code, T) (void(std::error_code) for the calls without a value: delete,
/// lifespan), is cancelled through the token's cancellation slot (operation_aborted), and
/// fails with c8y::mtls::error (thrown by the default awaitable; the code and
/// completion_error() for other tokens): what the HTTPS client fails with, and for the
/// platform's answers
/// - certificate_already_uploaded (409 on upload: the fingerprint is there already),
/// - proof_of_possession_rejected (400 on the signed code: wrong signature or code),
/// - platform_refused (any other 4xx, e.g. 422 with the platform's message, 401, 404),
/// - platform_unavailable (5xx),
/// - platform_answer_malformed (a 2xx whose JSON is not what the API documents),
/// each naming the status and the platform's error and message.
/// The object keeps the password (in wiped memory) until destroyed; it must outlive its calls,
/// and so must the HTTPS client it uses (and `ca_key` the call of prove_possession()).
template <class Https = https_client>
class basic_platform_admin {
public:
    /// `base_url`: the tenant's address (`https://acme.cumulocity.com`). Throws http_invalid_url.
    basic_platform_admin(Https& http, std::string_view base_url, basic_credentials login, std::string tenant = {})
        : http_(http), base_(http::url::parse(base_url)), login_(std::move(login)), tenant_(std::move(tenant))
    {
    }

    /// The tenant id: the one given to the constructor, else `GET /tenant/currentTenant`'s
    /// `name` (asked once).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto tenant(CompletionToken&& token = {})
    {
        return mtls::detail::async_op<std::string>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this] { return do_tenant(); });
    }

    /// Uploads a CA certificate (`POST .../trusted-certificates`) and completes with what the
    /// platform holds (201). Throws certificate_already_uploaded (409), platform_refused (422:
    /// not a CA certificate, not a certificate), invalid_argument for an empty certificate or name.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto upload_certificate(certificate_upload upload, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<trusted_certificate>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, upload = std::move(upload)]() mutable { return do_upload_certificate(std::move(upload)); });
    }

    /// Every trusted certificate of the tenant: all pages of `GET .../trusted-certificates`
    /// (the platform answers 5 a page unless asked for more).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto list_certificates(CompletionToken&& token = {})
    {
        return mtls::detail::async_op<std::vector<trusted_certificate>>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this] { return do_list_certificates(); });
    }

    /// One trusted certificate by fingerprint. Throws platform_refused (404) when there is none.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto certificate(std::string fingerprint, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<trusted_certificate>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, fingerprint = std::move(fingerprint)]() mutable { return do_certificate(std::move(fingerprint)); });
    }

    /// Renames, enables or disables a trusted certificate, or switches its auto-registration
    /// (`PUT .../trusted-certificates/{fingerprint}`), and completes with the result. Throws
    /// invalid_argument, without sending, when `update` changes nothing.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto update_certificate(std::string fingerprint, certificate_update update, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<trusted_certificate>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, fingerprint = std::move(fingerprint), update = std::move(update)]() mutable {
                return do_update_certificate(std::move(fingerprint), std::move(update));
            });
    }

    /// Removes a trusted certificate: devices it signed can no longer connect.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto delete_certificate(std::string fingerprint, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<void>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, fingerprint = std::move(fingerprint)]() mutable {
                return do_delete_certificate(std::move(fingerprint));
            });
    }

    /// Asks for a new verification code for the proof of possession and completes with it.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto new_verification_code(std::string fingerprint, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<std::string>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, fingerprint = std::move(fingerprint)]() mutable {
                return do_new_verification_code(std::move(fingerprint));
            });
    }

    /// Submits the signed verification code (provisioning::sign_verification_code) and
    /// completes with the certificate, now proven. Throws proof_of_possession_rejected (400),
    /// platform_refused (422: no code was asked for).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto submit_proof_of_possession(std::string fingerprint, std::string signed_code, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<trusted_certificate>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, fingerprint = std::move(fingerprint), signed_code = std::move(signed_code)]() mutable {
                return do_submit_proof_of_possession(std::move(fingerprint), std::move(signed_code));
            });
    }

    /// The whole proof of possession: a new verification code, signed with the CA's private
    /// key (sign_verification_code), submitted. Completes with the certificate, now proven.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto prove_possession(std::string fingerprint, const private_key& ca_key, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<trusted_certificate>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, fingerprint = std::move(fingerprint), &ca_key]() mutable {
                return do_prove_possession(std::move(fingerprint), ca_key);
            });
    }

    /// Whether the tenant's certificate-authority feature is on (`GET /features/certificate-authority`,
    /// its `active`); false too when the platform does not know the feature (404: a version
    /// without it).
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto certificate_authority_feature(CompletionToken&& token = {})
    {
        return mtls::detail::async_op<bool>(http_.get_executor(), std::forward<CompletionToken>(token),
                                            [this] { return do_certificate_authority_feature(); });
    }

    /// Switches the feature for the tenant (`PUT /features/certificate-authority/by-tenant`), as
    /// a management tenant's administrator may.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto set_certificate_authority_feature(bool active, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<void>(http_.get_executor(), std::forward<CompletionToken>(token),
                                            [this, active] { return do_set_certificate_authority_feature(active); });
    }

    /// Creates the tenant's certificate authority (`POST /certificate-authority`): the platform
    /// makes a self-signed CA (`CN=<tenant id>, O=Cumulocity`) and lists it among the trusted
    /// certificates. Completes with it. Throws platform_refused naming the platform's answer when
    /// the feature is off or the tenant has a CA already.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto create_certificate_authority(CompletionToken&& token = {})
    {
        return mtls::detail::async_op<trusted_certificate>(http_.get_executor(), std::forward<CompletionToken>(token),
                                                           [this] { return do_create_certificate_authority(); });
    }

    /// The tenant's certificate authority: the trusted certificate marked
    /// `tenantCertificateAuthority`, or none.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto certificate_authority(CompletionToken&& token = {})
    {
        return mtls::detail::async_op<std::optional<trusted_certificate>>(
            http_.get_executor(), std::forward<CompletionToken>(token), [this] { return do_certificate_authority(); });
    }

    /// Uploads a bulk registration CSV (bulk_registration_csv(); `POST
    /// /devicecontrol/bulkNewDeviceRequests`, the multipart form field `file`) and completes
    /// with the platform's result, row by row: rows it refuses are in the result, not thrown.
    /// Throws invalid_argument, without sending, for an empty CSV.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto upload_bulk_registration(std::string csv, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<bulk_registration_result>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, csv = std::move(csv)]() mutable { return do_upload_bulk_registration(std::move(csv)); });
    }

    /// Sets `device-token.lifespan.seconds` (category `oauth.internal`). Throws invalid_argument,
    /// without sending anything, for less than the platform's minimum of 300 s.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto set_device_token_lifespan(std::chrono::seconds lifespan, CompletionToken&& token = {})
    {
        return mtls::detail::async_op<void>(
            http_.get_executor(), std::forward<CompletionToken>(token),
            [this, lifespan] { return do_set_device_token_lifespan(lifespan); });
    }

private:
    // The operations above, as coroutines.

    asio::awaitable<std::string> do_tenant()
    {
        if (tenant_.empty()) {
            const std::string what = "current tenant";
            http::request req = make_request("GET", "/tenant/currentTenant");
            const http::response answer = co_await send(std::move(req), what);
            tenant_ = mtls::detail::string_member(mtls::detail::answer_object(answer.body, what), "name", what, true);
        }
        co_return tenant_;
    }

    asio::awaitable<trusted_certificate> do_upload_certificate(certificate_upload upload)
    {
        if (upload.certificate_pem.empty())
            throw error(errc::invalid_argument, "no certificate to upload");
        if (upload.name.empty())
            throw error(errc::invalid_argument, "the uploaded certificate needs a name");
        const std::string path = co_await certificates_path();
        const std::string what = "upload of " + mtls::detail::json_quote(upload.name);
        http::request req = make_request(
            "POST", path,
            "{\"status\":" + mtls::detail::json_quote(upload.enabled ? "ENABLED" : "DISABLED") +
                ",\"name\":" + mtls::detail::json_quote(upload.name) +
                ",\"autoRegistrationEnabled\":" + (upload.auto_registration ? "true" : "false") +
                ",\"certInPemFormat\":" + mtls::detail::json_quote(upload.certificate_pem) + "}");
        const http::response answer = co_await send(std::move(req), what, 409, errc::certificate_already_uploaded);
        co_return read_trusted_certificate(answer.body, what);
    }

    asio::awaitable<std::vector<trusted_certificate>> do_list_certificates()
    {
        constexpr std::size_t page_size = 100;
        const std::string path = co_await certificates_path();
        const std::string what = "list of trusted certificates";
        std::vector<trusted_certificate> all;
        for (std::size_t page = 1;; ++page) {
            http::request req = make_request("GET", path + "?pageSize=" + std::to_string(page_size) +
                                                        "&currentPage=" + std::to_string(page));
            const http::response answer = co_await send(std::move(req), what);
            const mtls::detail::json_object object = mtls::detail::answer_object(answer.body, what);
            const mtls::detail::json_value* list = object.find("certificates");
            if (list == nullptr || list->kind != mtls::detail::json_kind::array)
                throw error(errc::platform_answer_malformed, what + ": no \"certificates\" array");
            const auto elements = mtls::detail::parse_json_array(list->raw); // validated with the document
            for (const mtls::detail::json_value& element : *elements)
                all.push_back(read_trusted_certificate(element.raw, what));
            if (elements->size() < page_size)
                co_return all;
        }
    }

    asio::awaitable<trusted_certificate> do_certificate(std::string fingerprint)
    {
        const std::string path = co_await certificate_path(fingerprint);
        const std::string what = "certificate " + fingerprint;
        http::request req = make_request("GET", path);
        const http::response answer = co_await send(std::move(req), what);
        co_return read_trusted_certificate(answer.body, what);
    }

    asio::awaitable<trusted_certificate> do_update_certificate(std::string fingerprint, certificate_update update)
    {
        std::string fields;
        const auto add = [&fields](std::string_view name, const std::string& json) {
            fields += fields.empty() ? "{" : ",";
            fields += mtls::detail::json_quote(name) + ":" + json;
        };
        if (update.name)
            add("name", mtls::detail::json_quote(*update.name));
        if (update.enabled)
            add("status", mtls::detail::json_quote(*update.enabled ? "ENABLED" : "DISABLED"));
        if (update.auto_registration)
            add("autoRegistrationEnabled", *update.auto_registration ? "true" : "false");
        if (fields.empty())
            throw error(errc::invalid_argument, "the update of certificate " + fingerprint + " changes nothing");
        const std::string path = co_await certificate_path(fingerprint);
        const std::string what = "update of certificate " + fingerprint;
        http::request req = make_request("PUT", path, fields + "}");
        const http::response answer = co_await send(std::move(req), what);
        co_return read_trusted_certificate(answer.body, what);
    }

    asio::awaitable<void> do_delete_certificate(std::string fingerprint)
    {
        const std::string path = co_await certificate_path(fingerprint);
        const std::string what = "deletion of certificate " + fingerprint;
        http::request req = make_request("DELETE", path);
        co_await send(std::move(req), what);
    }

    asio::awaitable<std::string> do_new_verification_code(std::string fingerprint)
    {
        const std::string path = co_await pop_path(fingerprint);
        const std::string what = "verification code of " + fingerprint;
        http::request req = make_request("POST", path + "/verification-code");
        const http::response answer = co_await send(std::move(req), what);
        trusted_certificate c = read_trusted_certificate(answer.body, what);
        if (c.verification_code.empty())
            throw error(errc::platform_answer_malformed, what + ": no proofOfPossessionUnsignedVerificationCode");
        co_return std::move(c.verification_code);
    }

    asio::awaitable<trusted_certificate> do_submit_proof_of_possession(std::string fingerprint, std::string signed_code)
    {
        if (signed_code.empty())
            throw error(errc::invalid_argument, "the signed verification code is empty");
        const std::string path = co_await pop_path(fingerprint);
        const std::string what = "proof of possession of " + fingerprint;
        http::request req = make_request(
            "POST", path + "/pop", "{\"proofOfPossessionSignedVerificationCode\":" + mtls::detail::json_quote(signed_code) + "}");
        const http::response answer = co_await send(std::move(req), what, 400, errc::proof_of_possession_rejected);
        co_return read_trusted_certificate(answer.body, what);
    }

    asio::awaitable<trusted_certificate> do_prove_possession(std::string fingerprint, const private_key& ca_key)
    {
        const std::string code = co_await new_verification_code(fingerprint);
        std::string signed_code = sign_verification_code(ca_key, code);
        co_return co_await submit_proof_of_possession(std::move(fingerprint), std::move(signed_code));
    }

    asio::awaitable<void> do_set_device_token_lifespan(std::chrono::seconds lifespan)
    {
        if (lifespan < minimum_token_lifespan)
            throw error(errc::invalid_argument, "a device token lifespan of " + std::to_string(lifespan.count()) +
                                                    " s: the platform's minimum is 300 s");
        const std::string what = "device token lifespan";
        http::request req = make_request("POST", "/tenant/options",
                                         "{\"category\":\"oauth.internal\",\"key\":\"device-token.lifespan.seconds\","
                                         "\"value\":\"" + std::to_string(lifespan.count()) + "\"}");
        co_await send(std::move(req), what);
    }

    asio::awaitable<bool> do_certificate_authority_feature()
    {
        const std::string what = "certificate-authority feature";
        http::request req = make_request("GET", feature_path());
        basic_credentials login = login_.copy();
        const http::response answer = co_await http_.request(std::move(req), std::move(login));
        if (answer.status == 404)
            co_return false;
        if (!answer.ok())
            throw mtls::detail::refusal(answer, what);
        co_return mtls::detail::bool_member(mtls::detail::answer_object(answer.body, what), "active", what);
    }

    asio::awaitable<void> do_set_certificate_authority_feature(bool active)
    {
        http::request req = make_request("PUT", feature_path() + "/by-tenant",
                                         std::string("{\"active\":") + (active ? "true" : "false") + "}");
        co_await send(std::move(req), "switch of the certificate-authority feature");
    }

    asio::awaitable<trusted_certificate> do_create_certificate_authority()
    {
        const std::string what = "creation of the tenant's certificate authority";
        http::request req = make_request("POST", "/certificate-authority");
        const http::response answer = co_await send(std::move(req), what);
        co_return read_trusted_certificate(answer.body, what);
    }

    asio::awaitable<std::optional<trusted_certificate>> do_certificate_authority()
    {
        std::vector<trusted_certificate> all = co_await list_certificates();
        for (trusted_certificate& c : all)
            if (c.tenant_certificate_authority)
                co_return std::move(c);
        co_return std::nullopt;
    }

    asio::awaitable<bulk_registration_result> do_upload_bulk_registration(std::string csv)
    {
        if (csv.empty())
            throw error(errc::invalid_argument, "the bulk registration CSV is empty");
        const std::string what = "bulk registration";
        auto [body, content_type] = multipart_file("file", "bulk-registration.csv", csv);
        mtls::wipe(csv); // it may hold one-time passwords
        http::request req = make_request("POST", "/devicecontrol/bulkNewDeviceRequests", std::move(body), content_type);
        const http::response answer = co_await send(std::move(req), what);
        co_return read_bulk_registration_result(answer.body, what);
    }

    std::string feature_path() const
    {
        return "/features/" + std::string(certificate_authority_feature_key);
    }

    // Arguments of co_await expressions below are named objects: g++ 12 can destroy a
    // temporary there twice.

    asio::awaitable<std::string> certificates_path()
    {
        const std::string id = co_await tenant();
        co_return "/tenant/tenants/" + mtls::detail::percent_encode(id) + "/trusted-certificates";
    }

    asio::awaitable<std::string> certificate_path(const std::string& fingerprint)
    {
        if (fingerprint.empty())
            throw error(errc::invalid_argument, "the certificate's fingerprint is empty");
        const std::string path = co_await certificates_path();
        co_return path + "/" + mtls::detail::percent_encode(fingerprint);
    }

    // .../trusted-certificates-pop/{fingerprint}, to which "/verification-code" or "/pop" is added.
    asio::awaitable<std::string> pop_path(const std::string& fingerprint)
    {
        if (fingerprint.empty())
            throw error(errc::invalid_argument, "the certificate's fingerprint is empty");
        const std::string id = co_await tenant();
        co_return "/tenant/tenants/" + mtls::detail::percent_encode(id) + "/trusted-certificates-pop/" +
            mtls::detail::percent_encode(fingerprint);
    }

    http::request make_request(std::string method, const std::string& target, std::string body = {},
                               std::string_view content_type = "application/json") const
    {
        http::request req;
        req.method = std::move(method);
        req.url = base_.resolve(target).str();
        req.fields.add("Accept", "application/json");
        if (!body.empty())
            req.fields.add("Content-Type", std::string(content_type));
        req.body = std::move(body);
        return req;
    }

    // Sends with the administrator's login; a 2xx answer is returned, any other thrown as the
    // platform's refusal (`special_status` as `special`, the call's own meaning of it).
    asio::awaitable<http::response> send(http::request req, const std::string& what, int special_status = 0,
                                         errc special = errc::platform_refused)
    {
        basic_credentials login = login_.copy();
        http::response answer = co_await http_.request(std::move(req), std::move(login));
        if (answer.ok())
            co_return answer;
        if (answer.status == special_status)
            throw error(special, what + ": " + mtls::detail::describe_answer(answer));
        throw mtls::detail::refusal(answer, what);
    }

    Https& http_;
    http::url base_;
    basic_credentials login_;
    std::string tenant_;
};

/// The platform's administrator calls on the default HTTPS client.
using platform_admin = basic_platform_admin<>;

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

} // namespace c8y::mtls::provisioning

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/platform_admin.ipp"
#endif
