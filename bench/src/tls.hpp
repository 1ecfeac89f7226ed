#pragma once
// Optional TLS for the benchmark's connections (--tls): the handshake runs on the blocking fd
// during setup, then every read and write of that fd goes through its SSL object. Plain fds
// (the default) go straight to recv/send; the lookup is one array read.

#include <sys/types.h>

#include <cstddef>

#include "options.hpp"

namespace bench::tls {

/// Builds the client context from --cacert/--cert/--key; does nothing without --tls. Throws
/// std::runtime_error when a file cannot be loaded.
void init(const Options& options);
/// True after init() with --tls.
bool enabled();
/// Runs the handshake on the connected, blocking `fd` and routes its I/O through TLS from now
/// on. Throws std::runtime_error when the handshake fails.
void attach(int fd);
/// Forgets `fd`'s TLS state; call before closing it.
void detach(int fd);

/// recv(2) and send(2) for an fd that may be a TLS one: -1 with errno EAGAIN when TLS needs
/// the socket to be readable or writable first, 0 at end of stream.
ssize_t receive(int fd, char* buffer, size_t size);
ssize_t transmit(int fd, const char* data, size_t size);

}  // namespace bench::tls
