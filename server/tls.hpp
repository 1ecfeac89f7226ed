#pragma once
// TLS for client connections: the server context built from the tls-* directives, and the
// per-connection stream that runs OpenSSL on the session's own non-blocking socket.
//
// The stream never waits: every call does what the socket allows now and says which readiness
// (readable or writable) it needs before the same call can make progress, so the session drives
// the handshake, reads and writes with the same async_wait it uses for plain sockets. Plain
// connections never touch this file: the session branches once per read and once per flush.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "server/config.hpp"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace backplane {

/// The OpenSSL server context for the current tls-* settings; connections hold a reference so
/// a reload (CONFIG SET tls-cert-file ...) leaves the open ones as they are.
class TlsContext {
  public:
    /// Builds the context as Redis's tlsConfigure() does; returns null after logging why (at
    /// warning level, with Redis's texts, e.g. "No tls-cert-file configured!").
    static std::shared_ptr<TlsContext> create(const Config& config);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    SSL_CTX* native() const { return ctx_; }

  private:
    explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
    SSL_CTX* ctx_;
};

/// The name of the first setting the TLS context is built from that differs between the two
/// configurations (for CONFIG SET's error), or empty when none does.
std::string_view changed_tls_setting(const Config& previous, const Config& config);

/// What a stream operation needs before it can go on.
enum class TlsWait { none, readable, writable, failed };

class TlsStream {
  public:
    /// A server-side TLS stream on `fd` (non-blocking; the caller keeps owning it).
    TlsStream(const TlsContext& context, int fd);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    /// Advances the handshake: `none` once it is complete, `failed` with error() set.
    TlsWait handshake();

    struct ReadResult {
        size_t bytes;
        TlsWait wait;  // none: the buffer is full; readable/writable: drained for now
        bool closed;   // end of stream or an error (logged by the caller with error())
    };
    /// Decrypts into `buffer` until it is full or nothing more is available.
    ReadResult read(char* buffer, size_t size);

    /// Bytes staged for the next SSL_write; the session fills them from its output queue.
    std::string& staged() { return staged_; }
    /// Writes staged bytes: `none` once all are written, else what to wait for.
    TlsWait write_staged(size_t& written);

    /// Sends close_notify without waiting (best effort, before closing the socket).
    void shutdown();
    /// True once the stream closed or failed; OpenSSL must not be called on it again.
    bool failed() const { return failed_; }
    /// The reason for the last failure, in OpenSSL's words.
    const std::string& error() const { return error_; }

  private:
    TlsWait failure(int result, bool& closed);

    SSL* ssl_;
    std::string staged_;
    std::string error_;
    bool failed_ = false;
};

/// The largest plaintext of one TLS record: staged output is cut at this size.
constexpr size_t tls_record_size = 16 * 1024;

}  // namespace backplane
