// Tests of the device token: the s/dat answer, the JWT and its claims, and the base64 and JSON readers under them.
#include "c8y/mtls/detail/base64.hpp"
#include "c8y/mtls/detail/json.hpp"
#include "c8y/mtls/device_token.hpp"
#include "c8y/mtls/time_format.hpp"

#include <doctest/doctest.h>

#include "support/check_error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream> // doctest prints std::error_code through it
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using c8y::mtls::device_token;
using c8y::mtls::errc;
using c8y::mtls::format_time;
using c8y::mtls::parse_token_answer;
using c8y::mtls::smartrest_template;
using c8y::mtls::detail::base64_decode;
using c8y::mtls::detail::base64_encode;
using c8y::mtls::detail::base64_error;
using c8y::mtls::detail::base64url_decode;
using c8y::mtls::detail::base64url_encode;
using c8y::mtls::detail::json_error;
using c8y::mtls::detail::json_kind;
using c8y::mtls::detail::parse_json_object;
using std::chrono::sys_seconds;

using c8y::mtls::test::contains;
using c8y::mtls::test::thrown_by;

namespace {

sys_seconds at(std::int64_t seconds) { return sys_seconds{std::chrono::seconds{seconds}}; }

constexpr std::int64_t jan_2026 = 1767225600; // 2026-01-01T00:00:00Z

constexpr std::string_view header = R"({"alg":"RS256","typ":"JWT"})";

// Claims shaped like the platform's device tokens.
constexpr std::string_view claims =
    R"({"aud":"t1234.eu-latest.cumulocity.com","exp":1767229200,"iat":1767225600,)"
    R"("iss":"t1234.eu-latest.cumulocity.com","jti":"5a3b","nbf":1767225600,)"
    R"("sub":"device_dev-1","ten":"t1234","tfa":false,"xsrfToken":"abc"})";

std::string make_jwt(std::string_view header_json, std::string_view claims_json,
                     std::string_view signature = "not really a signature")
{
    return base64url_encode(header_json) + "." + base64url_encode(claims_json) + "." + base64url_encode(signature);
}

std::string claims_with(std::string_view iat, std::string_view exp)
{
    return R"({"iat":)" + std::string(iat) + R"(,"exp":)" + std::string(exp) + "}";
}

// The error a JSON text gets, or an offset of -1 when it parses.
struct json_outcome {
    long long offset = -1;
    std::string reason;
};

json_outcome json_check(std::string_view text)
{
    json_error error;
    if (parse_json_object(text, &error)) {
        return {};
    }
    return {static_cast<long long>(error.offset), error.reason};
}

} // namespace

// Checks that a JSON text is refused at `at` with a reason containing `why`.
#define CHECK_JSON_REFUSED(text, at, why)                                                          \
    do {                                                                                           \
        const json_outcome o_ = json_check(text);                                                  \
        CHECK_MESSAGE(o_.offset == (at), "reason: " << o_.reason);                                 \
        CHECK_MESSAGE(contains(o_.reason, why), "reason: " << o_.reason);                          \
    } while (false)

// ---- base64 ----------------------------------------------------------------------------------

