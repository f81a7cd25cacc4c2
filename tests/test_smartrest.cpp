// Tests of SmartREST 2.0: the static template builders with the platform's CSV quoting, and the
// reader of what arrives on s/ds (operations) and s/e (errors).
#include "c8y/mtls/smartrest.hpp"

#include <doctest/doctest.h>

#include "support/check_error.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace smartrest = c8y::mtls::smartrest;
using c8y::mtls::errc;
using smartrest::record;
using namespace std::chrono_literals;

namespace {

smartrest::timestamp at(std::int64_t milliseconds)
{
    return smartrest::timestamp{std::chrono::milliseconds{milliseconds}};
}

} // namespace

TEST_CASE("fields are quoted exactly when the platform's rules ask for it")
{
    CHECK(smartrest::field("plain value, not") == "\"plain value, not\"");
    CHECK(smartrest::field("Hello world!") == "Hello world!");
    CHECK(smartrest::field("I also have 'quotes'!") == "I also have 'quotes'!");
    CHECK(smartrest::field("I have \"quotes\"!") == "\"I have \"\"quotes\"\"!\"");
    CHECK(smartrest::field(" leading") == "\" leading\"");
    CHECK(smartrest::field("trailing\t") == "\"trailing\t\"");
    CHECK(smartrest::field("a line\nbreak") == "\"a line\nbreak\"");
    CHECK(smartrest::field("carriage\rreturn") == "\"carriage\rreturn\"");
    CHECK(smartrest::field("tab\tinside") == "\"tab\tinside\"");
    CHECK(smartrest::field("") == "");
    CHECK(smartrest::field("literal \\n stays") == "literal \\n stays");
}

TEST_CASE("inventory templates 100, 110, 114, 117")
{
    CHECK(smartrest::create_device("myDevice", "myType") == "100,myDevice,myType");
    CHECK(smartrest::create_device() == "100");
    CHECK(smartrest::create_device("", "myType") == "100,,myType");
    CHECK(smartrest::create_device("This value, needs escaping") == "100,\"This value, needs escaping\"");
    CHECK(smartrest::hardware("1234567890", "myModel", "1.2.3") == "110,1234567890,myModel,1.2.3");
    CHECK(smartrest::hardware("", "", "1.2.3") == "110,,,1.2.3");
    CHECK(smartrest::supported_operations({"c8y_Restart", "c8y_Configuration", "c8y_SoftwareList"}) ==
          "114,c8y_Restart,c8y_Configuration,c8y_SoftwareList");
    CHECK(smartrest::supported_operations(std::vector<std::string>{}) == "114");
    CHECK_ERROR(smartrest::supported_operations({"c8y_Restart", ""}), errc::invalid_argument,
                "template 114: the operation name is mandatory");
    CHECK(smartrest::required_interval(60min) == "117,60");
    CHECK(smartrest::required_interval(std::chrono::hours(2)) == "117,120");
}

TEST_CASE("measurement template 200: shortest exact numbers, optional unit and time")
{
    CHECK(smartrest::measurement("c8y_Temperature", "T", 25) == "200,c8y_Temperature,T,25");
    CHECK(smartrest::measurement("c8y_Temperature", "T", 21.5, "C") == "200,c8y_Temperature,T,21.5,C");
    CHECK(smartrest::measurement("c8y_Voltage", "V", 0.1, "V") == "200,c8y_Voltage,V,0.1,V");
    CHECK(smartrest::measurement("c8y_T", "T", -3.25, "", at(1767225600250)) ==
          "200,c8y_T,T,-3.25,,2026-01-01T00:00:00.250Z");
    CHECK(smartrest::measurement("c8y_T", "T", 1, "degrees, Celsius") == "200,c8y_T,T,1,\"degrees, Celsius\"");
    CHECK_ERROR(smartrest::measurement("", "T", 1), errc::invalid_argument, "template 200: the fragment is mandatory");
    CHECK_ERROR(smartrest::measurement("c8y_T", "", 1), errc::invalid_argument, "the series is mandatory");
    CHECK_ERROR(smartrest::measurement("c8y_T", "T", std::numeric_limits<double>::quiet_NaN()),
                errc::invalid_argument, "the value is not a finite number");
    CHECK_ERROR(smartrest::measurement("c8y_T", "T", std::numeric_limits<double>::infinity()),
                errc::invalid_argument, "not a finite number");
    CHECK_ERROR(smartrest::measurement("c8y_\xFF", "T", 1), errc::invalid_argument, "not valid UTF-8 at byte 4");
}

