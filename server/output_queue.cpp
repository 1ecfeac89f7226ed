#include "server/output_queue.hpp"

#include <array>
#include <cstring>
#include <utility>

namespace backplane {

size_t OutputQueue::gather(iovec* iov, size_t max) const {
    size_t count = 0;
    for (size_t i = head_; i < frames_.size() && count < max; ++i, ++count) {
        const size_t skip = i == head_ ? head_offset_ : 0;
        iov[count].iov_base = const_cast<char*>(frames_[i]->data() + skip);
        iov[count].iov_len = frames_[i]->size() - skip;
    }
    return count;
}

void OutputQueue::consume_part(size_t written) {
    bytes_ -= written;
    while (written > 0) {
        const size_t left = frames_[head_]->size() - head_offset_;
        if (written < left) {
            head_offset_ += written;
            return;
        }
        written -= left;
        frames_[head_] = protocol::FrameRef();
        ++head_;
        head_offset_ = 0;
    }
    if (empty()) {
        clear();
    } else if (head_ >= 1024 && head_ * 2 >= frames_.size()) {
        frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

void OutputQueue::release_capacity() { frames_.shrink_to_fit(); }

void QueuedWrite::take_several(const OutputQueue& queue) {
    count_ = queue.gather(buffers_, max_buffers);
    if (count_ < 2) return;
    size_t total = 0;
    for (size_t i = 0; i < count_; ++i) total += buffers_[i].iov_len;
    if (total > staging_size || total > count_ * max_staged_average) return;
    thread_local std::array<char, staging_size> staging;
    size_t used = 0;
    for (size_t i = 0; i < count_; ++i) {
        std::memcpy(staging.data() + used, buffers_[i].iov_base, buffers_[i].iov_len);
        used += buffers_[i].iov_len;
    }
    buffers_[0] = {staging.data(), used};
    count_ = 1;
}

ssize_t QueuedWrite::send_gathered(int fd, int flags) const {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(buffers_);
    message.msg_iovlen = count_;
    return ::sendmsg(fd, &message, flags);
}

}  // namespace backplane