TEST_CASE("base64 encoders match the RFC 4648 test vectors")
{
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foob") == "Zm9vYg==");
    CHECK(base64_encode("fooba") == "Zm9vYmE=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64url_encode("") == "");
    CHECK(base64url_encode("f") == "Zg");
    CHECK(base64url_encode("fo") == "Zm8");
    CHECK(base64url_encode("foob") == "Zm9vYg");
    CHECK(base64url_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64 and base64url differ only in the last two characters and the padding")
{
    CHECK(base64_encode("\xfb\xff") == "+/8=");
    CHECK(base64url_encode("\xfb\xff") == "-_8");
    CHECK(base64_decode("+/8=") == std::string("\xfb\xff"));
    CHECK(base64url_decode("-_8") == std::string("\xfb\xff"));
}

TEST_CASE("base64 decoders round-trip every byte value at every length")
{
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all += static_cast<char>(i);
    }
    for (std::size_t n = 0; n <= all.size(); n += 1 + n / 7) {
        const std::string data = all.substr(all.size() - n);
        CAPTURE(n);
        CHECK(base64url_decode(base64url_encode(data)) == data);
        CHECK(base64_decode(base64_encode(data)) == data);
    }
}

TEST_CASE("base64url decoding refuses padding")
{
    base64_error error;
    CHECK_FALSE(base64url_decode("Zg==", &error));
    CHECK(error.offset == 2);
    CHECK(contains(error.reason, "padding"));
    CHECK_FALSE(base64url_decode("Zm9v=", &error));
}

TEST_CASE("base64url decoding refuses the standard alphabet's '+' and '/'")
{
    base64_error error;
    CHECK_FALSE(base64url_decode("ab+c", &error));
    CHECK(error.offset == 2);
    CHECK(contains(error.reason, "'+' and '/'"));
    CHECK_FALSE(base64url_decode("ab/c", &error));
    CHECK(error.offset == 2);
}

TEST_CASE("base64url decoding refuses whitespace")
{
    base64_error error;
    CHECK_FALSE(base64url_decode("Zm9v Zm9v", &error));
    CHECK(error.offset == 4);
    CHECK(contains(error.reason, "whitespace"));
    CHECK_FALSE(base64url_decode("Zm9v\n", &error));
    CHECK_FALSE(base64url_decode("Zm9v\r\nZm9v", &error));
    CHECK_FALSE(base64url_decode("\tZm9v", &error));
}

TEST_CASE("base64url decoding refuses impossible lengths")
{
    base64_error error;
    CHECK_FALSE(base64url_decode("Z", &error));
    CHECK(contains(error.reason, "impossible length"));
    CHECK_FALSE(base64url_decode("Zm9vY", &error));
    CHECK(error.offset == 5);
    CHECK(base64url_decode("Zm9vYg") == std::string("foob"));
    CHECK(base64url_decode("Zm9vYmE") == std::string("fooba"));
}

TEST_CASE("base64url decoding refuses non-zero unused bits")
{
    base64_error error;
    CHECK(base64url_decode("Zg") == std::string("f"));
    CHECK_FALSE(base64url_decode("Zh", &error));
    CHECK(error.offset == 1);
    CHECK(contains(error.reason, "unused bits"));
    CHECK(base64url_decode("Zm8") == std::string("fo"));
    CHECK_FALSE(base64url_decode("Zm9", &error));
    CHECK(error.offset == 2);
}

TEST_CASE("base64url decoding refuses characters outside the alphabet")
{
    for (const std::string_view text : {std::string_view("ab.c"), std::string_view("ab*c"),
                                         std::string_view("ab\xc3\xa9"), std::string_view("ab\0c", 4)}) {
        base64_error error;
        CHECK_FALSE(base64url_decode(text, &error));
        CHECK(error.offset == 2);
        CHECK(contains(error.reason, "alphabet"));
    }
}

TEST_CASE("base64url decoding accepts the empty string")
{
    CHECK(base64url_decode("") == std::string());
    CHECK(base64_decode("") == std::string());
}

TEST_CASE("standard base64 decoding requires exact padding")
{
    base64_error error;
    CHECK(base64_decode("Zg==") == std::string("f"));
    CHECK(base64_decode("Zm8=") == std::string("fo"));
    CHECK_FALSE(base64_decode("Zg", &error));
    CHECK(contains(error.reason, "multiple of 4"));
    CHECK_FALSE(base64_decode("Zg=", &error));
    CHECK_FALSE(base64_decode("Z===", &error));
    CHECK(error.offset == 1);
    CHECK(contains(error.reason, "padding '=' before the end"));
    CHECK_FALSE(base64_decode("=AAA", &error));
    CHECK(error.offset == 0);
    CHECK_FALSE(base64_decode("Zg==Zg==", &error));
    CHECK(error.offset == 2);
    CHECK_FALSE(base64_decode("Zm==", &error));
    CHECK(contains(error.reason, "unused bits"));
}

TEST_CASE("standard base64 decoding refuses non-zero unused bits, the url alphabet and whitespace")
{
    base64_error error;
    CHECK_FALSE(base64_decode("Zh==", &error));
    CHECK(contains(error.reason, "unused bits"));
    CHECK_FALSE(base64_decode("Zm9=", &error));
    CHECK(contains(error.reason, "unused bits"));
    CHECK_FALSE(base64_decode("-_8=", &error));
    CHECK(error.offset == 0);
    CHECK(contains(error.reason, "'-' and '_'"));
    CHECK_FALSE(base64_decode("Zm 9", &error));
    CHECK(contains(error.reason, "whitespace"));
    CHECK_FALSE(base64_decode("Zm9vYg==\n", &error));
}

// ---- JSON ------------------------------------------------------------------------------------

TEST_CASE("JSON object members come with their kind, raw text and unescaped strings")
{
    const auto object = parse_json_object(
        R"({"s":"x\ty","n":-1.5e3,"t":true,"f":false,"z":null,"a":[1,[2],{}],"o":{"k":[]}})");
    REQUIRE(object);
    REQUIRE(object->members.size() == 7);
    CHECK(object->members[0].name == "s");
    CHECK(object->find("s")->kind == json_kind::string);
    CHECK(object->find("s")->raw == R"("x\ty")");
    CHECK(object->find("s")->text == "x\ty");
    CHECK(object->find("n")->kind == json_kind::number);
    CHECK(object->find("n")->raw == "-1.5e3");
    CHECK(object->find("t")->kind == json_kind::boolean);
    CHECK(object->find("t")->raw == "true");
    CHECK(object->find("f")->raw == "false");
    CHECK(object->find("z")->kind == json_kind::null);
    CHECK(object->find("a")->kind == json_kind::array);
    CHECK(object->find("a")->raw == "[1,[2],{}]");
    CHECK(object->find("o")->kind == json_kind::object);
    CHECK(object->find("o")->raw == R"({"k":[]})");
    CHECK(object->find("missing") == nullptr);
}

TEST_CASE("JSON allows whitespace around every token")
{
    const auto object = parse_json_object(" \t\r\n{ \"a\" : 1 , \"b\" : [ 1 , { } ] } \n");
    REQUIRE(object);
    CHECK(object->find("a")->raw == "1");
    CHECK(object->find("b")->raw == "[ 1 , { } ]");
    CHECK(parse_json_object("{}"));
    CHECK(parse_json_object("{ }"));
}

TEST_CASE("JSON strings unescape every escape to UTF-8")
{
    auto value = c8y::mtls::detail::json_member_of(R"({"s":"\"\\\/\b\f\n\r\t"})", "s");
    REQUIRE(value);
    CHECK(value->text == "\"\\/\b\f\n\r\t");
    CHECK(c8y::mtls::detail::json_member_of(R"({"s":"caf\u00e9 \u20AC"})", "s")->text == "caf\xc3\xa9 \xe2\x82\xac");
    CHECK(c8y::mtls::detail::json_member_of(R"({"s":"\ud83d\ude00"})", "s")->text == "\xf0\x9f\x98\x80");
    CHECK(c8y::mtls::detail::json_member_of(R"({"s":"\uDBFF\uDFFF"})", "s")->text == "\xf4\x8f\xbf\xbf");
    CHECK(c8y::mtls::detail::json_member_of(R"({"s":"a\u0000b"})", "s")->text == std::string("a\0b", 3));
    CHECK(c8y::mtls::detail::json_member_of("{\"s\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}", "s")->text ==
          "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST_CASE("JSON member names are unescaped too")
{
    CHECK(c8y::mtls::detail::json_member_of(R"({"\u0061\u0062":1})", "ab")->raw == "1");
}

TEST_CASE("json_member_of gives nullopt for a missing member or a document that is not a valid object")
{
    CHECK_FALSE(c8y::mtls::detail::json_member_of(R"({"a":1})", "b"));
    CHECK_FALSE(c8y::mtls::detail::json_member_of(R"({"a":1,})", "a"));
    CHECK_FALSE(c8y::mtls::detail::json_member_of(R"([{"a":1}])", "a"));
    CHECK_FALSE(c8y::mtls::detail::json_member_of(R"({"o":{"a":1}})", "a"));
}

TEST_CASE("JSON accepts every number form of RFC 8259")
{
    for (const char* number : {"0", "-0", "7", "-12", "0.5", "-0.5", "10.25", "1e10", "1E+2", "1e-2", "-12.34e-5",
                               "0e0", "123456789012345678901234567890"}) {
        CAPTURE(number);
        const auto value = c8y::mtls::detail::json_member_of(std::string(R"({"n":)") + number + "}", "n");
        REQUIRE(value);
        CHECK(value->kind == json_kind::number);
        CHECK(value->raw == number);
    }
}

TEST_CASE("JSON refuses malformed numbers")
{
    CHECK_JSON_REFUSED(R"({"a":01})", 6, "leading zero");
    CHECK_JSON_REFUSED(R"({"a":-01})", 7, "leading zero");
    CHECK_JSON_REFUSED(R"({"a":-})", 6, "digit");
    CHECK_JSON_REFUSED(R"({"a":1.})", 7, "digit");
    CHECK_JSON_REFUSED(R"({"a":.5})", 5, "expected a value");
    CHECK_JSON_REFUSED(R"({"a":1e})", 7, "digit");
    CHECK_JSON_REFUSED(R"({"a":1e+})", 8, "digit");
    CHECK_JSON_REFUSED(R"({"a":+1})", 5, "expected a value");
    CHECK_JSON_REFUSED(R"({"a":0x10})", 6, "expected ',' or '}'");
    CHECK_JSON_REFUSED(R"({"a":NaN})", 5, "expected a value");
    CHECK_JSON_REFUSED(R"({"a":Infinity})", 5, "expected a value");
}

TEST_CASE("JSON refuses malformed literals")
{
    CHECK_JSON_REFUSED(R"({"a":tru})", 5, "true, false or null");
    CHECK_JSON_REFUSED(R"({"a":True})", 5, "expected a value");
    CHECK_JSON_REFUSED(R"({"a":nul})", 5, "true, false or null");
    CHECK_JSON_REFUSED(R"({"a":falsey})", 10, "expected ',' or '}'");
}

TEST_CASE("JSON refuses trailing garbage")
{
    CHECK_JSON_REFUSED("{} x", 3, "after the JSON object");
    CHECK_JSON_REFUSED("{}}", 2, "after the JSON object");
    CHECK_JSON_REFUSED("{}{}", 2, "after the JSON object");
    CHECK_JSON_REFUSED(std::string_view("{}\0", 3), 2, "after the JSON object");
}

TEST_CASE("JSON refuses what is not an object")
{
    CHECK_JSON_REFUSED("", 0, "expected a JSON object");
    CHECK_JSON_REFUSED("  ", 2, "expected a JSON object");
    CHECK_JSON_REFUSED("[]", 0, "expected a JSON object");
    CHECK_JSON_REFUSED(R"("a")", 0, "expected a JSON object");
    CHECK_JSON_REFUSED("1", 0, "expected a JSON object");
    CHECK_JSON_REFUSED("\xef\xbb\xbf{}", 0, "expected a JSON object");
}

TEST_CASE("JSON refuses structural faults")
{
    CHECK_JSON_REFUSED(R"({"a":1,})", 7, "member name");
    CHECK_JSON_REFUSED(R"({"a":[1,]})", 8, "expected a value");
    CHECK_JSON_REFUSED(R"({"a":[1 2]})", 8, "expected ',' or ']'");
    CHECK_JSON_REFUSED(R"({"a" 1})", 5, "expected ':'");
    CHECK_JSON_REFUSED(R"({'a':1})", 1, "member name");
    CHECK_JSON_REFUSED(R"({a:1})", 1, "member name");
    CHECK_JSON_REFUSED(R"({"a":1 "b":2})", 7, "expected ',' or '}'");
    CHECK_JSON_REFUSED(R"({"a":)", 5, "end of input");
    CHECK_JSON_REFUSED(R"({"a":1)", 6, "expected ',' or '}'");
    CHECK_JSON_REFUSED(R"({"a":[)", 6, "end of input");
}

TEST_CASE("JSON refuses raw control characters in strings")
{
    CHECK_JSON_REFUSED("{\"a\":\"x\ny\"}", 7, "control character");
    CHECK_JSON_REFUSED("{\"a\":\"x\ty\"}", 7, "control character");
    CHECK_JSON_REFUSED(std::string_view("{\"a\":\"x\0y\"}", 11), 7, "control character");
    CHECK_JSON_REFUSED("{\"a\x1f\":1}", 3, "control character");
    CHECK(parse_json_object("{\"a\":\"x\x7fy\"}"));
}

TEST_CASE("JSON refuses bad escapes and unterminated strings")
{
    CHECK_JSON_REFUSED(R"({"a":"\x"})", 7, "invalid escape");
    CHECK_JSON_REFUSED(R"({"a":"\'"})", 7, "invalid escape");
    CHECK_JSON_REFUSED(R"({"a":"\u12g4"})", 10, "hex digits");
    CHECK_JSON_REFUSED(R"({"a":"\u12)", 10, "end of input");
    CHECK_JSON_REFUSED(R"({"a":"abc)", 9, "unterminated string");
    CHECK_JSON_REFUSED(R"({"a":"abc\)", 10, "end of input");
}

TEST_CASE("JSON refuses lone surrogates")
{
    CHECK_JSON_REFUSED(R"({"a":"\ud83d"})", 6, "lone high surrogate");
    CHECK_JSON_REFUSED(R"({"a":"\ud83dx"})", 6, "lone high surrogate");
    CHECK_JSON_REFUSED(R"({"a":"\ud83d\u0041"})", 6, "lone high surrogate");
    CHECK_JSON_REFUSED(R"({"a":"\ud83d\ud83d"})", 6, "lone high surrogate");
    CHECK_JSON_REFUSED(R"({"a":"\ud83d\n"})", 6, "lone high surrogate");
    CHECK_JSON_REFUSED(R"({"a":"\ude00"})", 6, "lone low surrogate");
    CHECK_JSON_REFUSED(R"({"a":"x\uDFFF\ud83d"})", 7, "lone low surrogate");
}

TEST_CASE("JSON refuses ill-formed UTF-8 in strings")
{
    for (const std::string_view bad : {"\xc0\x80", "\xc1\xbf", "\xed\xa0\x80", "\xe0\x80\xaf", "\xf0\x80\x80\x80",
                                       "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\x80", "\xc3", "\xe2\x82"}) {
        CAPTURE(bad);
        CHECK_JSON_REFUSED("{\"a\":\"x" + std::string(bad) + "\"}", 7, "invalid UTF-8");
    }
}

TEST_CASE("JSON nesting is bounded at 64 levels")
{
    const auto nested = [](std::size_t arrays) {
        return R"({"a":)" + std::string(arrays, '[') + std::string(arrays, ']') + "}";
    };
    CHECK(c8y::mtls::detail::json_max_depth == 64);
    CHECK(parse_json_object(nested(63)));
    CHECK_JSON_REFUSED(nested(64), 68, "nested too deep");
    CHECK_JSON_REFUSED(nested(100000), 68, "nested too deep");

    std::string objects = "{";
    for (int i = 1; i < 64; ++i) {
        objects += R"("a":{)";
    }
    objects += std::string(64, '}');
    CHECK(parse_json_object(objects));
    objects.insert(1, R"("a":{)");
    objects += "}";
    CHECK_JSON_REFUSED(objects, 64 * 5, "nested too deep");
}

TEST_CASE("JSON refuses duplicate top-level member names, also when spelled with escapes")
{
    CHECK_JSON_REFUSED(R"({"exp":1,"exp":2})", 9, "duplicate member name");
    CHECK_JSON_REFUSED(R"({"exp":1,"\u0065xp":2})", 9, "duplicate member name");
    CHECK(parse_json_object(R"({"a":{"x":1,"x":2}})"));
}

// ---- format_time -----------------------------------------------------------------------------

TEST_CASE("format_time writes ISO-8601 UTC")
{
    CHECK(format_time(at(0)) == "1970-01-01T00:00:00Z");
    CHECK(format_time(at(jan_2026)) == "2026-01-01T00:00:00Z");
    CHECK(format_time(at(1709210096)) == "2024-02-29T12:34:56Z");
    CHECK(format_time(at(951782400)) == "2000-02-29T00:00:00Z");
    CHECK(format_time(at(4107542399)) == "2100-02-28T23:59:59Z");
    CHECK(format_time(at(4107542400)) == "2100-03-01T00:00:00Z");
    CHECK(format_time(at(-1)) == "1969-12-31T23:59:59Z");
    CHECK(format_time(at(-62167219200)) == "0000-01-01T00:00:00Z");
    CHECK(format_time(at(-62167219201)) == "-0001-12-31T23:59:59Z");
    CHECK(format_time(at(253402300799)) == "9999-12-31T23:59:59Z");
    CHECK(format_time(at(253402300800)) == "+10000-01-01T00:00:00Z");
}

// ---- device_token::from_jwt ------------------------------------------------------------------

TEST_CASE("from_jwt reads the platform's claims")
{
    const std::string jwt = make_jwt(header, claims);
    const device_token token = device_token::from_jwt(jwt);
    CHECK(token.jwt() == jwt);
    CHECK(token.claims_json() == claims);
    CHECK(token.issued_at() == at(jan_2026));
    CHECK(token.expires_at() == at(jan_2026 + 3600));
    CHECK(token.lifetime() == 3600s);
    CHECK(token.subject() == "device_dev-1");
    CHECK(token.issuer() == "t1234.eu-latest.cumulocity.com");
    CHECK(token.tenant() == "t1234");
}

TEST_CASE("from_jwt leaves absent or non-string sub, iss and ten empty")
{
    const device_token bare = device_token::from_jwt(make_jwt(header, claims_with("1767225600", "1767229200")));
    CHECK_FALSE(bare.subject());
    CHECK_FALSE(bare.issuer());
    CHECK_FALSE(bare.tenant());
    const device_token odd = device_token::from_jwt(
        make_jwt(header, R"({"iat":1767225600,"exp":1767229200,"sub":7,"iss":null,"ten":["t1"]})"));
    CHECK_FALSE(odd.subject());
    CHECK_FALSE(odd.issuer());
    CHECK_FALSE(odd.tenant());
}

TEST_CASE("from_jwt truncates fractional and exponent forms of iat and exp")
{
    const auto token = device_token::from_jwt(make_jwt(header, claims_with("1767225600.75", "1.7672292999e9")));
    CHECK(token.issued_at() == at(jan_2026));
    CHECK(token.expires_at() == at(1767229299));
    const auto tiny = device_token::from_jwt(make_jwt(header, claims_with("0.999", "17672256000e-1")));
    CHECK(tiny.issued_at() == at(0));
    CHECK(tiny.expires_at() == at(jan_2026));
    const auto last = device_token::from_jwt(make_jwt(header, claims_with("-0.5", "253402300799")));
    CHECK(last.issued_at() == at(0));
    CHECK(last.expires_at() == at(253402300799));
}

TEST_CASE("from_jwt accepts an empty signature: it reads the token, it does not verify it")
{
    const auto token = device_token::from_jwt(make_jwt(R"({"alg":"none"})", claims, ""));
    CHECK(token.lifetime() == 3600s);
}

TEST_CASE("from_jwt refuses a token without three parts")
{
    CHECK_ERROR(device_token::from_jwt(""), errc::jwt_malformed, "empty");
    CHECK_ERROR(device_token::from_jwt("abc"), errc::jwt_malformed, "1 '.'-separated parts");
    CHECK_ERROR(device_token::from_jwt("a.b"), errc::jwt_malformed, "2 '.'-separated parts");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims) + ".x"), errc::jwt_malformed, "4 '.'-separated parts");
    CHECK_ERROR(device_token::from_jwt("a.b.c.d.e"), errc::jwt_malformed, "JWE");
}

TEST_CASE("from_jwt refuses a header that is empty or not base64url")
{
    const std::string rest = "." + base64url_encode(claims) + ".c2ln";
    CHECK_ERROR(device_token::from_jwt(rest), errc::jwt_malformed, "JWT header is empty");
    CHECK_ERROR(device_token::from_jwt("ey+J" + rest), errc::jwt_malformed, "JWT header is not base64url at byte 2");
    // 14 bytes: base64 pads them with one '='.
    const std::string_view short_header = R"({"alg":"none"})";
    CHECK_ERROR(device_token::from_jwt(base64url_encode(short_header) + "=" + rest), errc::jwt_malformed,
                "JWT header is not base64url at byte 19: padding");
    CHECK_ERROR(device_token::from_jwt(base64_encode(short_header) + rest), errc::jwt_malformed,
                "JWT header is not base64url at byte 19: padding");
}

TEST_CASE("from_jwt refuses a header that is not a JSON object")
{
    CHECK_ERROR(device_token::from_jwt(make_jwt(R"({"alg":)", claims)), errc::jwt_malformed,
                "JWT header is not valid JSON at byte 7 (end of input)");
    CHECK_ERROR(device_token::from_jwt(make_jwt(R"(["alg"])", claims)), errc::jwt_malformed,
                "JWT header is not valid JSON at byte 0");
    CHECK_ERROR(device_token::from_jwt(make_jwt(R"({"alg":"RS256"} )" "x", claims)), errc::jwt_malformed,
                "JWT header is not valid JSON at byte 16");
}

TEST_CASE("from_jwt refuses a header without a string alg")
{
    CHECK_ERROR(device_token::from_jwt(make_jwt(R"({"typ":"JWT"})", claims)), errc::jwt_malformed,
                "JWT header has no alg");
    CHECK_ERROR(device_token::from_jwt(make_jwt(R"({"alg":256})", claims)), errc::jwt_malformed,
                "alg is not a string but \"256\"");
}

TEST_CASE("from_jwt refuses claims that are empty, not base64url or not a JSON object")
{
    CHECK_ERROR(device_token::from_jwt(base64url_encode(header) + "..c2ln"), errc::jwt_malformed,
                "JWT claims are empty");
    CHECK_ERROR(device_token::from_jwt(base64url_encode(header) + ".e/J9.c2ln"), errc::jwt_malformed,
                "JWT claims are not base64url at byte 1");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, R"({"iat":1,"exp":2,})")), errc::jwt_malformed,
                "JWT claims are not valid JSON at byte 17");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, R"("claims")")), errc::jwt_malformed,
                "JWT claims are not valid JSON at byte 0");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, R"({"iat":1,"exp":2,"exp":9})")), errc::jwt_malformed,
                "duplicate member name");
}

