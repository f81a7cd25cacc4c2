// c8y-mtls: TLS over any Transport: moves a sans-I/O Tls session's ciphertext through it.
#pragma once

#include "c8y/mtls/config.hpp"

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <string_view>

#include "c8y/mtls/detail/async_event.hpp"
#include "c8y/mtls/error.hpp"
#include "c8y/mtls/tls.hpp"
#include "c8y/mtls/transport.hpp"

namespace c8y::mtls::detail {

/// One TLS connection. Reads come from one coroutine at a time; writes from any number, which
/// are serialised here so that records reach the transport whole and in order.
template <Transport T, Tls S>
class tls_stream {
public:
    /// `owner`, when given, keeps `ctx` alive as long as the stream: a client that moves to new
    /// credentials replaces its context while the old connection's coroutines wind down.
    tls_stream(const asio::any_io_executor& ex, typename S::context& ctx, std::shared_ptr<const void> owner = {})
        : transport_(ex), context_owner_(std::move(owner)), context_(ctx), flushed_(ex)
    {
    }

    /// Connects the transport and runs the handshake. Throws c8y::mtls::error.
    asio::awaitable<void> connect(std::string_view host, std::uint16_t port)
    {
        co_await transport_.connect(host, port);
        session_.emplace(context_, host);
        for (;;) {
            const tls_status status = session_->handshake();
            co_await flush();
            if (status == tls_status::done) {
                handshake_done_ = true;
                resize_input(idle_input_size); // what the handshake needed, an idle connection does not
                co_return;
            }
            if (status == tls_status::failed)
                throw session_->failure();
            co_await receive();
        }
    }

    /// Decrypts at least one byte into `out`. Throws c8y::mtls::error (a TLS alert from the
    /// peer, connection_closed, ...).
    asio::awaitable<std::size_t> read_some(std::span<char> out)
    {
        for (;;) {
            std::size_t n = 0;
            const tls_status status = session_->read(out, n);
            if (!session_->pending_output().empty())
                co_await flush(); // TLS 1.3 may answer post-handshake messages
            if (status == tls_status::done)
                co_return n;
            if (status == tls_status::failed)
                throw session_->failure();
            co_await receive();
        }
    }

    /// Encrypts and sends all of `plaintext`; completes once the transport took it.
    asio::awaitable<void> write(std::string_view plaintext)
    {
        if (session_->write(std::span<const char>(plaintext.data(), plaintext.size())) == tls_status::failed)
            throw session_->failure();
        std::optional<error> lost;
        try {
            co_await flush();
        } catch (const error& e) {
            if (e.code() != errc::connection_closed)
                throw;
            lost = e;
        }
        if (lost) {
            if (reading_)
                throw *lost; // the reading coroutine will find the alert, if any
            const std::optional<error> alert = co_await alert_after_reset();
            throw alert ? *alert : *lost;
        }
    }

    /// Sends close_notify, best effort.
    asio::awaitable<void> shutdown()
    {
        session_->close();
        try {
            co_await flush();
        } catch (const error&) {
            // The peer may be gone already; the connection ends either way.
        }
    }

    void close() noexcept { transport_.close(); }

    T& transport() noexcept { return transport_; }
    typename S::session& session() noexcept { return *session_; }
    /// The version and suite negotiated ("TLSv1.3, TLS_AES_128_GCM_SHA256"), for logs.
    std::string negotiated() const
    {
        return std::string(std::as_const(*session_).protocol()) + ", " +
               std::string(std::as_const(*session_).cipher_suite());
    }

private:
    // With TLS 1.3 the client's handshake completes before the server judged the client
    // certificate: a rejection arrives as an alert after it, and the connection is reset under
    // the next write. The alert is still in the receive queue; it names the cause.
    asio::awaitable<std::optional<error>> alert_after_reset()
    {
        try {
            for (;;)
                co_await receive_or_throw();
        } catch (const error&) {
            // End of what the peer sent.
        }
        session_->feed_end();
        std::array<char, 256> scratch;
        std::size_t n = 0;
        std::optional<error> alert;
        if (session_->read(scratch, n) == tls_status::failed &&
            session_->failure().code().category() == tls_alert_category())
            alert = session_->failure();
        co_return alert;
    }

    asio::awaitable<void> receive_or_throw()
    {
        const reading_scope scope(reading_);
        const std::size_t n = co_await transport_.read_some(asio::buffer(input_.get(), input_size_));
        take_input(n);
    }

    asio::awaitable<void> receive()
    {
        std::size_t n = 0;
        try {
            const reading_scope scope(reading_);
            n = co_await transport_.read_some(asio::buffer(input_.get(), input_size_));
        } catch (const error& e) {
            if (e.code() != errc::connection_closed)
                throw;
            session_->feed_end(); // let the session report what the peer said before leaving
            co_return;
        }
        take_input(n);
    }

    // The input buffer is sized to use: a read that fills it doubles it (up to a whole TLS
    // record), so a burst takes few reads; one that fills less than a quarter halves it, and the
    // handshake's size is dropped after it, so that an idle connection, whose read waits with
    // this buffer, holds little.
    void take_input(std::size_t n)
    {
        session_->feed(std::span<const char>(input_.get(), n));
        if (n == input_size_ && input_size_ < max_input_size)
            resize_input(std::min(input_size_ * 2, max_input_size));
        else if (n < input_size_ / 4 && input_size_ > idle_input_size && handshake_done_)
            resize_input(std::max(input_size_ / 2, idle_input_size));
    }

    void resize_input(std::size_t size)
    {
        if (size != input_size_) {
            input_ = std::make_unique_for_overwrite<char[]>(size);
            input_size_ = size;
        }
    }

    asio::awaitable<void> flush()
    {
        while (flushing_)
            co_await flushed_.wait();
        if (session_->pending_output().empty())
            co_return;
        flushing_ = true;
        try {
            while (!session_->pending_output().empty()) {
                const auto pending = session_->pending_output();
                std::string chunk(pending.data(), pending.size());
                session_->consume_output(chunk.size());
                co_await transport_.write(asio::buffer(chunk));
            }
        } catch (...) {
            flushing_ = false;
            flushed_.notify_all();
            throw;
        }
        flushing_ = false;
        flushed_.notify_all();
    }

    T transport_;
    std::shared_ptr<const void> context_owner_;
    typename S::context& context_;
    std::optional<typename S::session> session_;
    static constexpr std::size_t idle_input_size = 1024;    // a PUBLISH or two of telemetry, a PINGRESP
    static constexpr std::size_t handshake_input_size = 4096; // the server's flight in one or two reads
    static constexpr std::size_t max_input_size = 16 * 1024 + 256; // a TLS record with its overhead
    std::unique_ptr<char[]> input_ = std::make_unique_for_overwrite<char[]>(handshake_input_size);
    std::size_t input_size_ = handshake_input_size;
    bool handshake_done_ = false;
    bool flushing_ = false;
    async_event flushed_;
    bool reading_ = false; // a transport read is outstanding: no second one may start

    struct reading_scope {
        explicit reading_scope(bool& flag) : flag_(flag) { flag_ = true; }
        reading_scope(const reading_scope&) = delete;
        reading_scope& operator=(const reading_scope&) = delete;
        ~reading_scope() { flag_ = false; }
        bool& flag_;
    };
};

} // namespace c8y::mtls::detail
