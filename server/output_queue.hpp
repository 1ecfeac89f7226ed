#pragma once
// The bytes waiting to be written to one client: shared message frames and the client's own
// reply chunks, in order, counted in bytes so output-buffer limits can be enforced.

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

}  // namespace backplane
