// c8y-mtls: the definitions completion.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/completion.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL waiting_handler::waiting_handler(waiting_handler&& other) noexcept : ops_(std::exchange(other.ops_, nullptr))
{
    if (ops_)
        ops_->move(other.storage_, storage_);
}

C8Y_MTLS_DECL auto waiting_handler::operator=(waiting_handler&& other) noexcept -> waiting_handler&
{
    if (this != &other) {
        reset();
        ops_ = std::exchange(other.ops_, nullptr);
        if (ops_)
            ops_->move(other.storage_, storage_);
    }
    return *this;
}

C8Y_MTLS_DECL void waiting_handler::complete(std::exception_ptr failure, const asio::any_io_executor& fallback)
{
    const ops* o = std::exchange(ops_, nullptr);
    if (o)
        o->complete(storage_, std::move(failure), fallback);
}

C8Y_MTLS_DECL void waiting_handler::reset() noexcept
{
    if (const ops* o = std::exchange(ops_, nullptr))
        o->destroy(storage_);
}

} // namespace c8y::mtls::detail
