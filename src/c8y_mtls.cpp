// c8y-mtls compiled once: the library of the Meson dependency c8y_mtls_compiled_dep and of the
// CMake target c8y::mtls_compiled, built with C8Y_MTLS_SEPARATE_COMPILATION.
#include <c8y/mtls/impl/src.hpp>
