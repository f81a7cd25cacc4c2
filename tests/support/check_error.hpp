// c8y-mtls tests: checking that an expression throws c8y::mtls::error with a given code.
#pragma once

#include <c8y/mtls/error.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <ostream> // doctest prints std::error_code through it
#include <string_view>

namespace c8y::mtls::test {

/// The c8y::mtls::error that `f` throws, or nullopt when it throws none.
template <class F>
std::optional<error> thrown_by(F&& f)
{
    try {
        f();
    } catch (const error& e) {
        return e;
    }
    return std::nullopt;
}

inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

} // namespace c8y::mtls::test

// Checks that `expr` throws c8y::mtls::error with the code `errc_` and a detail containing `needle`.
#define CHECK_ERROR(expr, errc_, needle)                                                           \
    do {                                                                                           \
        const auto e_ = ::c8y::mtls::test::thrown_by([&] { (void)(expr); });                       \
        REQUIRE_MESSAGE(e_.has_value(), #expr " did not throw c8y::mtls::error");                 \
        CHECK(e_->code() == (errc_));                                                              \
        CHECK_FALSE(e_->detail().empty());                                                         \
        CHECK_MESSAGE(::c8y::mtls::test::contains(e_->detail(), needle), "detail: " << e_->detail()); \
    } while (false)
