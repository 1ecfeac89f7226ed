#include "server/session.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>

#include "server/command_table.hpp"
#include "server/log.hpp"
#include "server/server.hpp"

namespace backplane {
namespace {

using asio::use_awaitable;
using asio::experimental::as_tuple;

/// Before AUTH a client may not make the server queue more than this (CVE-2025-21605).
constexpr size_t max_unauthenticated_output = 64 * 1024;
/// A normal client that pipelines without reading is paused (not cut) past this much output.
constexpr size_t reader_pause_output = 4 * 1024 * 1024;

}  // namespace

Session::Session(Server& server, Socket socket, std::string peer, std::string local,
                 bool unix_socket)
    : server_(server),
      socket_(std::move(socket)),
      loop_(&server.loop_of(socket_.get_executor())),
      threaded_(server.threaded()),
      peer_(std::move(peer)),
      local_(std::move(local)),
      unix_socket_(unix_socket),
      authenticated_(!server.acl().auth_required()),
      user_(server.acl().default_user()),
      created_(Clock::now()),
      last_interaction_(created_),
      transaction_(server.keyspace()) {
    id_ = server_.add_session(*this);
    fd_ = socket_.native_handle();
    asio::error_code ignored;
    socket_.non_blocking(true, ignored);
}

Session::~Session() = default;

// co_spawn runs the coroutine's first steps inline when already on its loop; spawning from a
// posted handler keeps them out of the caller, which may hold the execution lock.
void Session::start() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        asio::co_spawn(
            self->socket_.get_executor(), [self] { return self->reader(); }, asio::detached);
    });
}

// From another loop (CLIENT KILL, a publisher, the cron) the session leaves the registry and the
// session map now; its own loop closes the socket, since that loop may be using it right now.
void Session::stop() {
    if (stopped_) return;
    // Stopped from another loop (CLIENT KILL, ACL changes), this client may still hold messages
    // queued before the stop, waiting for its own loop's turn. Redis, with one thread, would
    // have written them already: write what the socket takes now, then close.
    if (!discard_output_ && !on_own_loop()) write_from_here();
    stopped_ = true;
    if (flush_scheduled_) server_.cancel_flush(*this);
    server_.registry().remove(*this);
    transaction_.discard();
    server_.remove_session(*this);
    if (on_own_loop()) {
        close_socket();
    } else {
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close_socket(); });
    }
}

void Session::close_socket() {
    output_.clear();
    asio::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
}

bool Session::on_own_loop() const {
    return !server_.threaded() || loop_->io->get_executor().running_in_this_thread();
}

void Session::close_after_reply() { closing_ = true; }

void Session::close_soon() {
    if (closing_ || stopped_) return;
    closing_ = true;
    discard_output_ = true;
    // Another loop may be writing the queued frames right now: that loop drops them instead.
    if (on_own_loop()) output_.clear();
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        auto lock = self->server_.serialize();
        self->stop();
    });
}

bool Session::auth_required() const { return !authenticated_ && server_.acl().auth_required(); }

// The execution lock (a no-op with one loop) is held around everything but the socket calls and
// never across a co_await.
asio::awaitable<void> Session::reader() {
    if (tls_ && !co_await tls_handshake()) {
        auto lock = server_.serialize();
        stop();
        co_return;
    }
    for (;;) {
        {
            auto lock = server_.serialize();
            if (stopped_ || closing_) break;
            input_.release_if_empty();
        }
        // OpenSSL may need to write (a renegotiation or key update) before it can read on.
        const auto readiness = tls_read_wants_write_ ? Socket::wait_write : Socket::wait_read;
        auto [ec] = co_await socket_.async_wait(readiness, as_tuple(use_awaitable));
        if (ec) break;
        // More is waiting after a full read. Like Redis, one read per turn: let the flushes
        // this batch scheduled, and other clients, run before reading on.
        while (read_once() == ReadResult::more)
            co_await asio::post(socket_.get_executor(), use_awaitable);
        // Backpressure for a client that sends requests faster than it reads the replies.
        for (;;) {
            {
                auto lock = server_.serialize();
                if (stopped_ || is_pubsub_client() || output_.bytes() <= reader_pause_output) break;
            }
            auto [wait_ec] =
                co_await socket_.async_wait(Socket::wait_write, as_tuple(use_awaitable));
            if (wait_ec) break;
            flush();
        }
    }
}