TEST_CASE("from_jwt refuses a signature that is not base64url")
{
    CHECK_ERROR(device_token::from_jwt(base64url_encode(header) + "." + base64url_encode(claims) + ".c2l+"),
                errc::jwt_malformed, "JWT signature is not base64url at byte 3");
}

TEST_CASE("from_jwt requires iat and exp")
{
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, R"({"iat":1767225600})")), errc::jwt_malformed,
                "JWT has no exp claim");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, R"({"exp":1767225600})")), errc::jwt_malformed,
                "JWT has no iat claim");
}

TEST_CASE("from_jwt requires iat and exp to be numbers")
{
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767225600", R"("1767229200")"))),
                errc::jwt_malformed, "JWT exp claim is not a number");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("true", "1767229200"))), errc::jwt_malformed,
                "JWT iat claim is not a number but \"true\"");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767225600", "null"))), errc::jwt_malformed,
                "JWT exp claim is not a number");
}

TEST_CASE("from_jwt refuses iat and exp outside 1970 to 9999")
{
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767225600", "1e20"))), errc::jwt_malformed,
                "JWT exp claim \"1e20\" is outside 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767225600", "253402300800"))),
                errc::jwt_malformed, "is outside");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767225600", "1e999999999999"))),
                errc::jwt_malformed, "is outside");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("-1", "1767229200"))), errc::jwt_malformed,
                "JWT iat claim \"-1\" is outside");
    const auto tiny = device_token::from_jwt(make_jwt(header, claims_with("1e-999999999999", "1")));
    CHECK(tiny.issued_at() == at(0));
}