TEST_CASE("event template 400 and alarm templates 301 to 306")
{
    CHECK(smartrest::event("c8y_MyEvent", "Something was triggered") == "400,c8y_MyEvent,Something was triggered");
    CHECK(smartrest::event("c8y_ConnectionEvent", "Device connection was lost.", at(0)) ==
          "400,c8y_ConnectionEvent,Device connection was lost.,1970-01-01T00:00:00.000Z");
    CHECK_ERROR(smartrest::event("c8y_MyEvent", ""), errc::invalid_argument, "template 400: the event text is mandatory");

    CHECK(smartrest::alarm(smartrest::severity::critical, "c8y_TemperatureAlarm") == "301,c8y_TemperatureAlarm");
    CHECK(smartrest::alarm(smartrest::severity::major, "c8y_TemperatureAlarm", "This is an alarm") ==
          "302,c8y_TemperatureAlarm,This is an alarm");
    CHECK(smartrest::alarm(smartrest::severity::minor, "c8y_A", "x") == "303,c8y_A,x");
    CHECK(smartrest::alarm(smartrest::severity::warning, "c8y_TemperatureAlarm", "", at(1371920594000)) ==
          "304,c8y_TemperatureAlarm,,2013-06-22T17:03:14.000Z");
    CHECK_ERROR(smartrest::alarm(smartrest::severity::major, ""), errc::invalid_argument,
                "template 302: the alarm type is mandatory");
    CHECK_ERROR(smartrest::alarm(static_cast<smartrest::severity>(300), "c8y_A"), errc::invalid_argument,
                "not 301 to 304");

    CHECK(smartrest::alarm_severity("c8y_TemperatureAlarm", smartrest::severity::critical) ==
          "305,c8y_TemperatureAlarm,CRITICAL");
    CHECK(smartrest::clear_alarm("c8y_TemperatureAlarm") == "306,c8y_TemperatureAlarm");
    CHECK_ERROR(smartrest::clear_alarm(""), errc::invalid_argument, "template 306");
}

TEST_CASE("operation templates 500 to 507")
{
    CHECK(smartrest::pending_operations() == "500");
    CHECK(smartrest::operation_executing("c8y_Restart") == "501,c8y_Restart");
    CHECK(smartrest::operation_failed("c8y_Restart", "Could not restart") == "502,c8y_Restart,Could not restart");
    CHECK(smartrest::operation_failed("c8y_Restart") == "502,c8y_Restart");
    CHECK(smartrest::operation_successful("c8y_Restart") == "503,c8y_Restart");
    const std::vector<std::string> result{"line one\nline \"two\""};
    CHECK(smartrest::operation_successful("c8y_Command", result) ==
          "503,c8y_Command,\"line one\nline \"\"two\"\"\"");
    CHECK(smartrest::operation_executing_by_id("123") == "504,123");
    CHECK(smartrest::operation_failed_by_id("123", "Could not restart") == "505,123,Could not restart");
    const std::vector<std::string> none;
    CHECK(smartrest::operation_successful_by_id("123", none) == "506,123");
    CHECK(smartrest::executing_operations_failed("c8y_Restart", "Unexpected device restart") ==
          "507,c8y_Restart,Unexpected device restart");
    CHECK(smartrest::executing_operations_failed() == "507");
    CHECK(smartrest::executing_operations_failed("", "rebooted") == "507,,rebooted");
    CHECK_ERROR(smartrest::operation_executing(""), errc::invalid_argument, "template 501: the operation fragment");
    CHECK_ERROR(smartrest::operation_executing_by_id(""), errc::invalid_argument, "template 504: the operation id");
}

