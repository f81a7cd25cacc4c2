// c8y-mtls: connect IoT devices to Cumulocity IoT with X.509 certificates. Includes everything.
//
// Include this header before any Asio header: it configures Asio for coroutines under clang
// with libstdc++ (an application that includes Asio first must define ASIO_HAS_CO_AWAIT=1).
#pragma once

#include "c8y/mtls/config.hpp"
#include "c8y/mtls/version.hpp"

#include "c8y/mtls/error.hpp"
#include "c8y/mtls/log.hpp"
#include "c8y/mtls/time_format.hpp"
#include "c8y/mtls/client_id.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/mqtt.hpp"
#include "c8y/mtls/pkcs11.hpp"
#include "c8y/mtls/credentials.hpp"
#include "c8y/mtls/clock.hpp"
#include "c8y/mtls/tls.hpp"
#include "c8y/mtls/transport.hpp"
#include "c8y/mtls/crypto.hpp"
#include "c8y/mtls/certificate.hpp"
#include "c8y/mtls/wolfssl/crypto.hpp"
#include "c8y/mtls/wolfssl/tls.hpp"
#include "c8y/mtls/chain_validator.hpp"
#include "c8y/mtls/client.hpp"
#include "c8y/mtls/token_keeper.hpp"
#include "c8y/mtls/http.hpp"
#include "c8y/mtls/smartrest.hpp"
#include "c8y/mtls/provisioning.hpp"
#include "c8y/mtls/platform_admin.hpp"
#include "c8y/mtls/enrollment.hpp"
#include "c8y/mtls/http_token.hpp"
#include "c8y/mtls/credential_files.hpp"
#include "c8y/mtls/certificate_keeper.hpp"

#include "c8y/mtls/detail/extern_templates.hpp"