TEST_CASE("from_jwt requires exp after iat")
{
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767225600", "1767225600"))),
                errc::jwt_malformed, "JWT exp 2026-01-01T00:00:00Z is not after its iat 2026-01-01T00:00:00Z");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767229200", "1767225600"))),
                errc::jwt_malformed, "JWT exp 2026-01-01T00:00:00Z is not after its iat 2026-01-01T01:00:00Z");
    CHECK_ERROR(device_token::from_jwt(make_jwt(header, claims_with("1767225600.9", "1767225600.99"))),
                errc::jwt_malformed, "is not after");
}

TEST_CASE("expired_at counts exp itself as expired and honours the margin")
{
    const device_token token = device_token::from_jwt(make_jwt(header, claims));
    const sys_seconds exp = token.expires_at();
    CHECK_FALSE(token.expired_at(token.issued_at()));
    CHECK_FALSE(token.expired_at(exp - 1s));
    CHECK(token.expired_at(exp));
    CHECK(token.expired_at(exp + 1s));
    CHECK_FALSE(token.expired_at(exp - 61s, 60s));
    CHECK(token.expired_at(exp - 60s, 60s));
}

// ---- parse_token_answer ----------------------------------------------------------------------

TEST_CASE("parse_token_answer reads 71,<JWT>")
{
    const std::string jwt = make_jwt(header, claims);
    const device_token token = parse_token_answer("71," + jwt);
    CHECK(token.jwt() == jwt);
    CHECK(token.tenant() == "t1234");
    CHECK(token.expires_at() == at(jan_2026 + 3600));
}

