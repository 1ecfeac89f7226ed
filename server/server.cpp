#include "server/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>

#include "server/log.hpp"
#include "server/peer_address.hpp"
#include "server/scripting/script_engine.hpp"

namespace backplane {
namespace {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using tcp = asio::ip::tcp;

constexpr std::string_view max_clients_error = "-ERR max number of clients reached\r\n";
constexpr std::string_view protected_mode_error =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no password "
    "is set for the default user. In this mode connections are only accepted from the loopback "
    "interface. If you want to connect from external computers to Redis you may adopt one of the "
    "following solutions: 1) Just disable protected mode sending the command 'CONFIG SET "
    "protected-mode no' from the loopback interface by connecting to Redis from the same host the "
    "server is running, however MAKE SURE Redis is not publicly accessible from internet if you do "
    "so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable "
    "the protected mode by editing the Redis configuration file, and setting the protected mode "
    "option to 'no', and then restarting the server. 3) If you started the server manually just "
    "for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication "
    "password for the default user. NOTE: You only need to do one of the above things in order "
    "for the server to start accepting connections from the outside.\r\n";
/// Expired keys reclaimed per database on each 100 ms cron tick, at most.
constexpr size_t active_expire_limit = 200;
/// File descriptors kept for listeners, logs and the like beyond maxclients, as Redis does.
constexpr int64_t reserved_fds = 32;

std::string random_run_id() {
    std::random_device device;
    std::string id;
    for (int i = 0; i < 40; ++i) id += "0123456789abcdef"[device() % 16];
    return id;
}

/// Sends a one-line refusal without waiting; the connection is closed right after.
void refuse(Socket& socket, std::string_view message) {
    ::send(socket.native_handle(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    asio::error_code ignored;
    socket.close(ignored);
}

void set_tcp_options(Socket& socket, int64_t keepalive_seconds) {
    const int fd = socket.native_handle();
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (keepalive_seconds <= 0) return;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    int idle = static_cast<int>(keepalive_seconds);
    int interval = std::max(idle / 3, 1);
    int count = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

bool accept_error_is_resource_shortage(const asio::error_code& ec) {
    return ec.value() == EMFILE || ec.value() == ENFILE || ec.value() == ENOBUFS ||
           ec.value() == ENOMEM;
}

}  // namespace

Server::Server(asio::io_context& io, Config config)
    : io_(io),
      config_(std::move(config)),
      threaded_(config_.io_threads > 1),
      execution_mutex_in_use_(threaded_ ? &execution_mutex_ : nullptr),
      keyspace_(static_cast<size_t>(config_.databases)),
      scripts_(std::make_unique<scripting::ScriptEngine>(*this)),
      signals_(io, SIGINT, SIGTERM),
      cron_timer_(io),
      started_(Clock::now()),
      run_id_(random_run_id()) {
    apply_acl_config();
    if (auto error = load_config_users(acl_, config_.users)) throw std::runtime_error(*error);
    loops_.reserve(static_cast<size_t>(std::max<int64_t>(config_.io_threads, 1)));
    loops_.push_back(EventLoop{&io_, 0, {}});
    for (int64_t i = 1; i < config_.io_threads; ++i) {
        // Other loops post flushes and closes here: this io_context keeps Asio's locking.
        auto& context = extra_contexts_.emplace_back(std::make_unique<asio::io_context>(1));
        keep_running_.push_back(asio::make_work_guard(*context));
        loops_.push_back(EventLoop{context.get(), 0, {}});
    }
}

// The loop threads end before their io_contexts, and the sessions those still hold, go away.
Server::~Server() {
    stop_loop_threads();
    extra_contexts_.clear();
}

void Server::start_loop_threads() {
    for (size_t i = 1; i < loops_.size(); ++i)
        loop_threads_.emplace_back([context = loops_[i].io] { context->run(); });
}

void Server::stop_loop_threads() {
    keep_running_.clear();
    for (size_t i = 1; i < loops_.size(); ++i) loops_[i].io->stop();
    for (auto& thread : loop_threads_) thread.join();
    loop_threads_.clear();
}

EventLoop& Server::loop_of(const Socket::executor_type& executor) {
    for (EventLoop& loop : loops_)
        if (&asio::query(executor, asio::execution::context) == loop.io) return loop;
    return loops_.front();
}

EventLoop& Server::least_loaded_loop() {
    if (!threaded_) return loops_.front();
    EventLoop* best = &loops_.front();
    for (EventLoop& loop : loops_)
        if (loop.sessions < best->sessions) best = &loop;
    return *best;
}

void Server::start() {
    raise_open_files_limit();
    open_tcp_listeners();
    open_tls_listeners();
    open_unix_listener();
    if (tcp_acceptors_.empty() && tls_acceptors_.empty() && !unix_acceptor_) {
        throw std::runtime_error("Configured to not listen anywhere, exiting.");
    }
    write_pidfile();
    accept_on_tcp_listeners();
    for (auto& acceptor : tls_acceptors_) accept_next(acceptor, true);
    if (unix_acceptor_) accept_next(unix_acceptor_);
    asio::co_spawn(io_, cron(), asio::detached);
    start_loop_threads();
    signals_.async_wait([this](const asio::error_code& ec, int signal) {
        if (ec) return;
        auto lock = serialize();
        log::at(LogLevel::warning, "Received {} scheduling shutdown...",
                signal == SIGINT ? "SIGINT" : "SIGTERM");
        shutdown();
    });
    log::at(LogLevel::notice, "Running mode=standalone, port={}.", tcp_port());
    log::at(LogLevel::notice, "Server initialized");
    log::at(LogLevel::notice, "Ready to accept connections");
}

void Server::raise_open_files_limit() {
    const int64_t wanted = config_.maxclients + reserved_fds;
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (static_cast<int64_t>(limit.rlim_cur) >= wanted) return;
    rlimit raised = limit;
    raised.rlim_cur =
        static_cast<rlim_t>(std::min<int64_t>(wanted, static_cast<int64_t>(limit.rlim_max)));
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) raised = limit;
    const int64_t possible = static_cast<int64_t>(raised.rlim_cur) - reserved_fds;
    if (possible < config_.maxclients) {
        log::at(LogLevel::warning,
                "You requested maxclients of {} requiring at least {} max file descriptors. "
                "Server can't set maximum open files to {} because of OS error: {}. Current "
                "maximum open files is {}. maxclients has been reduced to {} to compensate for "
                "low ulimit.",
                config_.maxclients, wanted, wanted, std::strerror(EPERM), raised.rlim_cur,
                std::max<int64_t>(possible, 1));
        config_.maxclients = std::max<int64_t>(possible, 1);
    }
}

void Server::open_tcp_listeners() {
    if (config_.port == 0) return;
    listen_on(config_.port, tcp_acceptors_);
}

void Server::listen_on(int64_t port, TcpAcceptors& acceptors) {
    for (std::string address : config_.bind) {
        const bool optional = address.starts_with('-');
        if (optional) address.erase(0, 1);
        if (address == "*") address = "0.0.0.0";
        if (address == "::*") address = "::";
        try {
            const auto ip = asio::ip::make_address(address);
            const tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
            auto acceptor = std::make_shared<tcp::acceptor>(io_);
            acceptor->open(endpoint.protocol());
            acceptor->set_option(tcp::acceptor::reuse_address(true));
            if (ip.is_v6()) acceptor->set_option(asio::ip::v6_only(true));
            acceptor->bind(endpoint);
            acceptor->listen(static_cast<int>(config_.tcp_backlog));
            acceptors.push_back(std::move(acceptor));
        } catch (const std::system_error& error) {
            if (optional) continue;
            throw std::runtime_error(
                fmt::format("Warning: Could not create server TCP listening "
                            "socket {}:{}: {}",
                            address, port, error.code().message()));
        }
    }
}

/// Builds the TLS context and listens on tls-port; throws when either fails.
void Server::open_tls_listeners() {
    if (config_.tls_port == 0) return;
    if (!tls_context_) tls_context_ = TlsContext::create(config_);
    if (!tls_context_)
        throw std::runtime_error("Failed to configure TLS. Check logs for more info.");
    listen_on(config_.tls_port, tls_acceptors_);
}

void Server::close_tls_listeners() {
    asio::error_code ignored;
    for (auto& acceptor : tls_acceptors_) acceptor->close(ignored);
    tls_acceptors_.clear();
}

void Server::close_tcp_listeners() {
    asio::error_code ignored;
    for (auto& acceptor : tcp_acceptors_) acceptor->close(ignored);
    tcp_acceptors_.clear();
}

void Server::accept_on_tcp_listeners() {
    for (auto& acceptor : tcp_acceptors_) accept_next(acceptor);
}

std::optional<std::string> Server::apply_listener_changes(const Config& previous) {
    if (previous.port == config_.port && previous.bind == config_.bind) return std::nullopt;
    close_tcp_listeners();
    std::optional<std::string> error;
    try {
        open_tcp_listeners();
    } catch (const std::exception& failure) {
        log::at(LogLevel::warning, "{}", failure.what());
        error = previous.port != config_.port
                    ? "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to "
                      "listen on this port"
                    : "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to "
                      "bind to specified addresses.";
        close_tcp_listeners();
        config_.port = previous.port;
        config_.bind = previous.bind;
        try {
            open_tcp_listeners();
        } catch (const std::exception& again) {
            log::at(LogLevel::warning, "Could not listen again on the previous addresses: {}",
                    again.what());
        }
    }
    accept_on_tcp_listeners();
    return error;
}

std::optional<std::string> Server::apply_tls_changes(const Config& previous) {
    const std::string_view changed = changed_tls_setting(previous, config_);
    const bool reload = !changed.empty();
    if (!reload && previous.tls_port == config_.tls_port && previous.bind == config_.bind)
        return std::nullopt;
    const auto related = [](std::string_view name, std::string_view why) {
        return fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - {}", name,
                           why);
    };
    // Like Redis: the context is only built while TLS is in use, and a failed build changes
    // nothing.
    std::shared_ptr<TlsContext> context = tls_context_;
    if (config_.tls_port != 0 && (reload || !context)) {
        context = TlsContext::create(config_);
        if (!context) {
            return related(previous.tls_port != config_.tls_port ? "tls-port" : changed,
                           "Unable to update TLS configuration. Check server logs.");
        }
    }
    if (previous.tls_port == config_.tls_port && previous.bind == config_.bind) {
        tls_context_ = std::move(context);
        return std::nullopt;
    }
    TcpAcceptors opened;
    if (config_.tls_port != 0) {
        try {
            listen_on(config_.tls_port, opened);
        } catch (const std::exception& failure) {
            log::at(LogLevel::warning, "{}", failure.what());
            asio::error_code ignored;
            for (auto& acceptor : opened) acceptor->close(ignored);
            return related("tls-port", "Unable to listen on this port. Check server logs.");
        }
    }
    close_tls_listeners();
    tls_acceptors_ = std::move(opened);
    tls_context_ = config_.tls_port != 0 ? std::move(context) : nullptr;
    for (auto& acceptor : tls_acceptors_) accept_next(acceptor, true);
    return std::nullopt;
}

void Server::open_unix_listener() {
    if (config_.unixsocket.empty()) return;
    ::unlink(config_.unixsocket.c_str());
    auto acceptor = std::make_shared<asio::local::stream_protocol::acceptor>(io_);
    acceptor->open();
    // Create the socket file with its final permissions, so there is no window in which it is
    // more open than configured (CVE-2023-45145).
    const mode_t mask = config_.unixsocketperm ? (~config_.unixsocketperm & 0777) : 0;
    const mode_t previous = config_.unixsocketperm ? ::umask(mask) : 0;
    asio::error_code ec;
    acceptor->bind(asio::local::stream_protocol::endpoint(config_.unixsocket), ec);
    if (config_.unixsocketperm) ::umask(previous);
    if (ec) {
        throw std::runtime_error(
            fmt::format("Failed opening Unix socket {}: {}", config_.unixsocket, ec.message()));
    }
    if (config_.unixsocketperm) ::chmod(config_.unixsocket.c_str(), config_.unixsocketperm);
    acceptor->listen(static_cast<int>(config_.tcp_backlog));
    unix_acceptor_ = std::move(acceptor);
}

// Each accept is started under the execution lock and its completion runs under it, so CONFIG
// SET port/bind, run by a command on any loop, never closes an acceptor while loop 0 uses it.
template <typename Acceptor>
void Server::accept_next(std::shared_ptr<Acceptor> acceptor, bool tls) {
    if (stopping_ || !acceptor->is_open()) return;
    auto socket = std::make_shared<Socket>(*least_loaded_loop().io);
    acceptor->async_accept(*socket, [this, acceptor, socket, tls](const asio::error_code& ec) {
        auto lock = serialize();
        if (stopping_ || ec == asio::error::operation_aborted) return;
        if (ec) {
            accept_failed(ec, acceptor, tls);
            return;
        }
        if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
            set_tcp_options(*socket, config_.tcp_keepalive);
            const PeerAddress peer = peer_address(socket->native_handle());
            std::string local = local_address(socket->native_handle());
            admit(std::move(*socket), peer.text, std::move(local), peer.loopback, false, tls);
        } else {
            admit(std::move(*socket), config_.unixsocket + ":0", config_.unixsocket + ":0", true,
                  true);
        }
        accept_next(acceptor, tls);
    });
}

// An accept error never stops accepting (CVE-2025-48367); when descriptors run out, wait a
// little instead of spinning, and accept again as soon as one is free.
template <typename Acceptor>
void Server::accept_failed(const asio::error_code& ec, std::shared_ptr<Acceptor> acceptor,
                           bool tls) {
    log::at(LogLevel::warning, "Accepting client connection: {}", ec.message());
    if (!accept_error_is_resource_shortage(ec)) {
        accept_next(acceptor, tls);
        return;
    }
    auto pause = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
    pause->async_wait([this, pause, acceptor, tls](const asio::error_code&) {
        auto lock = serialize();
        accept_next(acceptor, tls);
    });
}

void Server::admit(Socket socket, std::string peer, std::string local, bool local_client,
                   bool unix_socket, bool tls) {
    if (tls && !tls_context_) {  // accepted just as CONFIG SET tls-port 0 closed the listener
        refuse(socket, "");
        return;
    }
    if (static_cast<int64_t>(sessions_.size()) >= config_.maxclients) {
        ++stats_.rejected_connections;
        refuse(socket, tls ? "" : max_clients_error);
        return;
    }
    ++stats_.total_connections_received;
    if (config_.protected_mode && acl_.default_user()->nopass && !local_client) {
        log::at(LogLevel::warning,
                "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or "
                "Host: commands to Redis. This is likely due to an attacker attempting to use "
                "Cross Protocol Scripting to compromise your Redis instance. Connection from {} "
                "aborted.",
                peer);
        refuse(socket, tls ? "" : protected_mode_error);
        return;
    }
    log::at(LogLevel::verbose, "Accepted {}", peer);
    const int fd = socket.native_handle();
    auto session = std::make_shared<Session>(*this, std::move(socket), std::move(peer),
                                             std::move(local), unix_socket);
    if (tls) session->use_tls(std::make_unique<TlsStream>(*tls_context_, fd));
    session->start();
}

asio::awaitable<void> Server::cron() {
    while (!stopping_) {
        cron_timer_.expires_after(std::chrono::milliseconds(100));
        auto [ec] = co_await cron_timer_.async_wait(as_tuple(use_awaitable));
        if (ec || stopping_) co_return;
        auto lock = serialize();
        const auto now = Clock::now();
        // Active expiry: cheap, bounded; reads delete expired keys lazily anyway.
        keyspace_.expire_some(unix_time_ms(), active_expire_limit);
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            Session* session = it->second;
            ++it;  // check_timers may remove this session from the map
            session->check_timers(now);
        }
    }
}

