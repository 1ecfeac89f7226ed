#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"

namespace bench {

/// Blocking helpers for the setup phase: connections are opened, authenticated and
/// subscribed one by one before any message flows, so confirmations can be awaited in order
/// and the event loops only ever see steady-state traffic.

/// Connects to the server named by `options` (TCP with TCP_NODELAY, or a Unix socket) and
/// sends AUTH when a password is set. Returns a blocking fd; throws std::runtime_error.
int open_connection(const Options& options);

/// Encodes one command as a RESP array of bulk strings.
std::string resp_command(const std::vector<std::string>& args);

/// Writes all of `data` to a blocking fd; throws on error.
void send_all(int fd, std::string_view data);

/// Reads `count` replies from a blocking fd. Each must be a push whose first element is
/// `kind` (e.g. "subscribe"), or, when `kind` is "+OK", that status. Throws on anything else.
void expect_replies(int fd, size_t count, std::string_view kind);

/// Switches an fd to non-blocking mode for the event loops.
void set_nonblocking(int fd);

}  // namespace bench