TEST_CASE("parse_token_answer tolerates one trailing line end")
{
    const std::string jwt = make_jwt(header, claims);
    CHECK(parse_token_answer("71," + jwt + "\n").jwt() == jwt);
    CHECK(parse_token_answer("71," + jwt + "\r\n").jwt() == jwt);
    CHECK_ERROR(parse_token_answer("71," + jwt + "\n\n"), errc::token_answer_malformed, "more than one line");
    CHECK_ERROR(parse_token_answer("71," + jwt + "\r"), errc::token_answer_malformed, "more than one line");
}

TEST_CASE("parse_token_answer accepts the JWT as a quoted CSV field")
{
    const std::string jwt = make_jwt(header, claims);
    CHECK(parse_token_answer("71,\"" + jwt + "\"").jwt() == jwt);
    CHECK(parse_token_answer("71,\"" + jwt + "\"\r\n").jwt() == jwt);
}

TEST_CASE("parse_token_answer refuses an empty answer")
{
    CHECK_ERROR(parse_token_answer(""), errc::token_answer_malformed, "empty");
    CHECK_ERROR(parse_token_answer("\n"), errc::token_answer_malformed, "empty");
    CHECK_ERROR(parse_token_answer("\r\n"), errc::token_answer_malformed, "empty");
}

