#include "tls.hpp"

#include <fmt/core.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <stdexcept>

namespace bench::tls {
namespace {

constexpr int kMaxFd = 1 << 20;
SSL_CTX* context = nullptr;
// Indexed by fd. Written during setup (before the workers run) and at close.
std::unique_ptr<SSL*[]> by_fd;

SSL* ssl_of(int fd) { return by_fd && fd >= 0 && fd < kMaxFd ? by_fd[fd] : nullptr; }

std::string openssl_error() {
    char text[256] = "unknown error";
    if (const unsigned long code = ERR_get_error()) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    return text;
}

/// Maps a failed SSL_read/SSL_write to the result recv/send would give.
ssize_t failure(SSL* ssl, int result) {
    switch (SSL_get_error(ssl, result)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            errno = EAGAIN;
            return -1;
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_SYSCALL:
            ERR_clear_error();
            if (errno == 0) return 0;
            return -1;
        default:
            ERR_clear_error();
            errno = EPROTO;
            return -1;
    }
}

}  // namespace

void init(const Options& options) {
    if (!options.tls) return;
    context = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!options.cacert.empty()) {
        if (SSL_CTX_load_verify_locations(context, options.cacert.c_str(), nullptr) != 1)
            throw std::runtime_error(
                fmt::format("--cacert {}: {}", options.cacert, openssl_error()));
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
    }
    if (!options.cert.empty() &&
        SSL_CTX_use_certificate_chain_file(context, options.cert.c_str()) != 1)
        throw std::runtime_error(fmt::format("--cert {}: {}", options.cert, openssl_error()));
    if (!options.key.empty() &&
        SSL_CTX_use_PrivateKey_file(context, options.key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error(fmt::format("--key {}: {}", options.key, openssl_error()));
    by_fd = std::make_unique<SSL*[]>(kMaxFd);
}

bool enabled() { return context != nullptr; }

void attach(int fd) {
    if (!context) return;
    if (fd >= kMaxFd) throw std::runtime_error("too many connections for --tls");
    detach(fd);
    SSL* ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        const std::string why = openssl_error();
        SSL_free(ssl);
        throw std::runtime_error(fmt::format("TLS handshake: {}", why));
    }
    by_fd[fd] = ssl;
}

void detach(int fd) {
    if (SSL* ssl = ssl_of(fd)) {
        SSL_free(ssl);
        by_fd[fd] = nullptr;
    }
}

ssize_t receive(int fd, char* buffer, size_t size) {
    SSL* ssl = ssl_of(fd);
    if (!ssl) return recv(fd, buffer, size, 0);
    ERR_clear_error();
    errno = 0;
    const int n = SSL_read(ssl, buffer, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
    return n > 0 ? n : failure(ssl, n);
}

ssize_t transmit(int fd, const char* data, size_t size) {
    SSL* ssl = ssl_of(fd);
    if (!ssl) return send(fd, data, size, MSG_NOSIGNAL);
    ERR_clear_error();
    errno = 0;
    const int n = SSL_write(ssl, data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
    return n > 0 ? n : failure(ssl, n);
}

}  // namespace bench::tls
