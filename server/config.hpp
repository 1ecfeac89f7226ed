#pragma once
// Server settings, read from a redis.conf-style file and `--directive value` flags, and
// changed at run time by CONFIG SET. Names, value syntax and error texts follow Redis 7.

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace backplane {

enum class LogLevel { debug, verbose, notice, warning };

/// tls-auth-clients: whether a TLS client must present a certificate signed by the CA.
enum class TlsAuthClients { no, yes, optional };

/// One class of client-output-buffer-limit: 0 disables a limit.
struct BufferLimit {
    uint64_t hard_bytes = 0;
    uint64_t soft_bytes = 0;
    int64_t soft_seconds = 0;
};

struct Config {
    int64_t port = 6379;
    std::vector<std::string> bind{"*", "-::*"};
    std::string unixsocket;
    unsigned unixsocketperm = 0;
    std::string requirepass;
    bool protected_mode = true;
    int64_t maxclients = 10000;
    int64_t timeout = 0;
    int64_t tcp_keepalive = 300;
    int64_t tcp_backlog = 511;
    int64_t databases = 16;
    int64_t proto_max_bulk_len = 512LL * 1024 * 1024;
    int64_t client_query_buffer_limit = 1024LL * 1024 * 1024;
    BufferLimit normal_limit{};
    BufferLimit replica_limit{256ULL * 1024 * 1024, 64ULL * 1024 * 1024, 60};
    BufferLimit pubsub_limit{32ULL * 1024 * 1024, 8ULL * 1024 * 1024, 60};
    LogLevel loglevel = LogLevel::notice;
    std::string logfile;
    std::string pidfile;
    bool replica_read_only = true;
    /// busy-reply-threshold (alias lua-time-limit), in ms: a Lua script running longer is
    /// stopped with an error; 0 lets scripts run without limit.
    int64_t busy_reply_threshold = 5000;
    /// `user <name> <rule> ...` lines, each as its words (`user` included), in file order.
    std::vector<std::vector<std::string>> users;
    /// acl-pubsub-default: new users get `allchannels` instead of `resetchannels`.
    bool acl_pubsub_default_allchannels = false;
    // TLS (Redis 7.0 names and defaults). tls_port 0 leaves TLS off.
    int64_t tls_port = 0;
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_key_file_pass;
    std::string tls_ca_cert_file;
    std::string tls_ca_cert_dir;
    TlsAuthClients tls_auth_clients = TlsAuthClients::yes;
    std::string tls_protocols;  ///< empty: TLSv1.2 and TLSv1.3
    std::string tls_ciphers;
    std::string tls_ciphersuites;
    bool tls_prefer_server_ciphers = false;
    bool tls_session_caching = true;
    int64_t tls_session_cache_size = 20 * 1024;
    int64_t tls_session_cache_timeout = 300;
    std::string tls_dh_params_file;
    // Accepted for redis.conf compatibility; Backplane has no replication or cluster links.
    bool tls_replication = false;
    bool tls_cluster = false;
    std::string tls_client_cert_file;
    std::string tls_client_key_file;
    std::string tls_client_key_file_pass;
    /// Event loops, each on its own thread (see server/server.hpp).
    int64_t io_threads = 1;
    /// Accepted for Redis compatibility: every loop reads its own clients either way.
    bool io_threads_do_reads = false;
    std::string config_file;  ///< absolute path of the file read at startup, if any
};

/// A startup configuration error, with the complete text to print.
class ConfigError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Builds the configuration from `backplane-server [config-file] [--directive value ...]`.
/// Throws ConfigError naming the file (or the command line) and the line at fault.
Config load_config(std::span<const std::string_view> argv);

/// Reads directives from the text of a config file into `config`; `source` names it in errors.
void apply_config_text(Config& config, std::string_view text, const std::string& source,
                       int include_depth = 0);

/// CONFIG SET name value [name value ...], all or nothing. Returns the error reply text.
std::optional<std::string> config_set(Config& config,
                                      std::span<const std::string_view> name_value_pairs);

/// CONFIG GET pattern [pattern ...]: (name, value) pairs of every directive matching a pattern.
std::vector<std::pair<std::string, std::string>> config_get(
    const Config& config, std::span<const std::string_view> patterns);

}  // namespace backplane
