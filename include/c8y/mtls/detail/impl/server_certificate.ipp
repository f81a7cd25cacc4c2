// c8y-mtls: the definitions server_certificate.hpp declares: included by it when header-only,
// compiled once by c8y/mtls/impl/src.hpp under separate compilation.
#pragma once

#include "c8y/mtls/detail/server_certificate.hpp"

namespace c8y::mtls::detail::server_impl {

C8Y_MTLS_DECL bool parse_ipv4(std::string_view text, unsigned char* out) noexcept
{
    std::size_t at = 0;
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (at >= text.size() || text[at] != '.')
                return false;
            ++at;
        }
        const std::size_t start = at;
        unsigned value = 0;
        while (at < text.size() && is_digit(text[at]) && at - start < 3)
            value = value * 10 + static_cast<unsigned>(text[at++] - '0');
        if (at == start || value > 255 || (at - start > 1 && text[start] == '0'))
            return false;
        out[part] = static_cast<unsigned char>(value);
    }
    return at == text.size();
}

C8Y_MTLS_DECL bool parse_ipv6(std::string_view text, unsigned char* out) noexcept
{
    unsigned char groups[16] = {};
    std::size_t count = 0; // bytes written
    std::optional<std::size_t> gap;
    std::size_t at = 0;
    if (text.starts_with("::")) {
        gap = 0;
        at = 2;
    } else if (text.starts_with(":")) {
        return false;
    }
    while (at < text.size()) {
        if (count == 16)
            return false;
        // An IPv4 tail: the rest holds a '.' and no ':'.
        if (text.find(':', at) == std::string_view::npos && text.find('.', at) != std::string_view::npos) {
            if (count > 12 || !parse_ipv4(text.substr(at), groups + count))
                return false;
            count += 4;
            at = text.size();
            break;
        }
        unsigned value = 0;
        std::size_t digits = 0;
        for (int v; at < text.size() && (v = hex_value(text[at])) >= 0 && digits < 4; ++at, ++digits)
            value = (value << 4) | static_cast<unsigned>(v);
        if (digits == 0)
            return false;
        groups[count++] = static_cast<unsigned char>(value >> 8);
        groups[count++] = static_cast<unsigned char>(value & 0xFF);
        if (at == text.size())
            break;
        if (text[at] != ':')
            return false;
        if (at + 1 < text.size() && text[at + 1] == ':') {
            if (gap)
                return false;
            gap = count;
            at += 2;
        } else {
            ++at;
            if (at == text.size())
                return false; // a trailing single ':'
        }
    }
    if (gap ? count > 14 : count != 16)
        return false;
    const std::size_t tail = gap ? count - *gap : 0;
    for (std::size_t i = 0; i < 16; ++i)
        out[i] = 0;
    if (gap) {
        for (std::size_t i = 0; i < *gap; ++i)
            out[i] = groups[i];
        for (std::size_t i = 0; i < tail; ++i)
            out[16 - tail + i] = groups[*gap + i];
    } else {
        for (std::size_t i = 0; i < 16; ++i)
            out[i] = groups[i];
    }
    return true;
}

C8Y_MTLS_DECL bool equal_folded(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (fold(a[i]) != fold(b[i]))
            return false;
    return true;
}

C8Y_MTLS_DECL std::string_view without_final_dot(std::string_view name) noexcept
{
    return name.ends_with('.') ? name.substr(0, name.size() - 1) : name;
}

C8Y_MTLS_DECL std::string ip_text(std::span<const unsigned char> bytes)
{
    std::string text;
    if (bytes.size() == 4) {
        for (std::size_t i = 0; i < 4; ++i)
            text += (i ? "." : "") + std::to_string(bytes[i]);
        return text;
    }
    if (bytes.size() == 16) {
        static constexpr char digits[] = "0123456789abcdef";
        for (std::size_t i = 0; i < 16; i += 2) {
            if (i)
                text += ':';
            const unsigned group = (unsigned{bytes[i]} << 8) | bytes[i + 1];
            bool started = false;
            for (int shift = 12; shift >= 0; shift -= 4) {
                const unsigned d = (group >> shift) & 0xF;
                if (d || started || shift == 0) {
                    text += digits[d];
                    started = true;
                }
            }
        }
        return text;
    }
    return "(" + std::to_string(bytes.size()) + " bytes)";
}

C8Y_MTLS_DECL std::string_view text_of(std::span<const unsigned char> bytes) noexcept
{
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

} // namespace c8y::mtls::detail::server_impl

