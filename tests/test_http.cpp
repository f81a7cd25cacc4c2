// Tests of the HTTP/1.1 code without I/O: the incremental response parser (every framing, every
// malformed response, every limit), the request serialiser, https URLs and Basic credentials.
#include "c8y/mtls/detail/http_parser.hpp"
#include "c8y/mtls/http.hpp"

#include <doctest/doctest.h>

#include "support/check_error.hpp"

#include <string>
#include <string_view>

namespace http = c8y::mtls::http;
using c8y::mtls::basic_credentials;
using c8y::mtls::errc;
using c8y::mtls::test::contains;
using c8y::mtls::detail::http_impl::response_parser;
using c8y::mtls::detail::http_impl::serialize_request;

namespace {

// The response in `bytes`, fed in pieces of `piece` bytes; the parser must take all of them.
http::response parse(std::string_view bytes, std::size_t piece = 1 << 20, http::limits limits = {}, bool head = false)
{
    response_parser parser(limits, head);
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        const std::string_view chunk = bytes.substr(at, piece);
        REQUIRE(parser.feed(chunk) == chunk.size());
    }
    REQUIRE(parser.done());
    return parser.take();
}

// The error the parser throws for `bytes`, whether while feeding or at the end of the stream.
c8y::mtls::error failure(std::string_view bytes, http::limits limits = {})
{
    response_parser parser(limits);
    const auto e = c8y::mtls::test::thrown_by([&] {
        parser.feed(bytes);
        parser.feed_end();
    });
    REQUIRE_MESSAGE(e.has_value(), "the parser accepted " << std::string(bytes));
    CHECK(parser.failed());
    return *e;
}

#define CHECK_REFUSED(bytes_, code_, needle)                                                        \
    do {                                                                                            \
        const auto e_ = failure(bytes_);                                                            \
        CHECK(e_.code() == (code_));                                                                \
        CHECK_MESSAGE(contains(e_.detail(), needle), "detail: " << e_.detail());                    \
    } while (false)

} // namespace

TEST_CASE("a fixed-length response is parsed whole and byte by byte")
{
    const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
    for (const std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{7}, bytes.size()}) {
        CAPTURE(piece);
        const http::response r = parse(bytes, piece);
        CHECK(r.status == 200);
        CHECK(r.reason == "OK");
        CHECK(r.minor_version == 1);
        CHECK(r.ok());
        CHECK(r.body == "hello world");
        CHECK(r.keep_alive);
        REQUIRE(r.fields.find("content-type") != nullptr);
        CHECK(*r.fields.find("CONTENT-TYPE") == "text/plain");
        CHECK(r.fields.size() == 2);
    }
}

TEST_CASE("a chunked response is decoded, extensions skipped, trailers kept")
{
    const std::string bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n"
                              "1;name=value\r\n \r\n"
                              "00A \t; ext\r\nchunked!!!\r\n"
                              "0\r\nX-Checksum: 42\r\n\r\n";
    for (const std::size_t piece : {std::size_t{1}, std::size_t{3}, bytes.size()}) {
        CAPTURE(piece);
        const http::response r = parse(bytes, piece);
        CHECK(r.body == "hello chunked!!!");
        REQUIRE(r.trailers.size() == 1);
        CHECK(*r.trailers.find("x-checksum") == "42");
        CHECK(r.keep_alive);
    }
}

TEST_CASE("the parser stops at the end of the response and says how much it took")
{
    const std::string first = "HTTP/1.1 204 No Content\r\n\r\n";
    response_parser parser;
    CHECK(parser.feed(first + "HTTP/1.1 200 OK\r\n") == first.size());
    CHECK(parser.done());
    CHECK(parser.consumed() == first.size());
    CHECK(parser.feed("more") == 0);
    CHECK(parser.take().status == 204);
}

TEST_CASE("responses without a body: HEAD, 204, 304")
{
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 1 << 20, {}, true).body.empty());
    CHECK(parse("HTTP/1.1 204 No Content\r\n\r\n").status == 204);
    CHECK(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n").body.empty());
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").body.empty());
}