void Server::shutdown() {
    if (stopping_) {
        log::at(LogLevel::warning, "You insist... exiting now.");
        std::exit(1);
    }
    stopping_ = true;
    log::at(LogLevel::warning, "User requested shutdown...");
    asio::error_code ignored;
    close_tcp_listeners();
    close_tls_listeners();
    if (unix_acceptor_) {
        unix_acceptor_->close(ignored);
        ::unlink(config_.unixsocket.c_str());
    }
    cron_timer_.cancel();
    std::vector<Session*> open(sessions_.size());
    std::transform(sessions_.begin(), sessions_.end(), open.begin(),
                   [](const auto& entry) { return entry.second; });
    for (Session* session : open) session->stop();
    if (!config_.pidfile.empty()) ::unlink(config_.pidfile.c_str());
    log::at(LogLevel::warning, "Backplane is now ready to exit, bye bye...");
    io_.stop();
    keep_running_.clear();
    for (size_t i = 1; i < loops_.size(); ++i) loops_[i].io->stop();
}

uint64_t Server::add_session(Session& session) {
    const uint64_t id = next_client_id_++;
    sessions_.emplace(id, &session);
    ++session.loop().sessions;
    return id;
}

void Server::remove_session(Session& session) {
    if (sessions_.erase(session.id())) --session.loop().sessions;
}