Session::ReadResult Session::read_once() {
    std::span<char> space;
    {
        auto lock = server_.serialize();
        if (stopped_ || closing_) return ReadResult::closed;
        space = input_.prepare();
    }
    asio::error_code ec;
    const size_t received = tls_ ? tls_read(space, ec)
                                 : socket_.read_some(asio::buffer(space.data(), space.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return ReadResult::drained;
    ReadResult result;
    {
        auto lock = server_.serialize();
        // Stopped by another loop meanwhile: what arrived is not run.
        if (stopped_ || closing_) return ReadResult::closed;
        if (ec) {
            if (ec != asio::error::eof) {
                log::at(LogLevel::verbose, "Reading from client: {}", ec.message());
            }
            stop();
            return ReadResult::closed;
        }
        input_.commit(received);
        server_.stats().total_net_input_bytes += received;
        last_interaction_ = Clock::now();
        // As in Redis, the limit applies to what has been received, before any of it runs. The
        // request bytes are not quoted in the log: they may hold a password or forged log lines.
        if (input_.size() > static_cast<size_t>(server_.config().client_query_buffer_limit)) {
            log::at(LogLevel::warning,
                    "Closing client that reached max query buffer length: {} (qbuf length: {})",
                    describe(), input_.size());
            stop();
            return ReadResult::closed;
        }
        process_input();
        result = stopped_ || closing_      ? ReadResult::closed
                 : received < space.size() ? ReadResult::drained
                                           : ReadResult::more;
    }
    flush();
    if (result == ReadResult::closed) return result;
    auto lock = server_.serialize();
    if (auth_required() && output_.bytes() > max_unauthenticated_output) {
        log::at(LogLevel::warning, "Client {} closed for overcoming of output buffer limits.",
                describe());
        stop();
        return ReadResult::closed;
    }
    if (tls_ && tls_->failed()) {  // the bytes before a TLS close ran
        stop();
        return ReadResult::closed;
    }
    return result;
}

void Session::process_input() {
    while (!closing_ && !stopped_ && input_.size() > 0) {
        const protocol::ParserLimits limits{server_.config().proto_max_bulk_len, auth_required()};
        const auto status = parser_.parse(input_.pending(), limits);
        if (status == protocol::ParseStatus::incomplete) return;
        if (status == protocol::ParseStatus::error) {
            protocol::ReplyWriter(replies_, resp_).error("ERR " + parser_.error());
            log::at(LogLevel::verbose, "Protocol error ({}) from client: {}", parser_.error(),
                    describe());
            closing_ = true;
            return;
        }
        // The views in args() point into the read buffer: run before consuming.
        if (!parser_.args().empty()) execute(parser_.args());
        input_.consume(parser_.consumed());
    }
}

void Session::execute(std::span<const std::string_view> args) {
    protocol::ReplyWriter reply(replies_, resp_);
    CommandContext context{server_, *this, args, reply};
    executing_ = true;
    dispatch(context);
    executing_ = false;
    ++server_.stats().total_commands_processed;
    if (!own_messages_.empty()) {
        move_replies_to_queue();
        for (const auto& frame : own_messages_) queue_message(frame);
        own_messages_.clear();
    }
}

void Session::deliver(MessageFrames& message) {
    if (closing_ || stopped_) return;
    if (executing_) {
        own_messages_.push_back(message.frame(resp_));
        return;
    }
    if (!replies_.empty()) move_replies_to_queue();
    queue_message(message.frame(resp_));
}

// By reference: the one reference a delivery needs is taken by the queue itself.
void Session::queue_message(const protocol::FrameRef& frame) {
    if (closing_ || stopped_) return;
    output_.push(frame);
    // A client receiving messages is subscribed (and authenticated): only the pubsub class
    // applies. Below both limits, which is nearly always, this is two comparisons.
    const BufferLimit& limit = server_.config().pubsub_limit;
    const auto fits = [&limit](size_t used) {
        return (!limit.soft_bytes || used < limit.soft_bytes) &&
               (!limit.hard_bytes || used < limit.hard_bytes);
    };
    // With several loops, this client's own loop may not have had a turn to write lately: the
    // limits are judged on what the socket does not take now, as with one loop.
    const bool below_limits =
        fits(output_.bytes()) || (threaded_ && write_from_here() && fits(output_.bytes()));
    if (below_limits) {
        soft_limit_since_ = {};
    } else if (over_output_limit(std::nullopt)) {
        ++server_.stats().output_buffer_limit_disconnections;
        log::at(LogLevel::warning,
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                describe());
        close_soon();
        return;
    }
    if (!flush_scheduled_ && !write_blocked_) {
        flush_scheduled_ = true;
        server_.schedule_flush(*this);
    }
}

// Runs on any loop's thread, under the execution lock: the socket stays open while the session
// is not stopped, and the owning loop is not writing (it writes without the lock only frames it
// gathered with writing_ set).
bool Session::write_from_here() {
    // One OpenSSL object must not be used from two threads: a TLS session is written by its
    // own loop only.
    if (tls_ || writing_ || write_blocked_ || stopped_) return false;
    bool wrote = false;
    while (!output_.empty()) {
        const ssize_t written = QueuedWrite(output_).send(fd_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (written <= 0) break;  // full, or an error its own loop will meet
        server_.stats().total_net_output_bytes += static_cast<size_t>(written);
        output_.consume(static_cast<size_t>(written));
        wrote = true;
    }
    return wrote;
}

void Session::move_replies_to_queue() {
    if (replies_.empty()) return;
    output_.push(protocol::Frame::copy_of(replies_));
    replies_.clear();
    if (replies_.capacity() > 64 * 1024) replies_.shrink_to_fit();
}

void Session::flush() {
    if (tls_) {
        // OpenSSL's state is this loop's alone; the queue it drains is shared, hence the lock.
        auto lock = server_.serialize();
        if (!stopped_) flush_tls();
        return;
    }
    if (threaded_) {
        flush_threaded();
        return;
    }
    if (stopped_) return;
    if (!replies_.empty() && output_.empty() && !write_blocked_) {
        // The common request/reply case: send the batch's replies straight from their buffer,
        // queueing only what the socket does not take.
        const ssize_t written = ::send(fd_, replies_.data(), replies_.size(), MSG_NOSIGNAL);
        if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            stop();
            return;
        }
        const size_t sent = written > 0 ? static_cast<size_t>(written) : 0;
        server_.stats().total_net_output_bytes += sent;
        replies_.erase(0, sent);
    }
    if (!replies_.empty()) move_replies_to_queue();
    while (!output_.empty() && !write_blocked_) {
        const ssize_t written = QueuedWrite(output_).send(fd_, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                write_blocked_ = true;
                start_writer();
                return;
            }
            if (errno == EINTR) continue;
            stop();
            return;
        }
        server_.stats().total_net_output_bytes += static_cast<size_t>(written);
        output_.consume(static_cast<size_t>(written));
    }
    if (closing_ && output_.empty()) {
        asio::error_code ignored;
        socket_.shutdown(Socket::shutdown_send, ignored);
        stop();
    }
}

// The handshake counts as reading: it only advances when the client sends, and the idle
// timeout, which starts at connect time, closes a client that never finishes it.
asio::awaitable<bool> Session::tls_handshake() {
    for (;;) {
        const TlsWait wait = tls_->handshake();
        if (wait == TlsWait::none) {
            auto lock = server_.serialize();
            last_interaction_ = Clock::now();
            co_return true;
        }
        if (wait == TlsWait::failed) {
            log::at(LogLevel::verbose, "Error accepting a client connection: {} (addr={} laddr={})",
                    tls_->error(), peer_, local_);
            co_return false;
        }
        const auto readiness = wait == TlsWait::readable ? Socket::wait_read : Socket::wait_write;
        auto [ec] = co_await socket_.async_wait(readiness, as_tuple(use_awaitable));
        auto lock = server_.serialize();
        if (ec || stopped_) co_return false;
    }
}

size_t Session::tls_read(std::span<char> space, asio::error_code& ec) {
    const TlsStream::ReadResult result = tls_->read(space.data(), space.size());
    tls_read_wants_write_ = result.wait == TlsWait::writable;
    if (result.bytes > 0) return result.bytes;
    if (!result.closed) {
        ec = asio::error::would_block;
        return 0;
    }
    log::at(LogLevel::verbose, "Reading from client: {}", tls_->error());
    ec = asio::error::eof;
    return 0;
}

// Frames are copied into one staging buffer of up to a TLS record, so a flush of many small
// messages costs one SSL_write and one record; a batch's replies are staged without a copy.
void Session::flush_tls() {
    if (discard_output_) output_.clear();
    std::string& staged = tls_->staged();
    if (staged.empty() && output_.empty()) staged.swap(replies_);
    move_replies_to_queue();
    while (!write_blocked_ && (!staged.empty() || !output_.empty())) {
        while (staged.size() < tls_record_size && !output_.empty()) {
            const std::string_view front = output_.front();
            const size_t take = std::min(front.size(), tls_record_size - staged.size());
            staged.append(front.data(), take);
            output_.consume(take);
        }
        size_t written = 0;
        const TlsWait wait = tls_->write_staged(written);
        server_.stats().total_net_output_bytes += written;
        if (wait == TlsWait::writable) {
            write_blocked_ = true;
            start_writer();
            return;
        }
        if (wait == TlsWait::failed) {
            log::at(LogLevel::verbose, "Error writing to client: {}", tls_->error());
            stop();
            return;
        }
    }
    if (closing_ && !write_blocked_) {
        tls_->shutdown();
        asio::error_code ignored;
        socket_.shutdown(Socket::shutdown_send, ignored);
        stop();
    }
}

void Session::flush_threaded() {
    for (;;) {
        std::optional<QueuedWrite> write;
        {
            auto lock = server_.serialize();
            if (stopped_) return;
            if (discard_output_) output_.clear();
            move_replies_to_queue();
            if (output_.empty()) {
                if (closing_) {
                    asio::error_code ignored;
                    socket_.shutdown(Socket::shutdown_send, ignored);
                    stop();
                }
                return;
            }
            if (write_blocked_) return;
            // The frames stay in the queue, so these bytes stay valid: only this loop
            // removes frames, and a stop from another loop leaves the queue to this one.
            write.emplace(output_);
            writing_ = true;
        }
        const ssize_t written = write->send(fd_, MSG_NOSIGNAL);
        const int error = errno;
        auto lock = server_.serialize();
        writing_ = false;
        if (written < 0) {
            if (error == EINTR) continue;
            if (error == EAGAIN || error == EWOULDBLOCK) {
                write_blocked_ = true;
                start_writer();
            } else {
                stop();
            }
            return;
        }
        server_.stats().total_net_output_bytes += static_cast<size_t>(written);
        output_.consume(static_cast<size_t>(written));
    }
}

void Session::start_writer() {
    if (writer_running_) return;
    writer_running_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        asio::co_spawn(
            self->socket_.get_executor(), [self] { return self->writer(); }, asio::detached);
    });
}

