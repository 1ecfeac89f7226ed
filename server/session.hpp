#pragma once
// One client connection. Its reader coroutine parses requests in place in the read buffer and
// runs them; replies and pushed messages go to an output queue that is written with one
// gathered write per flush. Flushes happen right after a batch of requests and, for messages
// published by others, once per event-loop turn (Server::schedule_flush), so many messages
// share one syscall. When the socket is full a writer coroutine waits for it to drain; it
// exists only then, so an idle connection costs one suspended reader and nothing else.
//
// With io-threads > 1 (see server/server.hpp) the session lives on one event loop, which alone
// reads, writes and closes its socket. Everything else about it, including its output queue,
// is guarded by the server's execution lock, because other loops publish to it, list it and
// kill it; socket reads and writes happen with the lock released.

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply_writer.hpp"
#include "protocol/request_parser.hpp"
#include "server/channel_registry.hpp"
#include "server/output_queue.hpp"
#include "server/read_buffer.hpp"
#include "server/transaction.hpp"
#include "server/tls.hpp"

namespace backplane {

class Server;
struct CommandSpec;
struct AclUser;
struct EventLoop;

using Socket = asio::generic::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

class Session final : public Subscriber, public std::enable_shared_from_this<Session> {
  public:
    Session(Server& server, Socket socket, std::string peer, std::string local, bool unix_socket);
    ~Session();

    /// Makes this a TLS connection (before start()): it handshakes first, then every read and
    /// flush goes through `tls`.
    void use_tls(std::unique_ptr<TlsStream> tls) { tls_ = std::move(tls); }
    /// Starts the reader coroutine.
    void start();
    /// Closes the connection now and drops its subscriptions. Safe to call more than once.
    void stop();
    /// Closes the connection once the queued output has been written (QUIT, protocol errors).
    void close_after_reply();
    /// Closes the connection from the next event-loop turn; used where the registry is being
    /// iterated (a subscriber over its output limit).
    void close_soon();

    void deliver(MessageFrames& message) override;
    /// Writes as much queued output as the socket takes now (on the session's own loop, without
    /// the execution lock held).
    void flush();
    /// Server::schedule_flush took the session off its loop's pending list (under the lock). The
    /// flag stays set while the session is on the list, even across a direct flush, so that
    /// stop() always takes it off.
    void flush_unscheduled() { flush_scheduled_ = false; }
    /// Checks the soft output-buffer limit and the idle timeout (from the server's timer).
    void check_timers(Clock::time_point now);

    // State read and changed by commands.
    uint64_t id() const { return id_; }
    Server& server() { return server_; }
    /// The event loop that owns this client's socket.
    EventLoop& loop() { return *loop_; }
    bool authenticated() const { return authenticated_; }
    void set_authenticated(bool value) { authenticated_ = value; }
    /// True while the default user needs a password and this client has not logged in.
    bool auth_required() const;
    /// The ACL user this client runs commands as (`default` until AUTH names another).
    const AclUser& user() const { return *user_; }
    const std::shared_ptr<AclUser>& user_handle() const { return user_; }
    void set_user(std::shared_ptr<AclUser> user) { user_ = std::move(user); }
    protocol::RespVersion resp() const { return resp_; }
    void set_resp(protocol::RespVersion version) { resp_ = version; }
    /// RESP2 clients with subscriptions may only run (un)subscribe commands, PING, QUIT, RESET.
    bool in_subscribed_mode() const {
        return resp_ == protocol::RespVersion::resp2 && has_subscriptions();
    }
    int64_t db() const { return db_; }
    void set_db(int64_t db) { db_ = db; }
    const std::string& name() const { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }
    const std::string& lib_name() const { return lib_name_; }
    const std::string& lib_version() const { return lib_version_; }
    void set_lib_name(std::string value) { lib_name_ = std::move(value); }
    void set_lib_version(std::string value) { lib_version_ = std::move(value); }
    const std::string& peer_address() const { return peer_; }
    const std::string& local_address() const { return local_; }
    bool is_pubsub_client() const { return has_subscriptions(); }
    /// The command being run, or null for an unknown one (CLIENT LIST's cmd=).
    void set_last_command(const CommandSpec* spec) { last_command_ = spec; }
    const CommandSpec* last_command() const { return last_command_; }
    bool is_closing() const { return closing_ || stopped_; }
    /// MULTI/EXEC and WATCH state.
    Transaction& transaction() { return transaction_; }

