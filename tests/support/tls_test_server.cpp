// A one-connection TLS server on wolfSSL for the hostile-server tests: it offers what it is told
// (suites Debian's OpenSSL no longer has: RC4, 3DES, TLS 1.3 integrity-only; anonymous DH), and
// reports whether the client finished the handshake and sent application data. It hangs up after
// the first application data, so that a client it accepted does not wait for an answer.
//
//   tls_test_server --cipher LIST [--cert CERT.pem --key KEY.pem] [--tls12 | --tls13] [--anon]
//                   [--wait SECONDS]
//
// Prints the port it listens on (127.0.0.1), then, after the one connection:
//   handshake: ok <version> <suite>     or   handshake: failed <wolfSSL's error>
//   received: <N> bytes: <text>         the first application data (within --wait), bytes
//                                       outside printable ASCII shown as '.'
// Exit status 0 once it reported, 2 for bad arguments or a server that cannot start.
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int fail(const std::string& why)
{
    std::fprintf(stderr, "tls_test_server: %s\n", why.c_str());
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    std::string cipher, cert, key;
    int version = 0; // 0: TLS 1.2 or 1.3
    bool anon = false;
    int wait_seconds = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--cipher" && has_value)
            cipher = argv[++i];
        else if (arg == "--cert" && has_value)
            cert = argv[++i];
        else if (arg == "--key" && has_value)
            key = argv[++i];
        else if (arg == "--wait" && has_value)
            wait_seconds = std::atoi(argv[++i]);
        else if (arg == "--tls12")
            version = 2;
        else if (arg == "--tls13")
            version = 3;
        else if (arg == "--anon")
            anon = true;
        else
            return fail("unknown argument " + arg);
    }
    if (cipher.empty() || (!anon && (cert.empty() || key.empty())))
        return fail("--cipher is needed, and --cert and --key unless --anon");

    wolfSSL_Init();
    WOLFSSL_CTX* ctx = wolfSSL_CTX_new(version == 2   ? wolfTLSv1_2_server_method()
                                       : version == 3 ? wolfTLSv1_3_server_method()
                                                      : wolfSSLv23_server_method());
    if (!ctx)
        return fail("no wolfSSL context");
    if (anon && wolfSSL_CTX_allow_anon_cipher(ctx) != WOLFSSL_SUCCESS)
        return fail("anonymous suites not available");
    if (wolfSSL_CTX_set_cipher_list(ctx, cipher.c_str()) != WOLFSSL_SUCCESS)
        return fail("wolfSSL does not know the suites " + cipher);
    if (!cert.empty() && (wolfSSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != WOLFSSL_SUCCESS ||
                          wolfSSL_CTX_use_PrivateKey_file(ctx, key.c_str(), WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS))
        return fail("cannot load " + cert + " and " + key);
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);

    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 1) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        return fail("cannot listen on 127.0.0.1");
    std::printf("%u\n", ntohs(address.sin_port));
    std::fflush(stdout);

    const int connection = ::accept(listener, nullptr, nullptr);
    if (connection < 0)
        return fail("accept failed");
    const timeval timeout{wait_seconds, 0};
    ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    WOLFSSL* ssl = wolfSSL_new(ctx);
    wolfSSL_set_fd(ssl, connection);
    if (wolfSSL_accept(ssl) != WOLFSSL_SUCCESS) {
        char text[WOLFSSL_MAX_ERROR_SZ] = {};
        const int code = wolfSSL_get_error(ssl, 0);
        wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
        std::printf("handshake: failed %d %s\nreceived: 0 bytes:\n", code, text);
    } else {
        std::printf("handshake: ok %s %s\n", wolfSSL_get_version(ssl), wolfSSL_get_cipher(ssl));
        std::fflush(stdout);
        char buffer[4096];
        const int n = wolfSSL_read(ssl, buffer, sizeof buffer);
        const std::string received(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
        std::printf("received: %zu bytes: ", received.size());
        for (const char c : received)
            std::putchar(c >= 0x20 && c < 0x7F ? c : '.');
        std::printf("\n");
    }
    std::fflush(stdout);
    wolfSSL_free(ssl);
    ::close(connection);
    ::close(listener);
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
    return 0;
}
