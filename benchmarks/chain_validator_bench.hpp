// chain_validator_bench: what the OpenSSL side offers the benchmark. OpenSSL's headers and
// wolfSSL's OpenSSL compatibility layer cannot meet in one translation unit, so X509_verify_cert
// is measured in a file of its own.
#pragma once

#include <vector>

namespace chain_bench {

using der = std::vector<unsigned char>;

/// Validations per second of OpenSSL's X509_verify_cert over `seconds`: each one parses the chain
/// (DER, leaf first, as sent) and verifies it against a store holding `trusted`, loaded once.
/// Returns a negative number when OpenSSL refuses the chain.
double openssl_verifications_per_second(const std::vector<der>& chain, const der& trusted, double seconds);

} // namespace chain_bench
