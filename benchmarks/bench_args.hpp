// The benchmarks' command lines: what mqtt_bench and store_bench read alike (numbers, the device
// identity's files, the key's password), and the median they report.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

/// A bad command line: the program prints `what` and its usage, and exits 2.
struct usage_error {
    std::string what;
};

/// `value` as a whole number in [low, high]; usage_error naming `flag` otherwise.
inline std::size_t to_count(std::string_view flag, const std::string& value, std::size_t low, std::size_t high)
{
    std::size_t used = 0;
    unsigned long long n = 0;
    try {
        n = std::stoull(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size() || value[0] == '-' || n < low || n > high)
        throw usage_error{std::string(flag) + " wants a number from " + std::to_string(low) + " to " +
                          std::to_string(high) + ", not '" + value + "'"};
    return static_cast<std::size_t>(n);
}

/// --port, --cafile, --cert and --key given, their files there; the key's password read from
/// $`password_env`. usage_error naming what is missing otherwise.
inline std::string check_identity(unsigned short port, const std::string& cafile, const std::string& chain,
                                  const std::string& key, const std::string& password_env)
{
    if (port == 0 || cafile.empty() || chain.empty() || key.empty())
        throw usage_error{"--port, --cafile, --cert and --key are required"};
    for (const auto& [flag, path] : {std::pair{"--cafile", cafile}, {"--cert", chain}, {"--key", key}})
        if (!std::filesystem::is_regular_file(path))
            throw usage_error{std::string(flag) + " " + path + ": no such file"};
    const char* password = std::getenv(password_env.c_str());
    if (password == nullptr)
        throw usage_error{"the key's password is not in $" + password_env + " (--key-password-env)"};
    return password;
}

inline double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

} // namespace bench
