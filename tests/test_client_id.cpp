// Tests of the MQTT client id: parsing, the wire form, and the CN rule for device ids.
#include "c8y/mtls/client_id.hpp"

#include <doctest/doctest.h>

#include "support/check_error.hpp"

#include <optional>
#include <ostream> // doctest prints std::error_code through it
#include <string>
#include <string_view>

using c8y::mtls::client_id;
using c8y::mtls::errc;

using c8y::mtls::test::contains;
using c8y::mtls::test::thrown_by;

namespace {

} // namespace

TEST_CASE("client_id::parse reads a bare device id with the platform's default connection type")
{
    const client_id id = client_id::parse("dev-1");
    CHECK(id.connection_type.empty());
    CHECK(id.device_id == "dev-1");
    CHECK(id.default_template.empty());
    CHECK(client_id::platform_default_connection_type == "d");
}

TEST_CASE("client_id::parse reads connectionType:deviceIdentifier")
{
    const client_id id = client_id::parse("d:dev-1");
    CHECK(id.connection_type == "d");
    CHECK(id.device_id == "dev-1");
    CHECK(id.default_template.empty());
}

TEST_CASE("client_id::parse reads all three parts")
{
    const client_id id = client_id::parse("d:dev-1:tpl");
    CHECK(id.connection_type == "d");
    CHECK(id.device_id == "dev-1");
    CHECK(id.default_template == "tpl");
}

TEST_CASE("client_id parse and str round-trip every valid form")
{
    for (const std::string text : {"dev-1", "d:dev-1", "d:dev-1:tpl", "x:Gerät-1:myTemplates", "d:a b"}) {
        CAPTURE(text);
        CHECK(client_id::parse(text).str() == text);
        CHECK(client_id::parse(client_id::parse(text).str()) == client_id::parse(text));
    }
}

TEST_CASE("client_id::parse refuses an empty client id")
{
    CHECK_ERROR(client_id::parse(""), errc::client_id_invalid, "empty");
}

TEST_CASE("client_id::parse refuses more than 3 parts and quotes the input")
{
    CHECK_ERROR(client_id::parse("d:dev:tpl:x"), errc::client_id_invalid, "\"d:dev:tpl:x\"");
    CHECK_ERROR(client_id::parse("a:b:c:d:e"), errc::client_id_invalid, "5 ':'-separated parts");
}

TEST_CASE("client_id::parse refuses an empty device id and quotes the input")
{
    CHECK_ERROR(client_id::parse("d::tpl"), errc::client_id_invalid, "\"d::tpl\"");
    CHECK_ERROR(client_id::parse("d:"), errc::client_id_invalid, "device identifier is empty");
    CHECK_ERROR(client_id::parse(":"), errc::client_id_invalid, "\":\"");
}

TEST_CASE("client_id::parse refuses an empty connection type or default template")
{
    CHECK_ERROR(client_id::parse(":dev-1"), errc::client_id_invalid, "connection type");
    CHECK_ERROR(client_id::parse("d:dev-1:"), errc::client_id_invalid, "default template");
}

TEST_CASE("client_id::parse quotes unprintable input readably")
{
    CHECK_ERROR(client_id::parse(std::string_view("a:b:c:\n\x01", 8)), errc::client_id_invalid,
                "\"a:b:c:\\n\\x01\"");
}

TEST_CASE("client_id::for_device builds the wire form")
{
    CHECK(client_id::for_device("dev-1").str() == "dev-1");
    CHECK(client_id::for_device("dev-1", "d").str() == "d:dev-1");
    CHECK(client_id::for_device("dev-1", "d", "tpl").str() == "d:dev-1:tpl");
}

TEST_CASE("client_id::str writes the default connection type when only a template is given")
{
    const client_id id = client_id::for_device("dev-1", "", "tpl");
    CHECK(id.str() == "d:dev-1:tpl");
    const client_id back = client_id::parse(id.str());
    CHECK(back.device_id == "dev-1");
    CHECK(back.default_template == "tpl");
}

TEST_CASE("client_id::for_device refuses a device id with ':' because no CN may contain it")
{
    CHECK_ERROR(client_id::for_device("dev:1"), errc::client_id_invalid, "contains ':'");
    CHECK_ERROR(client_id::for_device("dev:1"), errc::client_id_invalid, "CN");
    CHECK_ERROR(client_id::for_device("dev:1"), errc::client_id_invalid, "\"dev:1\"");
}

TEST_CASE("client_id::for_device refuses an empty device id")
{
    CHECK_ERROR(client_id::for_device(""), errc::client_id_invalid, "empty");
}

TEST_CASE("client_id::for_device refuses ':' in the connection type or the template")
{
    CHECK_ERROR(client_id::for_device("dev-1", "d:x"), errc::client_id_invalid, "connection type");
    CHECK_ERROR(client_id::for_device("dev-1", "d", "t:x"), errc::client_id_invalid, "default template");
}

TEST_CASE("client_id::str refuses fields that would not read back the same")
{
    const client_id bad{"d", "a:b", ""};
    CHECK_ERROR(bad.str(), errc::client_id_invalid, "contains ':'");
    const client_id empty{"d", "", ""};
    CHECK_ERROR(empty.str(), errc::client_id_invalid, "empty");
}

TEST_CASE("client_id errors carry the category message in what()")
{
    const auto e = thrown_by([] { (void)client_id::parse(""); });
    REQUIRE(e.has_value());
    CHECK(contains(e->what(), "MQTT client id is invalid"));
}