void Server::apply_acl_config(bool password_changed) {
    acl_.pubsub_default_allchannels = config_.acl_pubsub_default_allchannels;
    if (password_changed) acl_.set_default_password(config_.requirepass);
}

void Server::schedule_flush(Session& session) {
    EventLoop& loop = session.loop();
    if (loop.pending_flush.empty()) asio::post(*loop.io, [this, &loop] { flush_scheduled(loop); });
    loop.pending_flush.push_back(&session);
}

void Server::cancel_flush(Session& session) { std::erase(session.loop().pending_flush, &session); }

// Runs on `loop`'s thread, and only that thread ends its sessions' lives, so every session in the
// batch is still there even if another loop stops it meanwhile (its flush then does nothing).
void Server::flush_scheduled(EventLoop& loop) {
    std::vector<Session*> batch;
    if (!threaded_) {
        batch.swap(loop.pending_flush);
        for (Session* session : batch) {
            session->flush_unscheduled();
            session->flush();
        }
    } else {
        {
            auto lock = serialize();
            batch.swap(loop.pending_flush);
            for (Session* session : batch) session->flush_unscheduled();
        }
        for (Session* session : batch) session->flush();
    }
    batch.clear();
    auto lock = serialize();
    if (loop.pending_flush.empty()) loop.pending_flush.swap(batch);  // keep the capacity
}

int64_t Server::tcp_port() const {
    return tcp_acceptors_.empty() ? 0 : tcp_acceptors_.front()->local_endpoint().port();
}

int64_t Server::tls_port() const {
    return tls_acceptors_.empty() ? 0 : tls_acceptors_.front()->local_endpoint().port();
}

void Server::write_pidfile() const {
    if (config_.pidfile.empty()) return;
    if (std::FILE* file = std::fopen(config_.pidfile.c_str(), "w")) {
        std::fprintf(file, "%d\n", static_cast<int>(getpid()));
        std::fclose(file);
    } else {
        log::at(LogLevel::warning, "Failed to write PID file: {}", std::strerror(errno));
    }
}

}  // namespace backplane