TEST_CASE("interim 1xx responses are skipped; 101 is refused")
{
    const http::response r = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                                   "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
    CHECK(r.status == 201);
    CHECK(r.fields.size() == 1);
    CHECK(r.body == "ok");
    CHECK_REFUSED("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", errc::http_malformed_status_line,
                  "no upgrade");
}

TEST_CASE("a body without length ends with the connection")
{
    response_parser parser;
    parser.feed("HTTP/1.1 200 OK\r\n\r\npart one, ");
    parser.feed("part two");
    CHECK_FALSE(parser.done());
    parser.feed_end();
    REQUIRE(parser.done());
    const http::response r = parser.take();
    CHECK(r.body == "part one, part two");
    CHECK_FALSE(r.keep_alive);
}

TEST_CASE("keep-alive: HTTP/1.1 unless Connection: close, HTTP/1.0 only with keep-alive")
{
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    const http::response old = parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
    CHECK(old.keep_alive);
    CHECK(old.minor_version == 0);
}

TEST_CASE("a redirect is a response with its Location")
{
    const http::response r = parse("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
    CHECK(r.is_redirect());
    CHECK_FALSE(r.ok());
    REQUIRE(r.location() != nullptr);
    CHECK(*r.location() == "/elsewhere");
}

TEST_CASE("malformed status lines are refused, naming the fault")
{
    CHECK_REFUSED("HTTP/1.1 2OO OK\r\n\r\n", errc::http_malformed_status_line, "not 3 digits");
    CHECK_REFUSED("HTTP/2.0 200 OK\r\n\r\n", errc::http_malformed_status_line, "not HTTP/1.0 or HTTP/1.1");
    CHECK_REFUSED("ICY 200 OK\r\n\r\n", errc::http_malformed_status_line, "does not start with HTTP/");
    CHECK_REFUSED("HTTP/1.1 200\r\n\r\n", errc::http_malformed_status_line, "no space after the status code");
    CHECK_REFUSED("HTTP/1.1  200 OK\r\n\r\n", errc::http_malformed_status_line, "not 3 digits");
    CHECK_REFUSED("HTTP/1.1 099 Low\r\n\r\n", errc::http_malformed_status_line, "outside 100 to 599");
    CHECK_REFUSED("HTTP/1.1 600 High\r\n\r\n", errc::http_malformed_status_line, "outside 100 to 599");
    CHECK_REFUSED("HTTP/1.1 200 O\x01K\r\n\r\n", errc::http_malformed_status_line, "0x01");
    CHECK_REFUSED("HTTP/1.1 200 OK\n\r\n", errc::http_malformed_status_line, "LF without CR");
    CHECK_REFUSED("\r\n", errc::http_malformed_status_line, "empty line");
    // An empty reason phrase is allowed.
    CHECK(parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reason.empty());
}

TEST_CASE("malformed header fields are refused, naming the field")
{
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", errc::http_malformed_header,
                  "whitespace between the name and ':'");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n", errc::http_malformed_header,
                  "header field 2 \"  folded\": starts with whitespace (obsolete line folding)");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", errc::http_malformed_header, "has no ':'");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\n: empty\r\n\r\n", errc::http_malformed_header, "empty name");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nX(A): 1\r\n\r\n", errc::http_malformed_header, "0x28 at position 1");
    CHECK_REFUSED(std::string_view("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", 29), errc::http_malformed_header,
                  "the value has a character 0x00");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", errc::http_malformed_header, "0x0D");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nX-A: 1\n\r\n", errc::http_malformed_header, "LF without CR");
}

TEST_CASE("Content-Length must be one decimal number")
{
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", errc::http_invalid_content_length,
                  "not a decimal number");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", errc::http_invalid_content_length,
                  "not a decimal number");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", errc::http_invalid_content_length,
                  "not a decimal number");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                  errc::http_invalid_content_length, "5 and 6 disagree");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", errc::http_invalid_content_length,
                  "5 and 6 disagree");
    // The same value repeated is one length.
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok").body == "ok");
}