// Runs only while the socket is full: waits until it can take more, writes, and ends once the
// queue is drained, so an idle connection carries no writer at all.
asio::awaitable<void> Session::writer() {
    for (;;) {
        {
            auto lock = server_.serialize();
            if (!write_blocked_ || stopped_) break;
        }
        auto [ec] = co_await socket_.async_wait(Socket::wait_write, as_tuple(use_awaitable));
        if (ec) break;
        {
            auto lock = server_.serialize();
            if (stopped_) break;
            write_blocked_ = false;
        }
        flush();
    }
    auto lock = server_.serialize();
    writer_running_ = false;
}

bool Session::over_output_limit(std::optional<Clock::time_point> now) {
    const Config& config = server_.config();
    const size_t used = output_.bytes();
    if (auth_required()) return used > max_unauthenticated_output;
    const BufferLimit& limit = is_pubsub_client() ? config.pubsub_limit : config.normal_limit;
    if (limit.hard_bytes && used >= limit.hard_bytes) return true;
    if (!limit.soft_bytes || used < limit.soft_bytes) {
        soft_limit_since_ = {};
        return false;
    }
    // Only a client above its soft limit pays for reading the clock.
    const Clock::time_point time = now ? *now : Clock::now();
    if (soft_limit_since_ == Clock::time_point{}) {
        soft_limit_since_ = time;
        return false;
    }
    return time - soft_limit_since_ > std::chrono::seconds(limit.soft_seconds);
}