TEST_CASE("parse_token_answer refuses an answer without a comma")
{
    CHECK_ERROR(parse_token_answer("71"), errc::token_answer_malformed, "no ','");
    CHECK_ERROR(parse_token_answer(make_jwt(header, claims)), errc::token_answer_malformed, "no ','");
}

TEST_CASE("parse_token_answer refuses a first field that is not a number")
{
    const std::string jwt = make_jwt(header, claims);
    for (const std::string first : {"x1", "", " 71", "71 ", "-71", "+71", "7.1", "1234567890"}) {
        CAPTURE(first);
        CHECK_ERROR(parse_token_answer(first + "," + jwt), errc::token_answer_malformed, "template number");
    }
}

TEST_CASE("parse_token_answer reports another template with its number")
{
    CHECK_ERROR(parse_token_answer("41,100,Device already existing"), errc::token_unexpected_template,
                "template 41 instead of 71");
    CHECK_ERROR(parse_token_answer("70," + make_jwt(header, claims)), errc::token_unexpected_template, "70");
    CHECK(smartrest_template("41,100,Device already existing") == 41);
}

TEST_CASE("parse_token_answer refuses a JWT that does not decode")
{
    CHECK_ERROR(parse_token_answer("71,"), errc::jwt_malformed, "empty");
    CHECK_ERROR(parse_token_answer("71,not-a-jwt"), errc::jwt_malformed, "1 '.'-separated parts");
    CHECK_ERROR(parse_token_answer("71,\"\""), errc::jwt_malformed, "empty");
    CHECK_ERROR(parse_token_answer("71," + make_jwt(header, R"({"iat":1})")), errc::jwt_malformed, "no exp");
    CHECK_ERROR(parse_token_answer("71,\"a\"\"b.c.d\""), errc::jwt_malformed, "JWT header is not base64url");
}

