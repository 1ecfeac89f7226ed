#pragma once
// The server: configuration, listeners, the set of sessions, the channel registry, statistics,
// and the timer that enforces idle timeouts and soft output-buffer limits.
//
// Threads (io-threads N). The server runs N event loops, each an io_context on its own thread;
// loop 0 is main()'s and also owns the listeners, the signal handlers and the cron timer. A new
// client goes to the loop serving the fewest clients and stays there: only that loop's thread
// reads its socket, writes it and closes it.
//
// As in Redis, I/O is threaded and command execution is serialized. Everything shared (the
// registry, the session map, statistics, the configuration, and every session's command state
// and output queue) is guarded by one execution lock (Server::serialize()). A loop thread
// receives bytes without the lock, then takes it to parse and run the complete requests. A
// command therefore sees the whole server as if it were single-threaded: handlers need no
// locking of their own; only work a handler defers (a timer or a post on io()) must take
// serialize() itself when it runs. PUBLISH appends the shared message frame to each subscriber's
// output queue under the lock and schedules a flush on the subscriber's own loop (one post per loop
// per turn, however many subscribers it has there). The owning loop then gathers the queued frames
// under the lock and writes them with the lock released: frames are immutable and only the
// owner removes them from its queue, so the bytes stay valid while the socket takes them. (A
// queue past an output-buffer limit is first written by the publishing loop, under the lock and
// never while the owner writes, so limits are judged as with one loop.) A session stopped from
// another loop (CLIENT KILL, an output limit, the cron) leaves the registry and the session map
// at once, under the lock, and its loop closes the socket next.
//
// What this guarantees: PUBLISH counts and PUBSUB replies are exact; messages of one publisher
// reach every subscriber in publish order (appends happen in lock order, writes in queue order).
// How it scales: recv, send and the wake-ups spread over N cores; parsing, command execution and
// the per-subscriber queue appends of a fan-out are serialized. So fan-out to many subscribers,
// where the writes dominate, gains most; many small publishes with few subscribers each gain
// least. With io-threads 1 (the default) there is one loop that nothing posts to from another
// thread: it runs without Asio's internal locks and Server::serialize() takes no lock.

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/acl.hpp"
#include "server/channel_registry.hpp"
#include "server/config.hpp"
#include "server/keyspace.hpp"
#include "server/session.hpp"
#include "server/tls.hpp"

namespace backplane {

namespace scripting {
class ScriptEngine;
}

struct ServerStats {
    uint64_t total_connections_received = 0;
    uint64_t total_commands_processed = 0;
    uint64_t rejected_connections = 0;
    uint64_t total_net_input_bytes = 0;
    uint64_t total_net_output_bytes = 0;
    uint64_t pubsub_messages_published = 0;
    uint64_t output_buffer_limit_disconnections = 0;
};

/// Holds a mutex for its lifetime, or nothing when given none (one event loop): then it costs a
/// test on entry and one on exit, which keeps io-threads 1 as fast as without threads.
class ExecutionLock {
  public:
    explicit ExecutionLock(std::mutex* mutex) : mutex_(mutex) {
        if (mutex_) mutex_->lock();
    }
    ~ExecutionLock() {
        if (mutex_) mutex_->unlock();
    }
    ExecutionLock(const ExecutionLock&) = delete;
    ExecutionLock& operator=(const ExecutionLock&) = delete;

  private:
    std::mutex* mutex_;
};

/// One event loop: its io_context, how many clients it serves, and the sessions whose output it
/// writes at the end of its current turn. `sessions` and `pending_flush` are guarded by the
/// execution lock.
struct EventLoop {
    asio::io_context* io;
    size_t sessions = 0;
    std::vector<Session*> pending_flush;
};

class Server {
  public:
    Server(asio::io_context& io, Config config);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Opens the listeners (throws std::system_error when one cannot be opened), and starts
    /// accepting, the timer and the signal handlers.
    void start();
    /// Stops accepting, closes every client, and lets the event loop finish.
    void shutdown();
    /// After CONFIG SET changed `port` or `bind`: listens on the new addresses, or, when that
    /// fails, goes back to `previous` ones and returns the error reply.
    std::optional<std::string> apply_listener_changes(const Config& previous);
    /// After CONFIG SET changed a tls-* setting: rebuilds the TLS context (new connections use
    /// it) and opens or closes the tls-port listeners. On failure nothing changes and the error
    /// reply is returned.
    std::optional<std::string> apply_tls_changes(const Config& previous);

