// c8y-mtls: the definitions http_token.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/http_token.hpp"

namespace c8y::mtls {

C8Y_MTLS_DECL device_token read_access_token_answer(std::string_view body, std::string_view what)
{
    std::string jwt = detail::string_member(detail::answer_object(body, what), "accessToken", what, true);
    if (jwt.empty())
        throw error(errc::platform_answer_malformed, std::string(what) + ": \"accessToken\" is empty");
    return device_token::from_jwt(std::move(jwt));
}

} // namespace c8y::mtls
