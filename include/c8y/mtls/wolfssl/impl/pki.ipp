// c8y-mtls: the definitions pki.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/wolfssl/pki.hpp"

namespace c8y::mtls::detail {

C8Y_MTLS_DECL pki_rng::pki_rng()
{
    wolfcrypt_impl::ensure_initialised();
    if (wc_InitRng(&rng_) != 0)
        throw error(errc::key_generation_failed, "the random number generator cannot be initialised");
}

C8Y_MTLS_DECL void pki_rng::fill(unsigned char* out, std::size_t size)
{
    if (wc_RNG_GenerateBlock(&rng_, out, static_cast<word32>(size)) != 0)
        throw error(errc::key_generation_failed, "the random number generator failed");
}

C8Y_MTLS_DECL auto pki_key::key() noexcept -> void*
{
    return algorithm_ == key_algorithm::rsa ? static_cast<void*>(rsa_.get()) : static_cast<void*>(ecc_.get());
}

C8Y_MTLS_DECL int pki_key::bits() noexcept
{
    return algorithm_ == key_algorithm::rsa ? wc_RsaEncryptSize(rsa_.get()) * 8 : wc_ecc_size(ecc_.get()) * 8;
}

} // namespace c8y::mtls::detail
