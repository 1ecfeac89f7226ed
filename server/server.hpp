#pragma once
// The server: configuration, listeners, the set of sessions, the channel registry, statistics,
// and the timer that enforces idle timeouts and soft output-buffer limits.

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

    /// Writes `session`'s output at the end of this event-loop turn, together with everyone
    /// else's, so messages published in one batch of requests share one write per subscriber.
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
    asio::awaitable<void> accept_loop(std::shared_ptr<asio::ip::tcp::acceptor> acceptor, bool tls);
    asio::awaitable<void> accept_loop(asio::local::stream_protocol::acceptor& acceptor);
    void admit(Socket socket, std::string peer, std::string local, bool local_client,
               bool unix_socket, bool tls = false);
    asio::awaitable<void> accept_failed(const asio::error_code& ec);
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
    void flush_scheduled();
    void write_pidfile() const;

    asio::io_context& io_;
    Config config_;
    ChannelRegistry registry_;
    Keyspace keyspace_;
    AclUsers acl_;
    ServerStats stats_;
    std::unique_ptr<scripting::ScriptEngine> scripts_;
    TcpAcceptors tcp_acceptors_;
    TcpAcceptors tls_acceptors_;
    std::shared_ptr<TlsContext> tls_context_;  // set while tls-port is open
    std::unique_ptr<asio::local::stream_protocol::acceptor> unix_acceptor_;
    asio::signal_set signals_;
    asio::steady_timer cron_timer_;
    std::map<uint64_t, Session*> sessions_;
    uint64_t next_client_id_ = 1;
    // Sessions with output to write at the end of this turn; a session leaving removes itself.
    std::vector<Session*> pending_flush_;
    bool stopping_ = false;
    Clock::time_point started_;
    std::string run_id_;
};

}  // namespace backplane