    asio::io_context& io() { return io_; }

    /// Holds the server-wide execution lock while io-threads > 1; with one loop, an empty lock.
    /// Whoever touches shared state holds it: commands run under it (see the top of this file).
    ExecutionLock serialize() { return ExecutionLock(execution_mutex_in_use_); }
    /// True with more than one event loop.
    bool threaded() const { return threaded_; }
    /// The loop whose io_context `executor` belongs to (loop 0 for an unknown one).
    EventLoop& loop_of(const Socket::executor_type& executor);
    Config& config() { return config_; }
    const Config& config() const { return config_; }
    ChannelRegistry& registry() { return registry_; }
    Keyspace& keyspace() { return keyspace_; }
    ServerStats& stats() { return stats_; }
    /// The Lua engine of EVAL and SCRIPT.
    scripting::ScriptEngine& scripts() { return *scripts_; }

    /// Adds a new client; returns its id (1, 2, ...: never reused).
    uint64_t add_session(Session& session);
    void remove_session(Session& session);
    /// Clients by id, which is also the order they connected in.
    const std::map<uint64_t, Session*>& sessions() const { return sessions_; }

    AclUsers& acl() { return acl_; }
    /// Brings the users in line with the configuration: acl-pubsub-default, and, when
    /// `password_changed`, requirepass as the default user's password (as Redis does).
    void apply_acl_config(bool password_changed = true);

    /// Writes `session`'s output at the end of its own loop's turn, together with everyone
    /// else's there, so messages published in one batch of requests share one write per subscriber.
    void schedule_flush(Session& session);
    /// Forgets a scheduled flush (the session is closing).
    void cancel_flush(Session& session);

    Clock::time_point started() const { return started_; }
    const std::string& run_id() const { return run_id_; }
    /// The TCP port actually listened on (useful with port 0 in tests); 0 without TCP.
    int64_t tcp_port() const;
    /// The TLS port actually listened on; 0 without TLS.
    int64_t tls_port() const;

  private:
    using TcpAcceptors = std::vector<std::shared_ptr<asio::ip::tcp::acceptor>>;
    /// Accepts the next client on `acceptor` (caller holds the execution lock); `tls` clients
    /// get a TLS stream.
    template <typename Acceptor>
    void accept_next(std::shared_ptr<Acceptor> acceptor, bool tls = false);
    template <typename Acceptor>
    void accept_failed(const asio::error_code& ec, std::shared_ptr<Acceptor> acceptor, bool tls);
    void admit(Socket socket, std::string peer, std::string local, bool local_client,
               bool unix_socket, bool tls = false);
    asio::awaitable<void> cron();
    void raise_open_files_limit();
    void open_tcp_listeners();
    void close_tcp_listeners();
    void accept_on_tcp_listeners();
    /// Listens on every bind address at `port` into `acceptors`; throws like open_tcp_listeners.
    void listen_on(int64_t port, TcpAcceptors& acceptors);
    void open_tls_listeners();
    void close_tls_listeners();
    void open_unix_listener();
    void flush_scheduled(EventLoop& loop);
    /// The loop serving the fewest clients, for the next one accepted (caller holds the lock).
    EventLoop& least_loaded_loop();
    void start_loop_threads();
    void stop_loop_threads();
    void write_pidfile() const;

    asio::io_context& io_;
    Config config_;
    const bool threaded_;
    std::mutex execution_mutex_;
    std::mutex* const execution_mutex_in_use_;  // null with one loop
    // Loops 1..N-1: their io_contexts, what keeps them running while idle, and their threads.
    std::vector<std::unique_ptr<asio::io_context>> extra_contexts_;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running_;
    std::vector<std::thread> loop_threads_;
    std::vector<EventLoop> loops_;  // never resized after construction: sessions point into it
    ChannelRegistry registry_;
    Keyspace keyspace_;
    AclUsers acl_;
    ServerStats stats_;
    std::unique_ptr<scripting::ScriptEngine> scripts_;
    TcpAcceptors tcp_acceptors_;
    TcpAcceptors tls_acceptors_;
    std::shared_ptr<TlsContext> tls_context_;  // set while tls-port is open
    std::shared_ptr<asio::local::stream_protocol::acceptor> unix_acceptor_;
    asio::signal_set signals_;
    asio::steady_timer cron_timer_;
    std::map<uint64_t, Session*> sessions_;
    uint64_t next_client_id_ = 1;
    bool stopping_ = false;
    Clock::time_point started_;
    std::string run_id_;
};

}  // namespace backplane
