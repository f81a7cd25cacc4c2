// c8y-mtls: the wolfSSL backend's first include: wolfSSL reads its build configuration from
// options.h, which must precede its other headers.
#pragma once

#include "c8y/mtls/config.hpp"

#include <wolfssl/options.h>
