// c8y-mtls: the implementation compiled once, for separate compilation. Include this in exactly
// one source file of a program whose every translation unit is compiled with
// C8Y_MTLS_SEPARATE_COMPILATION defined (as asio/impl/src.hpp under ASIO_SEPARATE_COMPILATION);
// the Meson dependency c8y_mtls_compiled_dep and the CMake target c8y::mtls_compiled do it.
#pragma once

#if !defined(C8Y_MTLS_SEPARATE_COMPILATION)
#error "c8y/mtls/impl/src.hpp is for separate compilation: define C8Y_MTLS_SEPARATE_COMPILATION for every translation unit"
#endif

// Every header then includes the definitions of its non-template code where it would when
// header-only, so that they are read in the same context.
#if defined(C8Y_MTLS_CONFIG_INCLUDED)
#error "c8y/mtls/impl/src.hpp must come first, in a source file of its own: a c8y-mtls header was included before it"
#endif
#define C8Y_MTLS_SOURCE 1
#include "c8y/mtls.hpp"

// The default specializations c8y/mtls/detail/extern_templates.hpp declares.
namespace c8y::mtls {
template class basic_chain_validator<>;
template chain_report validate_credentials<default_crypto, std::chrono::system_clock>(
    const credentials&, std::optional<std::string_view>, const chain_validator_options&);
template class basic_client<>;
template class detail::token_exchange<client::handle>;
template class basic_token_keeper<client>;
template class basic_https_client<>;
template class provisioning::basic_platform_admin<>;
} // namespace c8y::mtls