void Session::check_timers(Clock::time_point now) {
    if (stopped_ || closing_) return;
    if (over_output_limit(now)) {
        ++server_.stats().output_buffer_limit_disconnections;
        log::at(LogLevel::warning, "Client {} closed for overcoming of output buffer limits.",
                describe());
        stop();
        return;
    }
    const int64_t timeout = server_.config().timeout;
    if (timeout > 0 && !is_pubsub_client() &&
        now - last_interaction_ > std::chrono::seconds(timeout)) {
        log::at(LogLevel::verbose, "Closing idle client");
        stop();
    }
}

std::string Session::describe() const {
    using std::chrono::duration_cast;
    using std::chrono::seconds;
    const auto now = Clock::now();
    std::string flags = is_pubsub_client() ? "P" : "";
    if (transaction_.in_multi()) flags += 'x';
    if (transaction_.dirty()) flags += 'd';
    if (unix_socket_) flags += 'U';
    if (flags.empty()) flags = "N";
    return fmt::format(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} "
        "ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll={} "
        "omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
        id_, peer_, local_, stopped_ ? -1 : fd_, name_,
        duration_cast<seconds>(now - created_).count(),
        duration_cast<seconds>(now - last_interaction_).count(), flags, db_, channel_count(),
        pattern_count(), shard_channel_count(),
        transaction_.in_multi() ? static_cast<int64_t>(transaction_.queued_count()) : -1,
        input_.size(), input_.capacity() - input_.size(), input_.capacity(), output_.frames(),
        output_.bytes(),
        sizeof(Session) + input_.capacity() + output_.bytes() + replies_.capacity(),
        last_command_ ? last_command_->full_name : "NULL", user_->name, static_cast<int>(resp_),
        lib_name_, lib_version_);
}

}  // namespace backplane