    /// The `id=... addr=...` line of CLIENT LIST and CLIENT INFO, without the newline.
    std::string describe() const;

  private:
    asio::awaitable<void> reader();
    asio::awaitable<void> writer();
    /// Runs the TLS handshake on the readiness waits; false when it failed or the client left.
    asio::awaitable<bool> tls_handshake();
    /// read_once()'s TLS read: the bytes decrypted into `space`; with none, `ec` is
    /// would_block (nothing yet) or eof (closed or failed, logged).
    size_t tls_read(std::span<char> space, asio::error_code& ec);
    /// flush()'s TLS path: stages queued output in record-sized pieces and writes them.
    void flush_tls();
    enum class ReadResult { drained, more, closed };
    /// Reads once and runs the complete requests: `more` when the read filled the buffer (more
    /// is likely waiting), `closed` when reading is over (end of stream, an error, a limit, or
    /// the session is closing or stopped; it has then been stopped where that is due).
    ReadResult read_once();
    /// Parses and runs every complete request in the read buffer.
    void process_input();
    void execute(std::span<const std::string_view> args);
    void move_replies_to_queue();
    /// Queues a pushed message, enforcing the output-buffer limits, and schedules a flush.
    void queue_message(const protocol::FrameRef& frame);
    /// Applies client-output-buffer-limit (or the pre-AUTH cap) to the queued bytes; `now` is
    /// read from the clock when not given and needed.
    bool over_output_limit(std::optional<Clock::time_point> now);
    void start_writer();
    /// flush() with io-threads > 1: gathers the queue under the lock, writes without it.
    void flush_threaded();
    /// With io-threads > 1, from whichever loop holds the execution lock: writes what the socket
    /// takes now unless the owning loop is writing. True when something was written.
    bool write_from_here();
    /// True on the thread of the loop that owns the socket.
    bool on_own_loop() const;
    /// Drops the queued output and closes the socket (on the session's own loop).
    void close_socket();

    Server& server_;
    Socket socket_;
    EventLoop* loop_;
    const bool threaded_;  // io-threads > 1
    uint64_t id_;
    int fd_;
    std::string peer_;
    std::string local_;
    bool unix_socket_;
    std::unique_ptr<TlsStream> tls_;  // null for plain connections
    bool tls_read_wants_write_ = false;

    ReadBuffer input_;
    protocol::RequestParser parser_;
    std::string replies_;  // replies of the batch being run, moved to output_ before writing
    OutputQueue output_;
    // Messages this client published to itself while running a command: Redis sends the
    // command's reply first, then these (`:1\r\n>3\r\n$7\r\nmessage...`).
    std::vector<protocol::FrameRef> own_messages_;
    bool executing_ = false;

    protocol::RespVersion resp_ = protocol::RespVersion::resp2;
    bool authenticated_;
    std::shared_ptr<AclUser> user_;
    bool closing_ = false;  // close once output_ is written
    bool stopped_ = false;
    bool write_blocked_ = false;  // the socket is full; a writer waits for it
    bool writer_running_ = false;
    bool flush_scheduled_ = false;
    bool writing_ = false;         // the owning loop is writing gathered frames without the lock
    bool discard_output_ = false;  // closing for overrunning a limit: write nothing more
    int64_t db_ = 0;
    std::string name_;
    std::string lib_name_;
    std::string lib_version_;
    const CommandSpec* last_command_ = nullptr;
    Clock::time_point created_;
    Clock::time_point last_interaction_;
    Clock::time_point soft_limit_since_{};
    Transaction transaction_;
};

}  // namespace backplane