TEST_CASE("parse_token_answer refuses extra fields and broken quoting")
{
    const std::string jwt = make_jwt(header, claims);
    CHECK_ERROR(parse_token_answer("71," + jwt + ",x"), errc::token_answer_malformed, "more than 2 fields");
    CHECK_ERROR(parse_token_answer("71,\"" + jwt + "\",x"), errc::token_answer_malformed, "more than 2 fields");
    CHECK_ERROR(parse_token_answer("71,\"" + jwt + "\"x"), errc::token_answer_malformed, "follow the quoted");
    CHECK_ERROR(parse_token_answer("71,\"" + jwt), errc::token_answer_malformed, "no closing");
    CHECK_ERROR(parse_token_answer("71,ab\"c"), errc::token_answer_malformed, "unquoted");
}

TEST_CASE("parse_token_answer quotes a long payload shortened in its detail")
{
    const std::string payload = "71," + std::string(20000, 'x') + ",y";
    const auto e = thrown_by([&] { (void)parse_token_answer(payload); });
    REQUIRE(e);
    CHECK(e->code() == errc::token_answer_malformed);
    CHECK(e->detail().size() < 300);
    CHECK(contains(e->detail(), "(20005 bytes)"));
    CHECK(contains(e->what(), "token answer is malformed"));
}

TEST_CASE("smartrest_template gives the first field's number")
{
    CHECK(smartrest_template("71,eyJ") == 71);
    CHECK(smartrest_template("71") == 71);
    CHECK(smartrest_template("71\r\n") == 71);
    CHECK(smartrest_template("999999999,x") == 999999999);
    CHECK_FALSE(smartrest_template(""));
    CHECK_FALSE(smartrest_template(",71"));
    CHECK_FALSE(smartrest_template("abc,1"));
    CHECK_FALSE(smartrest_template("1234567890,x"));
    CHECK(c8y::mtls::token_answer_template == 71);
}

TEST_CASE("a default-constructed token is empty, one read from a JWT is not")
{
    // Asio's co_spawn hands a default T to a completion handler next to an exception.
    CHECK(c8y::mtls::device_token{}.empty());
    CHECK(c8y::mtls::device_token{}.jwt().empty());
    const auto token = c8y::mtls::device_token::from_jwt(make_jwt(header, claims_with("1000", "4600")));
    CHECK_FALSE(token.empty());
}
