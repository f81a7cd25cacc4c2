// c8y-mtls: under separate compilation, the default specializations that c8y/mtls/impl/src.hpp
// instantiates once, declared here so that no other translation unit instantiates their
// non-inline members (c8y/mtls.hpp includes this last, when every policy is complete).
#pragma once

#include "c8y/mtls/config.hpp"

#if defined(C8Y_MTLS_SEPARATE_COMPILATION)
namespace c8y::mtls {
extern template class basic_chain_validator<>;
extern template chain_report validate_credentials<default_crypto, std::chrono::system_clock>(
    const credentials&, std::optional<std::string_view>, const chain_validator_options&);
extern template class basic_client<>;
extern template class detail::token_exchange<client::handle>;
extern template class basic_token_keeper<client>;
extern template class basic_https_client<>;
extern template class provisioning::basic_platform_admin<>;
} // namespace c8y::mtls
#endif
