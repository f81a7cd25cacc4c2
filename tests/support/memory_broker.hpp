// c8y-mtls tests: the broker's side of an in-memory connection, scripted packet by packet, and
// operations started in the background whose outcome a test inspects later.
#pragma once

#include <c8y/mtls.hpp>
#include <c8y/mtls/testing.hpp>

#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace c8y::mtls::test {

/// One connection as the broker sees it: read what the client sent, answer with packets.
class broker_connection {
public:
    explicit broker_connection(testing::memory_socket socket) : socket_(std::move(socket)) {}

    asio::awaitable<mqtt::packet> receive()
    {
        for (;;) {
            if (auto packet = decoder_.next())
                co_return std::move(*packet);
            std::array<char, 4096> buffer;
            const std::size_t n = co_await socket_.read_some(asio::buffer(buffer));
            decoder_.feed(std::string_view(buffer.data(), n));
        }
    }

    /// The next packet, which must be a P.
    template <class P>
    asio::awaitable<P> expect()
    {
        mqtt::packet packet = co_await receive();
        const bool matches = std::holds_alternative<P>(packet);
        REQUIRE_MESSAGE(matches, "expected " << mqtt::packet_name(P::type) << ", got "
                                             << mqtt::packet_name(mqtt::type_of(packet)));
        co_return std::get<P>(std::move(packet));
    }

    asio::awaitable<void> send(const mqtt::packet& packet)
    {
        const std::string bytes = mqtt::encode(packet);
        co_await socket_.write(asio::buffer(bytes));
    }

    /// CONNECT in, CONNACK out.
    asio::awaitable<mqtt::connect> handshake(std::uint8_t return_code = 0, bool session_present = false)
    {
        mqtt::connect hello = co_await expect<mqtt::connect>();
        const mqtt::packet ack = mqtt::connack{session_present, return_code};
        co_await send(ack);
        co_return hello;
    }

    /// Whether the client wrote bytes that were not read yet.
    bool has_input() const noexcept { return socket_.available() > 0 || decoder_.buffered() > 0; }

    void close() noexcept { socket_.close(); }

private:
    testing::memory_socket socket_;
    mqtt::decoder decoder_{1 << 20};
};

/// The outcome of an operation started with start().
template <class T>
struct outcome {
    bool done = false;
    std::optional<T> value;
    std::exception_ptr failure;

    /// The c8y::mtls::error it ended with (REQUIREs that it ended with one).
    error error_code() const
    {
        REQUIRE(done);
        REQUIRE(failure != nullptr);
        try {
            std::rethrow_exception(failure);
        } catch (const error& e) {
            return e;
        } catch (...) {
            FAIL("the operation ended with another exception than c8y::mtls::error");
        }
        throw std::logic_error("unreachable");
    }
    bool succeeded() const { return done && failure == nullptr; }
};

template <class T>
using outcome_ptr = std::shared_ptr<outcome<T>>;

namespace detail {
template <class T>
asio::awaitable<std::monostate> as_monostate(asio::awaitable<T> operation)
{
    co_await std::move(operation);
    co_return std::monostate{};
}
} // namespace detail

/// Starts `operation` in the background; its outcome fills in when it ends.
template <class T>
auto start(const asio::any_io_executor& ex, asio::awaitable<T> operation)
{
    using value_type = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
    auto result = std::make_shared<outcome<value_type>>();
    auto on_end = [result](std::exception_ptr e, auto... value) {
        result->done = true;
        result->failure = e;
        if (!e)
            (result->value.emplace(std::move(value)), ...);
    };
    if constexpr (std::is_void_v<T>)
        asio::co_spawn(ex, detail::as_monostate(std::move(operation)), on_end);
    else
        asio::co_spawn(ex, std::move(operation), on_end);
    return result;
}

} // namespace c8y::mtls::test
