// Reading the platform's REST answers: the error JSON of a refusal, and the members of a 2xx
// answer, each failure naming what was asked (platform_answer_malformed).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "c8y/mtls/config.hpp"
#include "c8y/mtls/detail/json.hpp"
#include "c8y/mtls/detail/text.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/detail/http_parser.hpp"

namespace c8y::mtls::detail {

// "HTTP 422 Unprocessable Entity: tenant/Unprocessable Entity: <message>": the status and what
// the platform's error JSON ({"error","message"}) says, or the body's start when it is not JSON.
C8Y_MTLS_DECL std::string describe_answer(const http::response& answer);

// The object of a 2xx answer, or platform_answer_malformed naming what was asked.
C8Y_MTLS_DECL json_object answer_object(std::string_view body, std::string_view what);

// The error of an answer other than 2xx: platform_unavailable for 5xx, platform_refused
// otherwise, naming `what` was asked, the status and what the platform said.
C8Y_MTLS_DECL error refusal(const http::response& answer, std::string_view what);

// A string member; absent or null: empty, or platform_answer_malformed when `required`.
C8Y_MTLS_DECL std::string string_member(const json_object& object, std::string_view name, std::string_view what,
                                        bool required = false);

// The platform writes some booleans as strings ("true"), as its own guide's upload example does.
C8Y_MTLS_DECL bool bool_member(const json_object& object, std::string_view name, std::string_view what);

// A count: a non-negative integer member; absent or null: 0.
C8Y_MTLS_DECL std::size_t count_member(const json_object& object, std::string_view name, std::string_view what);

// The objects of an array member; absent or null: none.
C8Y_MTLS_DECL std::vector<json_object> object_list_member(const json_object& object, std::string_view name,
                                                          std::string_view what);

} // namespace c8y::mtls::detail

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/detail/impl/platform_answer.ipp"
#endif
