// chain_validator_bench: OpenSSL's X509_verify_cert, parsing included.
#include "chain_validator_bench.hpp"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <chrono>

namespace chain_bench {

namespace {

X509* parse(const der& bytes)
{
    const unsigned char* p = bytes.data();
    return d2i_X509(nullptr, &p, static_cast<long>(bytes.size()));
}

// One validation as an application does it: parse what the device sends, verify it.
bool verify_once(X509_STORE* store, const std::vector<der>& chain)
{
    X509* leaf = parse(chain.front());
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    for (std::size_t i = 1; i < chain.size(); ++i)
        sk_X509_push(untrusted, parse(chain[i]));
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    const bool ok = leaf && X509_STORE_CTX_init(ctx, store, leaf, untrusted) == 1 && X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    return ok;
}

} // namespace

double openssl_verifications_per_second(const std::vector<der>& chain, const der& trusted, double seconds)
{
    X509_STORE* store = X509_STORE_new();
    X509* root = parse(trusted);
    X509_STORE_add_cert(store, root);
    X509_free(root);
    double rate = -1;
    if (verify_once(store, chain)) {
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        std::size_t count = 0;
        double elapsed = 0;
        do {
            for (int i = 0; i < 50; ++i)
                verify_once(store, chain);
            count += 50;
            elapsed = std::chrono::duration<double>(clock::now() - start).count();
        } while (elapsed < seconds);
        rate = static_cast<double>(count) / elapsed;
    }
    X509_STORE_free(store);
    return rate;
}

} // namespace chain_bench
