// c8y-mtls: configuration that must come before any third-party header.
#pragma once

// Asio 1.22 does not detect coroutine support under clang with libstdc++: it looks for
// <experimental/coroutine> and __cpp_coroutines, which clang 16 with libstdc++ does not offer, and
// leaves asio::awaitable undefined. Included before Asio, this header defines ASIO_HAS_CO_AWAIT
// for it. An application that includes Asio first must pass -DASIO_HAS_CO_AWAIT=1 to the
// compiler itself: Asio has then made up its mind already, which is what the #error tells.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#if defined(ASIO_DETAIL_CONFIG_HPP)
#error "c8y-mtls: Asio was included before c8y/mtls.hpp without coroutine support (Asio 1.22 does not detect it under clang): compile with -DASIO_HAS_CO_AWAIT=1 or include c8y/mtls.hpp before any Asio header"
#endif
#define ASIO_HAS_CO_AWAIT 1
#endif

#include "c8y/mtls/version.hpp"
