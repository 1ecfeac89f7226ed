#include "endpoint.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tls.hpp"

namespace bench {
namespace {
constexpr size_t kTlsRecord = 16 * 1024 + 256;
}  // namespace

Endpoint::Endpoint(int fd, size_t read_buffer_size, size_t write_buffer_size)
    : fd_(fd), in_(read_buffer_size), out_(write_buffer_size) {}

Endpoint::~Endpoint() {
    if (closed_) return;
    tls::detach(fd_);
    close(fd_);
}

bool Endpoint::fill(Tick& tick) {
    if (in_begin_ == in_end_) {
        in_begin_ = in_end_ = 0;
    } else if (in_begin_ > 0) {
        // Only a partial reply is left: move it to the front so the next read can complete it.
        std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
        in_end_ -= in_begin_;
        in_begin_ = 0;
    }
    if (in_end_ == in_.size()) in_.resize(in_.size() * 2);  // one reply larger than the buffer
    // A TLS record is decrypted whole only into room for one (16 KiB); less would leave
    // plaintext inside OpenSSL, where epoll cannot see it.
    if (tls::enabled() && in_.size() - in_end_ < kTlsRecord) in_.resize(in_end_ + 2 * kTlsRecord);
    const ssize_t n = tls::receive(fd_, in_.data() + in_end_, in_.size() - in_end_);
    if (n > 0) {
        in_end_ += static_cast<size_t>(n);
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    close_with_error(tick, n == 0 ? "server closed the connection" : std::strerror(errno));
    return false;
}

char* Endpoint::reserve(size_t size) {
    if (out_end_ + size > out_.size()) {
        std::memmove(out_.data(), out_.data() + out_begin_, out_end_ - out_begin_);
        out_end_ -= out_begin_;
        out_begin_ = 0;
        if (out_end_ + size > out_.size()) out_.resize(out_end_ + size);
    }
    return out_.data() + out_end_;
}

void Endpoint::append(std::string_view data) {
    std::memcpy(reserve(data.size()), data.data(), data.size());
    commit(data.size());
}

void Endpoint::flush(Tick& tick) {
    while (!closed_ && out_begin_ < out_end_) {
        const ssize_t n = tls::transmit(fd_, out_.data() + out_begin_, out_end_ - out_begin_);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) close_with_error(tick, std::strerror(errno));
            return;
        }
        out_begin_ += static_cast<size_t>(n);
    }
    if (out_begin_ == out_end_) out_begin_ = out_end_ = 0;
}

void Endpoint::on_writable(Tick& tick) { flush(tick); }

void Endpoint::close_with_error(Tick& tick, std::string_view error) {
    if (closed_) return;
    closed_ = true;
    tls::detach(fd_);
    close(fd_);
    out_begin_ = out_end_ = 0;
    if (tick.phase != Phase::kStop) tick.stats.note_error(error);
    on_closed(tick);
}

}  // namespace bench