namespace c8y::mtls::detail {

C8Y_MTLS_DECL std::optional<ip_address> parse_ip_address(std::string_view text) noexcept
{
    if (text.size() > 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    ip_address a;
    if (server_impl::parse_ipv4(text, a.bytes)) {
        a.size = 4;
        return a;
    }
    if (text.find(':') != std::string_view::npos && server_impl::parse_ipv6(text, a.bytes)) {
        a.size = 16;
        return a;
    }
    return std::nullopt;
}

C8Y_MTLS_DECL bool looks_like_ip_literal(std::string_view host) noexcept
{
    if (host.empty())
        return false;
    if (host.find(':') != std::string_view::npos)
        return true;
    for (const char c : host)
        if (!server_impl::is_digit(c) && c != '.')
            return false;
    return true;
}

C8Y_MTLS_DECL dns_name_match match_dns_name(std::string_view presented, std::string_view host) noexcept
{
    using namespace server_impl;
    presented = without_final_dot(presented);
    host = without_final_dot(host);
    if (presented.find('*') == std::string_view::npos)
        return !host.empty() && equal_folded(presented, host) ? dns_name_match::matches : dns_name_match::differs;
    if (presented == "*")
        return dns_name_match::lone_wildcard;
    if (!presented.starts_with("*.") || presented.find('*', 1) != std::string_view::npos)
        return dns_name_match::partial_wildcard;
    const std::string_view rest = presented.substr(2);
    if (rest.find('.') == std::string_view::npos)
        return dns_name_match::broad_wildcard;
    const std::size_t dot = host.find('.');
    if (dot == 0 || dot == std::string_view::npos)
        return dns_name_match::differs;
    return equal_folded(host.substr(dot + 1), rest) ? dns_name_match::matches : dns_name_match::differs;
}

C8Y_MTLS_DECL std::optional<error> check_host_name(const parsed_certificate& leaf, std::string_view host)
{
    using namespace server_impl;
    const std::optional<ip_address> ip = parse_ip_address(host);
    std::string names;
    std::string why;
    bool matched = false;
    const auto note = [&](dns_name_match m, std::string_view name) {
        switch (m) {
        case dns_name_match::matches: matched = true; break;
        case dns_name_match::lone_wildcard: why = "'*' alone matches no host"; break;
        case dns_name_match::partial_wildcard:
            why = std::string(name) + " is a partial wildcard: only a whole leftmost '*' label matches";
            break;
        case dns_name_match::broad_wildcard:
            why = std::string(name) + " is too broad: a wildcard needs at least two labels after it";
            break;
        case dns_name_match::differs: break;
        }
    };
    if (leaf.has_subject_alt_name) {
        for_each_alt_name(leaf, [&](unsigned char tag, byte_view value) {
            if (tag == alt_name::dns) {
                const std::string name = "DNS:" + std::string(text_of(value));
                names += (names.empty() ? "" : ", ") + name;
                if (ip) {
                    if (equal_folded(without_final_dot(text_of(value)), without_final_dot(host)))
                        why = "an IP address matches iPAddress entries only, not " + name;
                } else if (!looks_like_ip_literal(host)) {
                    note(match_dns_name(text_of(value), host), name);
                }
            } else if (tag == alt_name::ip_address) {
                names += (names.empty() ? "IP:" : ", IP:") + ip_text(value);
                if (ip && same_bytes(value, ip->view()))
                    matched = true;
            }
        });
        if (names.empty())
            names = "no DNS name or IP address in its subjectAltName";
        const std::optional<std::string> cn = common_name(leaf.subject);
        if (!matched && why.empty() && cn && equal_folded(without_final_dot(*cn), without_final_dot(host)))
            why = "its CN is not used: the certificate has a subjectAltName";
    } else {
        const std::optional<std::string> cn = common_name(leaf.subject);
        names = cn ? "CN " + detail::quoted(*cn) + " (no subjectAltName)" : "neither a subjectAltName nor a CN";
        if (cn && !ip && !looks_like_ip_literal(host))
            note(match_dns_name(*cn, host), "CN " + detail::quoted(*cn));
        else if (cn && ip && equal_folded(*cn, host))
            why = "an IP address matches iPAddress entries only, not the CN";
    }
    if (matched)
        return std::nullopt;
    std::string text = "host " + detail::quoted(host) + ", certificate " + name_text(leaf.subject) + " names " + names;
    if (!ip && looks_like_ip_literal(host))
        why = "the host is not a valid IP address";
    if (!why.empty())
        text += " (" + why + ")";
    return error(errc::server_name_mismatch, std::move(text));
}

C8Y_MTLS_DECL std::optional<error> check_server_usage(const parsed_certificate& leaf)
{
    if (leaf.has_key_usage && !leaf.digital_signature)
        return error(errc::server_certificate_usage,
                     name_text(leaf.subject) +
                         " has a keyUsage without digitalSignature: its key may not sign the TLS handshake");
    if (leaf.has_extended_key_usage && !leaf.server_auth)
        return error(errc::server_certificate_usage,
                     name_text(leaf.subject) + " has an extendedKeyUsage without serverAuth: it is not for TLS servers");
    return std::nullopt;
}

C8Y_MTLS_DECL std::string weak_key_reason(const x509_public_key& key)
{
    switch (key.type) {
    case x509_key_type::rsa:
        return key.bits < 2048 ? "an RSA key of " + std::to_string(key.bits) + " bits (at least 2048 are needed)"
                               : std::string();
    case x509_key_type::ec:
        return key.curve == x509_curve::other ? "a key " + key_text(key) + " (P-256, P-384 or P-521 are needed)"
                                              : std::string();
    case x509_key_type::ed25519:
    case x509_key_type::ed448: return {};
    case x509_key_type::other: break;
    }
    return "a key of " + key_text(key) + ", which the SDK does not accept";
}

C8Y_MTLS_DECL std::optional<error> check_server_chain_strength(std::span<const parsed_certificate> chain)
{
    for (std::size_t i = 0; i < chain.size(); ++i) {
        const parsed_certificate& c = chain[i];
        const std::string who = name_text(c.subject) + (i == 0 ? " (the server certificate)" : "");
        if (const std::string weak = weak_key_reason(c.key); !weak.empty())
            return error(errc::server_key_too_weak, who + " has " + weak);
        const bool root = i + 1 == chain.size() && c.self_issued();
        const auto& alg = c.signature_algorithm;
        if (!root && alg.known && (alg.hash == hash_function::sha1 || alg.hash == hash_function::md5))
            return error(errc::server_signature_too_weak,
                         who + " is signed with " + signature_text(alg) + ": " + hash_text(alg.hash) +
                             " signatures can be forged; SHA-256 or stronger is needed");
    }
    return std::nullopt;
}

} // namespace c8y::mtls::detail
