// c8y-mtls: configuration that must come before any third-party header.
#pragma once

// Asio 1.22 does not detect coroutine support under clang with libstdc++. An application that
// includes Asio before this header must define ASIO_HAS_CO_AWAIT itself.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#endif

// wolfSSL reads its build configuration from options.h, which must precede its other headers.
#include <wolfssl/options.h>

#define C8Y_MTLS_VERSION_MAJOR 0
#define C8Y_MTLS_VERSION_MINOR 1
#define C8Y_MTLS_VERSION_PATCH 0
