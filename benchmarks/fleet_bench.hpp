// fleet_bench: what the driver (fleet_bench.cpp) and each library's side share. Each library has
// its own translation unit so that their headers never meet.
#pragma once

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace fleet {

using clock = std::chrono::steady_clock;

/// One simulated device: its own key and certificate, in files (libmosquitto reads files).
struct device {
    std::string name;  ///< the certificate's CN, the MQTT client id
    std::string chain; ///< PEM file: the device certificate, then the CA that signed it
    std::string key;   ///< PEM file: the device's private key, PKCS#8, unencrypted
};

/// The broker, what the devices trust, and how many connects may be under way at once.
struct setup {
    std::string host;
    unsigned short port = 0;
    std::string cafile; ///< the CA that signed the broker's certificate
    std::size_t window = 32;
    std::chrono::milliseconds idle{1000}; ///< how long the connected fleet idles before the measurement
};

/// A library's failure: which library, which step, and the library's own words.
struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// What the process uses, at one moment.
struct footprint {
    std::size_t heap = 0; ///< bytes malloc has handed out and not taken back (mallinfo2)
    std::size_t rss = 0;  ///< resident set, bytes
    double cpu_s = 0;     ///< user + system CPU time of the process so far
    clock::time_point at{};

    static footprint now()
    {
        footprint f;
        const struct mallinfo2 m = mallinfo2();
        f.heap = m.uordblks + m.hblkhd;
        long pages = 0, resident = 0;
        if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
            if (std::fscanf(statm, "%ld %ld", &pages, &resident) != 2)
                resident = 0;
            std::fclose(statm);
        }
        f.rss = static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        struct rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        f.cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
        f.at = clock::now();
        return f;
    }
};

/// One run: N sessions made and connected, then idle.
struct result {
    footprint before;    ///< before the first session was made
    footprint connected; ///< the moment the last CONNACK came
    footprint idle;      ///< after idling
};

/// The signing CA's files and what the devices' keys are.
struct pki {
    std::string ca_cert;     ///< PEM: the CA the broker trusts for device certificates
    std::string ca_key;      ///< PEM: its private key, encrypted with `ca_password`
    std::string ca_password;
    std::string key_type = "ec256"; ///< ec256 or rsa2048
    std::string dir;                ///< where the devices' files go; kept ones are used again
};

/// `count` devices named fleet-device-NNNNN, each with its own key and a certificate the CA
/// signed (the SDK's provisioning API). Throws fleet::failure.
std::vector<device> make_devices(const pki& authority, std::size_t count);

/// Makes one session per device on one event loop on the calling thread (at most
/// `where.window` connecting at once), waits until every one is connected (CONNACK 0), lets
/// them idle, measures, and closes them. Throws fleet::failure.
result run_c8y_mtls(const setup& where, const std::vector<device>& devices);
result run_libmosquitto(const setup& where, const std::vector<device>& devices);

} // namespace fleet
