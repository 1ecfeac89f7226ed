#pragma once
// The bytes waiting to be written to one client: shared message frames and the client's own
// reply chunks, in order, counted in bytes so output-buffer limits can be enforced.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/frame.hpp"

namespace backplane {

class OutputQueue {
  public:
    /// Appends a frame; shared frames are referenced, not copied.
    void push(const protocol::FrameRef& frame) {
        bytes_ += frame->size();
        frames_.push_back(frame);
    }
    void push(protocol::FrameRef&& frame) {
        bytes_ += frame->size();
        frames_.push_back(std::move(frame));
    }

    /// The unwritten bytes of the first frame.
    std::string_view front() const {
        const protocol::Frame& frame = *frames_[head_];
        return {frame.data() + head_offset_, frame.size() - head_offset_};
    }
    /// Fills `iov` with up to `max` buffers covering the queued bytes, front first.
    size_t gather(iovec* iov, size_t max) const;
    /// Drops `written` bytes from the front, releasing frames that are fully written.
    // Inline because a write nearly always takes the whole queue, often a single message: that
    // case is one comparison and a clear(), not a walk over the frames.
    void consume(size_t written) {
        if (written == bytes_) {
            clear();
        } else {
            consume_part(written);
        }
    }
    /// Drops everything.
    void clear() {
        frames_.clear();
        head_ = 0;
        head_offset_ = 0;
        bytes_ = 0;
        if (frames_.capacity() > max_kept_capacity) release_capacity();
    }

    bool empty() const { return frames_.size() == head_; }
    /// Bytes queued and not yet written.
    size_t bytes() const { return bytes_; }
    /// Frames queued and not yet fully written (CLIENT LIST's oll).
    size_t frames() const { return frames_.size() - head_; }

  private:
    /// A burst can grow the queue's array; past this many slots it is freed once drained.
    static constexpr size_t max_kept_capacity = 64;

    /// consume() of less than everything queued.
    void consume_part(size_t written);
    void release_capacity();

    std::vector<protocol::FrameRef> frames_;
    size_t head_ = 0;         // first frame not fully written
    size_t head_offset_ = 0;  // bytes of frames_[head_] already written
    size_t bytes_ = 0;
};

/// One write's worth of a queue's bytes, taken in order from its front. Short frames are copied
/// into one per-thread buffer and sent with send(); long ones are handed to sendmsg() in place.
/// Copying is the cheaper way for short frames: on loopback TCP, 16 frames of 80 B cost the
/// sender's kernel about 1,070 ns as 16 iovecs and 780 ns copied into one buffer, copy included.
class QueuedWrite {
  public:
    /// A staged copy never exceeds this; a queue holding more is written in place.
    static constexpr size_t staging_size = 16 * 1024;
    /// Frames are staged only while their average size is at most this.
    static constexpr size_t max_staged_average = 1024;
    static constexpr size_t max_buffers = 256;

    /// Takes up to max_buffers frames of `queue`; the queue must not change until send().
    /// A staged copy is the calling thread's: that thread calls send(), before it makes
    /// another QueuedWrite.
    explicit QueuedWrite(const OutputQueue& queue) {
        // Inline, because one frame is the common case (a message, or a batch's replies).
        if (queue.frames() == 1) {
            const std::string_view bytes = queue.front();
            buffers_[0] = {const_cast<char*>(bytes.data()), bytes.size()};
            count_ = 1;
        } else {
            take_several(queue);
        }
    }

    /// Writes the bytes taken to `fd` with `flags` (MSG_*): what send()/sendmsg() return.
    ssize_t send(int fd, int flags) const {
        if (count_ == 1) return ::send(fd, buffers_[0].iov_base, buffers_[0].iov_len, flags);
        return send_gathered(fd, flags);
    }
    /// How many buffers send() hands the kernel: 1 when the frames were staged.
    size_t buffers() const { return count_; }

  private:
    void take_several(const OutputQueue& queue);
    ssize_t send_gathered(int fd, int flags) const;

    iovec buffers_[max_buffers];
    size_t count_ = 0;
};

}  // namespace backplane
