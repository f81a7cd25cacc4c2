// fleet_bench: c8y-mtls under test. N clients on one io_context on the calling thread, each
// with its own credentials (so its own TLS context), all from one truststore value, as a fleet
// simulator holds them.
#include <c8y/mtls.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>

#include "fleet_bench.hpp"

namespace mtls = c8y::mtls;

namespace fleet {
namespace {

constexpr std::chrono::minutes stall_limit{5};

std::string read_text(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw failure(path + ": cannot be read");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct connect_job {
    std::vector<std::unique_ptr<mtls::client>>& clients;
    const mtls::connect_options& options;
    std::size_t started = 0;
    std::size_t connected = 0;
};

// One of `window` connectors sharing a job: each connects one client after the other.
asio::awaitable<void> connector(connect_job& job)
{
    while (job.started < job.clients.size()) {
        mtls::client& next = *job.clients[job.started++];
        co_await next.connect(job.options);
        ++job.connected;
    }
}

} // namespace

std::vector<device> make_devices(const pki& authority, std::size_t count)
{
    namespace fs = std::filesystem;
    const auto key_type = authority.key_type == "rsa2048" ? mtls::provisioning::key_type::rsa2048
                                                           : mtls::provisioning::key_type::ec256;
    try {
        const std::string ca_pem = read_text(authority.ca_cert);
        std::optional<mtls::provisioning::signing_authority> ca;
        std::vector<device> devices;
        for (std::size_t i = 0; i < count; ++i) {
            char name[48];
            std::snprintf(name, sizeof name, "fleet-device-%05zu", i);
            const fs::path dir = fs::path(authority.dir) / authority.key_type / name;
            device d{name, (dir / "chain.pem").string(), (dir / "key.pem").string()};
            if (!fs::exists(d.chain)) {
                if (!ca)
                    ca.emplace(mtls::provisioning::signing_authority{
                        mtls::truststore::from_pem(ca_pem).certificates().front(),
                        mtls::provisioning::private_key::from_pem(read_text(authority.ca_key),
                                                                  authority.ca_password)});
                const auto key = mtls::provisioning::private_key::generate(key_type);
                const auto cert = mtls::provisioning::make_device_certificate(key, {.common_name = name}, *ca);
                fs::create_directories(dir);
                std::ofstream(d.key) << key.to_pem(); // unencrypted: both libraries read it without a password
                const std::string partial = d.chain + ".partial"; // an interrupted run leaves no half chain
                std::ofstream(partial) << mtls::provisioning::certificate_pem(cert) << ca_pem;
                fs::rename(partial, d.chain);
            }
            devices.push_back(std::move(d));
        }
        return devices;
    } catch (const std::exception& e) {
        throw failure(std::string("the devices' certificates cannot be made: ") + e.what());
    }
}

result run_c8y_mtls(const setup& where, const std::vector<device>& devices)
{
    asio::io_context io;
    const mtls::truststore trust = mtls::truststore::from_path(where.cafile);
    mtls::connect_options options;
    options.host = where.host;
    options.port = where.port; // the client id: the certificate's CN
    options.reconnect.enabled = false;

    result r;
    r.before = footprint::now();
    std::vector<std::unique_ptr<mtls::client>> clients;
    clients.reserve(devices.size());
    try {
        for (const device& d : devices)
            clients.push_back(std::make_unique<mtls::client>(io.get_executor(),
                                                             mtls::credentials::from_pem_files(d.chain, d.key), trust));
    } catch (const mtls::error& e) {
        throw failure(std::string("c8y-mtls: cannot build a client: ") + e.what());
    }

    connect_job job{clients, options};
    std::exception_ptr first_failure;
    std::size_t running = std::min(where.window, clients.size());
    for (std::size_t i = 0; i < running; ++i)
        asio::co_spawn(io, connector(job), [&](std::exception_ptr e) {
            if (e && !first_failure)
                first_failure = e;
            if (--running == 0)
                io.stop(); // the clients' readers and keepalives wait for the idle phase
        });
    io.run_for(stall_limit);
    if (first_failure) {
        try {
            std::rethrow_exception(first_failure);
        } catch (const std::exception& e) {
            throw failure("c8y-mtls: connect: " + std::string(e.what()));
        }
    }
    if (job.connected != clients.size())
        throw failure("c8y-mtls: " + std::to_string(job.connected) + " of " + std::to_string(clients.size()) +
                      " connected within 5 minutes");
    r.connected = footprint::now();

    io.restart();
    io.run_for(where.idle);
    for (const auto& c : clients)
        if (c->state() != mtls::connection_state::connected)
            throw failure("c8y-mtls: a client lost its connection while idle");
    r.idle = footprint::now();
    return r;
}

} // namespace fleet
