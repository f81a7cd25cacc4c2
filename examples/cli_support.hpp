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

/// The device's identity, from the flags every CLI with a keystore shares: `--keystore FILE
/// --password-env VAR [--alias NAME] [--key-password-env VAR]` (JKS, PKCS#12 or PEM, told by its
/// content; the entry of the alias or the only one; its key under its own password, or the
/// store's) or `--cert CHAIN.pem --key KEY.pem [--key-password-env VAR]`. The arguments are the
/// flags' values, empty when absent; the passwords come from the variables they name and are
/// wiped when this returns.
inline credentials device_credentials(const std::string& keystore, const std::string& cert, const std::string& key,
                                      const std::string& password_env, const std::string& key_password_env,
                                      const std::string& alias)
{
    const secret_string key_password = secret_from_env(key_password_env);
    if (keystore.empty())
        return credentials::from_pem_files(cert, key, key_password);
    const secret_string store_password = secret_from_env(password_env);
    keystore_options options;
    options.alias = alias;
    if (!key_password_env.empty())
        options.key_password = key_password.view();
    return credentials::from_keystore_file(keystore, store_password, options);
}

/// The flags of a device key kept in a PKCS#11 token (a secure element, a TPM, an HSM), which
/// replace --key: `--pkcs11-module PATH --key-uri URI [--pin-env VAR]`. The URI is RFC 7512's
/// (`pkcs11:token=device;object=device-key`); the module may also come from its module-path.
struct token_key_flags {
    std::string module, uri, pin_env;

    bool given() const noexcept { return !module.empty() || !uri.empty() || !pin_env.empty(); }

    /// Takes `flag` when it is one of these (`value()` reads its value); false for another flag.
    template <class Value>
    bool take(std::string_view flag, Value&& value)
    {
        if (flag == "--pkcs11-module")
            module = value();
        else if (flag == "--key-uri")
            uri = value();
        else if (flag == "--pin-env")
            pin_env = value();
        else
            return false;
        return true;
    }

    /// The usage errors of these flags; `other_key` names another key flag given with them.
    void check(std::string_view other_key) const
    {
        if (!given())
            return;
        if (uri.empty())
            throw usage_error{"--pkcs11-module and --pin-env go with --key-uri"};
        if (!other_key.empty())
            throw usage_error{"--key-uri names the key: give no " + std::string(other_key)};
    }

    /// The credentials of the token's key, with the chain of `chain_file` (empty: the token's
    /// certificates). The PIN is wiped once the client's TLS context is logged in.
    credentials load(const std::string& chain_file) const
    {
        return credentials::from_pkcs11(module, uri, secret_from_env(pin_env), chain_file);
    }
};

/// The truststore a flag such as --cafile names: a PEM file, a directory of PEM files, or a JKS
/// or PKCS#12 truststore (keytool -importcert's) whose store password is in the variable
/// `password_env` names (empty: none given, which `password_flag`, the flag naming it, is
/// suggested for when the file needs one). The password is wiped when this returns.
inline truststore truststore_from(const std::string& path, const std::string& password_env,
                                  std::string_view password_flag)
{
    const secret_string password = secret_from_env(password_env);
    try {
        return truststore::from_path(path, password.view());
    } catch (const error& e) {
        if (e.code() != errc::keystore_password_wrong || !password_env.empty())
            throw;
        throw error(e.code(), e.detail() + " (" + std::string(password_flag) + " names the variable holding it)");
    }
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
