// libFuzzer target: what a TLS server sends that the SDK reads itself: the first bytes of the
// handshake (the ServerHello reader), the server's certificates with the host-name, usage and
// strength rules on them, and IP literals.
//
// Input: one mode byte. Mode 0: the rest is what the server sent first. Mode 1: a host name up
// to the first NUL byte, then certificates as 2-byte big-endian lengths and DER bytes, leaf
// first. Mode 2: the rest as a host, given to the IP literal parser.
#include <c8y/mtls/detail/server_certificate.hpp>
#include <c8y/mtls/detail/tls_hello.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    namespace detail = c8y::mtls::detail;
    if (size == 0)
        return 0;
    const std::span<const unsigned char> rest(data + 1, size - 1);
    const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
    switch (data[0] % 3) {
    case 0:
        if (const auto hello = detail::read_server_hello(rest)) {
            if (detail::tls_cipher_suite_name(hello->cipher_suite).empty() || detail::tls_version_name(hello->version).empty())
                __builtin_trap();
        }
        break;
    case 1: {
        const std::size_t end = text.find('\0');
        const std::string_view host = text.substr(0, end);
        std::vector<detail::byte_view> chain;
        for (std::size_t at = end == std::string_view::npos ? rest.size() : end + 1;
             at + 2 <= rest.size() && chain.size() < 8;) {
            const std::size_t length = (std::size_t{rest[at]} << 8) | rest[at + 1];
            at += 2;
            if (length > rest.size() - at)
                break;
            chain.push_back(rest.subspan(at, length));
            at += length;
        }
        for (const bool check_host : {true, false}) {
            const auto e = detail::check_server_certificates(chain, host, check_host);
            if (e && (e->detail().empty() || c8y::mtls::retry_can_help(e->code())))
                __builtin_trap();
        }
        break;
    }
    default:
        if (const auto ip = detail::parse_ip_address(text)) {
            if (ip->size != 4 && ip->size != 16)
                __builtin_trap();
            if (!detail::looks_like_ip_literal(text) && !(text.size() > 2 && text.front() == '['))
                __builtin_trap();
        }
    }
    return 0;
}
