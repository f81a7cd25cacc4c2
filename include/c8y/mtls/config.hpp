// c8y-mtls: configuration that must come before any third-party header.
#pragma once

#define C8Y_MTLS_CONFIG_INCLUDED 1 // for c8y/mtls/impl/src.hpp, which must come first

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

// Separate compilation, as Asio's ASIO_SEPARATE_COMPILATION: with C8Y_MTLS_SEPARATE_COMPILATION
// defined for every translation unit, the non-template code is declared in the headers and
// compiled once in the one source file that includes c8y/mtls/impl/src.hpp (or in the library
// the Meson dependency and the CMake target offer), together with the default specializations
// of the client's templates. Header-only is the default: the definitions come with the headers.
#if !defined(C8Y_MTLS_SEPARATE_COMPILATION)
#define C8Y_MTLS_HEADER_ONLY 1
#endif

// Whether this translation unit gets the definitions of the non-template code (each header
// includes its implementation file, impl/*.ipp, at its end when it does): header-only, or the
// one source file of separate compilation (C8Y_MTLS_SOURCE, set by c8y/mtls/impl/src.hpp).
#if defined(C8Y_MTLS_HEADER_ONLY) || defined(C8Y_MTLS_SOURCE)
#define C8Y_MTLS_IMPLEMENTATION 1
#endif

// On a non-template function the headers declare and the implementation files define: inline
// when header-only, an ordinary function compiled once otherwise.
#if defined(C8Y_MTLS_HEADER_ONLY)
#define C8Y_MTLS_DECL inline
#else
#define C8Y_MTLS_DECL
#endif

#include "c8y/mtls/version.hpp"
