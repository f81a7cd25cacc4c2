// c8y-mtls: the SDK's version. The one version number lives in meson.build; this header, the
// pkg-config file, the CMake package, the vcpkg port and the single header's banner repeat it, and
// the test version_agrees (tests/check_version.py) fails when one of them differs.
#pragma once

/// Major version of c8y-mtls: incompatible API changes.
#define C8Y_MTLS_VERSION_MAJOR 0
/// Minor version of c8y-mtls: compatible additions.
#define C8Y_MTLS_VERSION_MINOR 1
/// Patch version of c8y-mtls: fixes.
#define C8Y_MTLS_VERSION_PATCH 0
/// The version as a string literal, "MAJOR.MINOR.PATCH".
#define C8Y_MTLS_VERSION_STRING "0.1.0"
/// The version as one comparable number: MAJOR * 10000 + MINOR * 100 + PATCH.
#define C8Y_MTLS_VERSION (C8Y_MTLS_VERSION_MAJOR * 10000 + C8Y_MTLS_VERSION_MINOR * 100 + C8Y_MTLS_VERSION_PATCH)

namespace c8y::mtls {

/// The version of c8y-mtls this program was compiled with.
struct version_info {
    int major; ///< C8Y_MTLS_VERSION_MAJOR
    int minor; ///< C8Y_MTLS_VERSION_MINOR
    int patch; ///< C8Y_MTLS_VERSION_PATCH
    const char* string; ///< C8Y_MTLS_VERSION_STRING
};

/// The version of c8y-mtls, usable in constant expressions.
inline constexpr version_info version{C8Y_MTLS_VERSION_MAJOR, C8Y_MTLS_VERSION_MINOR, C8Y_MTLS_VERSION_PATCH,
                                      C8Y_MTLS_VERSION_STRING};

} // namespace c8y::mtls