TEST_CASE("what the builders write, the reader reads back")
{
    const std::string text = "a \"quoted\", multi-line\nvalue ";
    const std::string sent = smartrest::event("c8y_Weird", text);
    const std::vector<record> back = smartrest::parse(sent);
    REQUIRE(back.size() == 1);
    CHECK(back[0] == record{400, {"c8y_Weird", text}});
}

TEST_CASE("operations on s/ds: one or more lines, quoted fields unquoted")
{
    CHECK(smartrest::parse("510,DeviceSerial") == std::vector<record>{{510, {"DeviceSerial"}}});
    CHECK(smartrest::parse("511,myDeviceSerial,\"execute this\\nand this\\nand \"\"this\"\"\"") ==
          std::vector<record>{{511, {"myDeviceSerial", "execute this\\nand this\\nand \"this\""}}});
    CHECK(smartrest::parse("513,DeviceSerial,\"val1=1\nval2=2\"\r\n520,DeviceSerial\n\n") ==
          std::vector<record>{{513, {"DeviceSerial", "val1=1\nval2=2"}}, {520, {"DeviceSerial"}}});
    CHECK(smartrest::parse("522,s,logfileA,,,ERROR,1000,") ==
          std::vector<record>{{522, {"s", "logfileA", "", "", "ERROR", "1000", ""}}});
    CHECK(smartrest::parse("500") == std::vector<record>{{500, {}}});
    CHECK(smartrest::parse("").empty());
    CHECK(smartrest::parse("\r\n\n").empty());
}

TEST_CASE("malformed lines are refused, naming the line and the byte")
{
    CHECK_ERROR(smartrest::parse("511,s,\"unterminated"), errc::smartrest_malformed,
                "line 1, byte 6: the quoted field has no closing '\"'");
    CHECK_ERROR(smartrest::parse("510,s\n511,s,\"a\"b"), errc::smartrest_malformed,
                "line 2, byte 15: text after the closing '\"'");
    CHECK_ERROR(smartrest::parse("511,s,a\"b"), errc::smartrest_malformed, "byte 7: a '\"' inside an unquoted field");
    CHECK_ERROR(smartrest::parse("511,s,a\rb"), errc::smartrest_malformed, "a carriage return inside an unquoted field");
    CHECK_ERROR(smartrest::parse("510,s\nabc,s"), errc::smartrest_malformed,
                "line 2, byte 6: the template id \"abc\" is not a number");
    CHECK_ERROR(smartrest::parse("1234567890,s"), errc::smartrest_malformed, "is not a number");
    CHECK_ERROR(smartrest::parse(",s"), errc::smartrest_malformed, "the template id \"\" is not a number");
}

TEST_CASE("s/e errors surface as c8y::mtls::error with the platform's text")
{
    c8y::mtls::mqtt::publish on_e{"s/e", "41,100,Device already existing"};
    const auto e = c8y::mtls::test::thrown_by([&] { (void)smartrest::read(on_e); });
    REQUIRE(e.has_value());
    CHECK(e->code() == errc::smartrest_platform_error);
    CHECK(e->detail() == "Device already existing (s/e 41,100)");
    CHECK(std::string(e->what()) ==
          "the platform reported a SmartREST error: Device already existing (s/e 41,100)");

    CHECK(smartrest::platform_error(record{45, {"Wrong number of arguments"}}).detail() ==
          "Wrong number of arguments (s/e 45)");
    CHECK(smartrest::platform_error(record{40, {}}).detail() == "(no text) (s/e 40)");
    CHECK(smartrest::platform_error(record{50, {"a, b", "Server error"}}).detail() ==
          "Server error (s/e 50,\"a, b\")");

    c8y::mtls::mqtt::publish empty{"s/e", ""};
    CHECK_ERROR(smartrest::read(empty), errc::smartrest_malformed, "empty message on s/e");

    c8y::mtls::mqtt::publish operation{"s/ds", "510,device-0001"};
    CHECK(smartrest::read(operation) == std::vector<record>{{510, {"device-0001"}}});
    c8y::mtls::mqtt::publish other{"s/dat", "71,x"};
    CHECK_ERROR(smartrest::read(other), errc::invalid_argument, "\"s/dat\" carries no static template messages");
}
