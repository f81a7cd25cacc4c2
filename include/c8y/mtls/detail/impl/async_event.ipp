// c8y-mtls: the definitions async_event.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/async_event.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL void throw_if_cancelled(const asio::cancellation_state& state, const char* operation)
{
    if (state.cancelled() != asio::cancellation_type::none)
        throw error(errc::operation_aborted, std::string(operation) + " cancelled");
}

} // namespace c8y::mtls::detail
