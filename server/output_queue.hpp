#pragma once
// The bytes waiting to be written to one client: shared message frames and the client's own
// reply chunks, in order, counted in bytes so output-buffer limits can be enforced.

#include <sys/uio.h>

#include <cstddef>
#include <string_view>
#include <vector>

#include "protocol/frame.hpp"

namespace backplane {

class OutputQueue {
  public:
    /// Appends a frame; shared frames are referenced, not copied.
    void push(protocol::FrameRef frame);

    /// The unwritten bytes of the first frame.
    std::string_view front() const { return frames_[head_]->view().substr(head_offset_); }
    /// Fills `iov` with up to `max` buffers covering the queued bytes, front first.
    size_t gather(iovec* iov, size_t max) const;
    /// Drops `written` bytes from the front, releasing frames that are fully written.
    void consume(size_t written);
    /// Drops everything.
    void clear();

    bool empty() const { return frames_.size() == head_; }
    /// Bytes queued and not yet written.
    size_t bytes() const { return bytes_; }
    /// Frames queued and not yet fully written (CLIENT LIST's oll).
    size_t frames() const { return frames_.size() - head_; }

  private:
    std::vector<protocol::FrameRef> frames_;
    size_t head_ = 0;         // first frame not fully written
    size_t head_offset_ = 0;  // bytes of frames_[head_] already written
    size_t bytes_ = 0;
};

}  // namespace backplane