TEST_CASE("Transfer-Encoding: only chunked, never with Content-Length, never in HTTP/1.0")
{
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                  errc::http_unsupported_transfer_encoding, "only chunked");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                  errc::http_unsupported_transfer_encoding, "\"chunked, chunked\"");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                  errc::http_malformed_header, "both Transfer-Encoding and Content-Length");
    CHECK_REFUSED("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", errc::http_malformed_header,
                  "HTTP/1.0");
    CHECK(parse("HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n").body.empty());
}

TEST_CASE("malformed chunks are refused")
{
    const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK_REFUSED(head + "zz\r\n", errc::http_malformed_chunk, "no hexadecimal chunk size");
    CHECK_REFUSED(head + "5x\r\nhello\r\n", errc::http_malformed_chunk, "other than a ';' extension");
    CHECK_REFUSED(head + "5\r\nhelloX\r\n", errc::http_malformed_chunk, "not followed by CRLF");
    CHECK_REFUSED(head + "5\r\nhelloXY", errc::http_malformed_chunk, "followed by \"XY\" instead of CRLF");
    CHECK_REFUSED(head + "5\r\nhello\n", errc::http_malformed_chunk, "followed by \"\\n\" instead of CRLF");
    CHECK_REFUSED(head + "5\r\nhello\r\n1\r\nab\r\n", errc::http_malformed_chunk, "more data than the chunk size");
    CHECK_REFUSED(head + "1\r\n", errc::http_truncated_response, "in the chunked body");
    CHECK_REFUSED(head + "1\n", errc::http_malformed_chunk, "LF without CR");
    CHECK_REFUSED(head + "5;a=\x01\r\n", errc::http_malformed_chunk, "the extension has a character 0x01");
    CHECK_REFUSED(head + std::string(5000, '0'), errc::http_malformed_chunk, "longer than 4096 bytes");
    CHECK_REFUSED(head + "0\r\nBad Trailer\r\n\r\n", errc::http_malformed_header, "trailer field 1");
}

