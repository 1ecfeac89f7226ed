#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "resp_reader.hpp"
#include "run_state.hpp"

namespace bench {

/// A non-blocking server connection driven by a worker's epoll loop. It owns a large read
/// buffer that replies are parsed from in place, and an output buffer that is written as far
/// as the socket takes it; the worker polls for EPOLLOUT only while output is pending.
class Endpoint {
  public:
    Endpoint(int fd, size_t read_buffer_size, size_t write_buffer_size);
    virtual ~Endpoint();
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    int fd() const { return fd_; }
    bool closed() const { return closed_; }
    bool wants_write() const { return out_begin_ != out_end_; }

    virtual void on_readable(Tick& tick) = 0;
    void on_writable(Tick& tick);
    /// Endpoints that act on their own (publishers, churn clients) return true and get
    /// on_tick() on every phase change and whenever their next_deadline() has passed.
    virtual bool wants_ticks() const { return false; }
    virtual void on_tick(Tick&) {}
    virtual int64_t next_deadline() const { return std::numeric_limits<int64_t>::max(); }

  protected:
    /// Reads once into the buffer, then hands every complete reply to `handle`; stops early
    /// when the connection closes (by the server or after a protocol error).
    template <typename Handler>
    void read_replies(Tick& tick, Handler&& handle);

    /// Space for `size` more output bytes; commit() then makes them pending.
    char* reserve(size_t size);
    void commit(size_t size) { out_end_ += size; }
    void append(std::string_view data);
    void flush(Tick& tick);
    void close_with_error(Tick& tick, std::string_view error);
    /// Called once when the connection closes, whether the server or an error closed it.
    virtual void on_closed(Tick&) {}

  private:
    bool fill(Tick& tick);

    int fd_;
    bool closed_ = false;
    std::vector<char> in_;
    size_t in_begin_ = 0;
    size_t in_end_ = 0;
    std::vector<char> out_;
    size_t out_begin_ = 0;
    size_t out_end_ = 0;
};

template <typename Handler>
void Endpoint::read_replies(Tick& tick, Handler&& handle) {
    if (!fill(tick)) return;
    RespReply reply;
    while (in_begin_ < in_end_) {
        size_t consumed = 0;
        const ParseStatus status =
            parse_reply(in_.data() + in_begin_, in_end_ - in_begin_, reply, consumed);
        if (status == ParseStatus::kIncomplete) break;
        if (status == ParseStatus::kMalformed) {
            close_with_error(tick, "malformed reply from server");
            return;
        }
        in_begin_ += consumed;
        handle(reply);
    }
}

}  // namespace bench
