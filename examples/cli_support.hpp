// c8y-mtls examples: what the example CLIs share to read their arguments and report failures.
#pragma once

#include <c8y/mtls/credentials.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace c8y::mtls::examples {

/// A bad command line: the CLI prints `what` (when not empty) and its usage, and exits 2.
struct usage_error {
    std::string what;
};

/// `value` as a whole number in [low, high]; usage_error naming `flag` otherwise.
inline long long to_number(std::string_view flag, const std::string& value, long long low, long long high)
{
    std::size_t used = 0;
    long long n = 0;
    try {
        n = std::stoll(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size() || n < low || n > high)
        throw usage_error{std::string(flag) + " wants a number from " + std::to_string(low) + " to " +
                          std::to_string(high) + ", not '" + value + "'"};
    return n;
}

/// The secret in environment variable `variable` (empty: none). Passwords come from the
/// environment, never from the command line; the copy is wiped when it goes.
inline secret_string secret_from_env(const std::string& variable)
{
    if (variable.empty())
        return {};
    const char* value = std::getenv(variable.c_str());
    if (!value)
        throw usage_error{"environment variable " + variable + " is not set"};
    return secret_string(std::string_view(value));
}

/// The device's identity: the PKCS#12 keystore when one is named, else the PEM chain and key.
inline credentials device_credentials(const std::string& keystore, const std::string& cert, const std::string& key,
                                      std::string_view password)
{
    return keystore.empty() ? credentials::from_pem_files(cert, key, password)
                            : credentials::from_pkcs12_file(keystore, password);
}

/// The completion of a command's coroutine: a failure closes `device` and is printed on one
/// line, "PROGRAM: cause".
template <class Device>
auto close_on_failure(Device& device, std::string_view program)
{
    return [&device, program](std::exception_ptr failure) {
        if (!failure)
            return;
        device.close();
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            std::cerr << program << ": " << e.what() << "\n";
        }
    };
}

} // namespace c8y::mtls::examples