TEST_CASE("the header section and the body are bounded")
{
    http::limits small;
    small.max_header_bytes = 64;
    small.max_header_fields = 2;
    small.max_body_bytes = 10;
    const auto refused = [&](std::string_view bytes) { return failure(bytes, small); };

    const auto big_header = refused("HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n");
    CHECK(big_header.code() == errc::http_header_too_large);
    CHECK(contains(big_header.detail(), "exceed 64 bytes"));
    // Refused as soon as the limit is passed, long before any line end arrives.
    response_parser early(small);
    CHECK_THROWS_AS(early.feed("HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a')), c8y::mtls::error);

    CHECK(refused("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n").code() == errc::http_header_too_large);

    const auto by_length = refused("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n");
    CHECK(by_length.code() == errc::http_body_too_large);
    CHECK(contains(by_length.detail(), "Content-Length 11 exceeds the limit of 10 bytes"));
    CHECK(refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n").code() ==
          errc::http_body_too_large);

    const auto by_chunks = refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n");
    CHECK(by_chunks.code() == errc::http_body_too_large);
    CHECK(refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n").code() ==
          errc::http_body_too_large);

    CHECK(refused("HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'x')).code() == errc::http_body_too_large);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 3, small).body == "0123456789");
}

TEST_CASE("a response cut short is refused at the end of the stream, saying where")
{
    CHECK_REFUSED("", errc::http_truncated_response, "before any byte of a response");
    CHECK_REFUSED("HTTP/1.1 20", errc::http_truncated_response, "in the status line");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nA: 1\r\n", errc::http_truncated_response, "header section, after 1 fields");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", errc::http_truncated_response,
                  "after 3 of 10 body bytes");
    CHECK_REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", errc::http_truncated_response,
                  "in the chunked body");
}

TEST_CASE("a failed parser stays failed and a response is taken only when complete")
{
    response_parser parser;
    CHECK_THROWS_AS(parser.take(), c8y::mtls::error);
    CHECK_THROWS_AS(parser.feed("nonsense\r\n"), c8y::mtls::error);
    const auto again = c8y::mtls::test::thrown_by([&] { parser.feed("HTTP/1.1 200 OK\r\n"); });
    REQUIRE(again.has_value());
    CHECK(again->code() == errc::http_malformed_status_line);
}

TEST_CASE("https URLs are taken apart, and refused when unusable")
{
    const http::url u = http::url::parse("https://example.cumulocity.com/inventory/managedObjects?pageSize=5#top");
    CHECK(u.host == "example.cumulocity.com");
    CHECK(u.port == 443);
    CHECK(u.target == "/inventory/managedObjects?pageSize=5");
    CHECK(u.authority() == "example.cumulocity.com");
    CHECK(u.str() == "https://example.cumulocity.com/inventory/managedObjects?pageSize=5");

    const http::url v = http::url::parse("HTTPS://[::1]:8443");
    CHECK(v.host == "::1");
    CHECK(v.port == 8443);
    CHECK(v.target == "/");
    CHECK(v.authority() == "[::1]:8443");
    CHECK(http::url::parse("https://h?q=1").target == "/?q=1");

    CHECK_ERROR(http::url::parse("http://example.com/"), errc::http_invalid_url, "plain http is not supported");
    CHECK_ERROR(http::url::parse("ftp://example.com/"), errc::http_invalid_url, "scheme is not https");
    CHECK_ERROR(http::url::parse("example.com/x"), errc::http_invalid_url, "not an absolute URL");
    CHECK_ERROR(http::url::parse("https://user:pw@example.com/"), errc::http_invalid_url, "user information");
    CHECK_ERROR(http::url::parse("https:///path"), errc::http_invalid_url, "host is empty");
    CHECK_ERROR(http::url::parse("https://exa mple.com/"), errc::http_invalid_url, "0x20 at position 3");
    CHECK_ERROR(http::url::parse("https://example.com:0/"), errc::http_invalid_url, "not 1 to 65535");
    CHECK_ERROR(http::url::parse("https://example.com:65536/"), errc::http_invalid_url, "not 1 to 65535");
    CHECK_ERROR(http::url::parse("https://example.com:/"), errc::http_invalid_url, "not 1 to 65535");
    CHECK_ERROR(http::url::parse("https://[::1/"), errc::http_invalid_url, "no closing ']'");
    CHECK_ERROR(http::url::parse("https://[zz]/"), errc::http_invalid_url, "not an IPv6 address");
    CHECK_ERROR(http::url::parse("https://example.com/a b"), errc::http_invalid_url, "percent-encode");
    CHECK_ERROR(http::url::parse("https://example.com/\xC3\xA9"), errc::http_invalid_url, "0xC3");
}

TEST_CASE("a Location is resolved against the request's URL")
{
    const http::url base = http::url::parse("https://h:8443/a/b/c?x=1");
    CHECK(base.resolve("/d").str() == "https://h:8443/d");
    CHECK(base.resolve("d?y=2").str() == "https://h:8443/a/b/d?y=2");
    CHECK(base.resolve("?y=2").str() == "https://h:8443/a/b/c?y=2");
    CHECK(base.resolve("//other/e").str() == "https://other/e");
    CHECK(base.resolve("https://other:9/f#frag").str() == "https://other:9/f");
    CHECK_ERROR(base.resolve("http://other/"), errc::http_invalid_url, "plain http");
    CHECK_ERROR(base.resolve("/with space"), errc::http_invalid_url, "percent-encode");
}

TEST_CASE("requests are serialised with Host, User-Agent, Authorization and their framing")
{
    const http::url where = http::url::parse("https://example.com:8443/inventory?x=1");
    http::request get;
    get.url = where.str();
    get.fields.add("Accept", "application/json");
    CHECK(serialize_request(get, where, "Bearer abc", "c8y-mtls/test") ==
          "GET /inventory?x=1 HTTP/1.1\r\nHost: example.com:8443\r\nUser-Agent: c8y-mtls/test\r\n"
          "Authorization: Bearer abc\r\nAccept: application/json\r\n\r\n");

    http::request post;
    post.method = "POST";
    post.body = "{\"a\":1}";
    post.fields.add("User-Agent", "mine");
    CHECK(serialize_request(post, where, "", "c8y-mtls/test") ==
          "POST /inventory?x=1 HTTP/1.1\r\nHost: example.com:8443\r\nUser-Agent: mine\r\n"
          "Content-Length: 7\r\n\r\n{\"a\":1}");

    http::request empty_post;
    empty_post.method = "POST";
    CHECK(serialize_request(empty_post, where, "", "") ==
          "POST /inventory?x=1 HTTP/1.1\r\nHost: example.com:8443\r\nContent-Length: 0\r\n\r\n");

    http::request chunked;
    chunked.method = "PUT";
    chunked.chunked = true;
    chunked.body = std::string(26, 'z');
    CHECK(serialize_request(chunked, where, "", "") ==
          "PUT /inventory?x=1 HTTP/1.1\r\nHost: example.com:8443\r\nTransfer-Encoding: chunked\r\n\r\n"
          "1a\r\n" + std::string(26, 'z') + "\r\n0\r\n\r\n");
}

TEST_CASE("requests that would break their framing or the client's headers are refused")
{
    const http::url where = http::url::parse("https://example.com/");
    const auto refused = [&](http::request r, std::string_view authorization = "") {
        return c8y::mtls::test::thrown_by([&] { (void)serialize_request(r, where, authorization, ""); });
    };
    http::request r;
    r.method = "GE T";
    auto e = refused(r);
    REQUIRE(e);
    CHECK(e->code() == errc::http_invalid_request);
    CHECK(contains(e->detail(), "not a token"));

    r = {};
    r.fields.add("X-Injected", "a\r\nHost: evil");
    e = refused(r);
    REQUIRE(e);
    CHECK(contains(e->detail(), "0x0D"));

    for (const char* managed : {"Host", "content-length", "Transfer-Encoding", "Connection"}) {
        r = {};
        r.fields.add(managed, "x");
        e = refused(r);
        REQUIRE(e);
        CHECK(contains(e->detail(), "the client sets it itself"));
    }
    r = {};
    r.fields.add("Authorization", "Basic x");
    CHECK_FALSE(refused(r).has_value()); // the caller's own, on a request the client does not authenticate
    e = refused(r, "Bearer t");
    REQUIRE(e);
    CHECK(contains(e->detail(), "authenticates this request itself"));

    r = {};
    r.fields.add("Bad Name", "x");
    e = refused(r);
    REQUIRE(e);
    CHECK(contains(e->detail(), "the name has a character 0x20"));
}

TEST_CASE("Basic credentials: the header value, the password wiped, names Basic cannot carry refused")
{
    basic_credentials admin("t0/admin", "pass word");
    CHECK(admin.authorization() == "Basic dDAvYWRtaW46cGFzcyB3b3Jk"); // base64 of t0/admin:pass word
    CHECK_FALSE(admin.wiped());
    admin.wipe();
    CHECK(admin.wiped());
    CHECK_ERROR(admin.authorization(), errc::invalid_argument, "already wiped");

    basic_credentials empty_password("user", "");
    CHECK(empty_password.authorization() == "Basic dXNlcjo=");
    basic_credentials moved = std::move(empty_password);
    CHECK(empty_password.wiped()); // a moved-from object holds no password
    CHECK_FALSE(moved.wiped());

    CHECK_ERROR(basic_credentials("a:b", "p"), errc::invalid_argument, "contains ':'");
    CHECK_ERROR(basic_credentials("", "p"), errc::invalid_argument, "user name is empty");
    CHECK_ERROR(basic_credentials("a\nb", "p"), errc::invalid_argument, "control character");
    CHECK_ERROR(basic_credentials("a", "p\r\n"), errc::invalid_argument, "control character");
}
