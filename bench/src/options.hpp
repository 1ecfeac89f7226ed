#pragma once

#include <cstdint>
#include <string>

namespace bench {

/// Everything the command line can set. Defaults describe a small fan-out run.
struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string unix_socket;  ///< used instead of host/port when set
    std::string password;
    bool tls = false;    ///< connect with TLS (to a tls-port)
    std::string cacert;  ///< CA to verify the server with; none: no verification
    std::string cert;    ///< client certificate and key, for servers that ask for one
    std::string key;

    int publishers = 1;
    int subscribers = 1;
    int channels = 1;
    int channels_per_subscriber = 1;
    int pattern_subscribers = 0;
    int patterns_per_subscriber = 1;  ///< one matches every channel, the others match none
    int payload_size = 64;
    int pipeline = 16;  ///< PUBLISH commands in flight per publisher connection
    double rate = 0;    ///< total publishes per second; 0 = as fast as replies come back
    double duration = 5;
    int64_t messages = 0;  ///< total measured publishes; when > 0 it replaces `duration`
    double warmup = 1;
    int idle_connections = 0;
    int churn_clients = 0;
    int churn_channels = 1000;

    int threads = 0;  ///< 0 = online cores not used by the server (at least 1)
    int server_pid = 0;
    bool json = false;
    bool progress = true;
};

/// Parses argv; prints usage and exits on --help or on an invalid option.
Options parse_options(int argc, char** argv);

}  // namespace bench
