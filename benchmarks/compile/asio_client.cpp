// The compile-time benchmark's yardstick (compile_bench.py): the shape of c8y_client.cpp on Asio
// alone, coroutines over TCP (Asio 1.22 has no TLS without OpenSSL): connect, write a message,
// write a request and await its answer within a deadline, close. Compiled, never run.
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

using namespace asio::experimental::awaitable_operators;

asio::awaitable<void> run(std::string host, std::string port)
{
    const auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(executor);
    asio::ip::tcp::socket socket(executor);
    co_await asio::async_connect(socket, co_await resolver.async_resolve(host, port, asio::use_awaitable),
                                 asio::use_awaitable);
    const std::string message = "200,c8y_Temperature,T,21.5\n";
    co_await asio::async_write(socket, asio::buffer(message), asio::use_awaitable);
    co_await asio::async_write(socket, asio::buffer(std::string_view("token?\n")), asio::use_awaitable);
    std::array<char, 4096> answer;
    asio::steady_timer deadline(executor, std::chrono::seconds(30));
    const auto first = co_await (socket.async_read_some(asio::buffer(answer), asio::use_awaitable) ||
                                 deadline.async_wait(asio::use_awaitable));
    if (first.index() == 0)
        std::cout << "answer: " << std::string(answer.data(), std::get<0>(first)) << "\n";
    socket.shutdown(asio::ip::tcp::socket::shutdown_both);
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::cerr << "usage: asio-client HOST PORT\n";
        return 2;
    }
    asio::io_context io;
    asio::co_spawn(io, run(argv[1], argv[2]), [](std::exception_ptr failure) {
        if (failure)
            std::rethrow_exception(failure);
    });
    try {
        io.run();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "asio-client: " << e.what() << "\n";
        return 1;
    }
}
