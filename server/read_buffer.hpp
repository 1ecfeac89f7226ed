#pragma once
// A client's query buffer: received bytes not yet consumed, kept contiguous so the parser can
// hand out views into it. Memory is held only while bytes are pending: an idle connection
// costs no buffer.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace backplane {

class ReadBuffer {
  public:
    static constexpr size_t read_chunk = 16 * 1024;  // Redis's PROTO_IOBUF_LEN
    // Bigger reads batch more messages per subscriber write, but past this the batch no longer
    // stays in cache while the kernel copies it once per subscriber: 16 KiB messages to 10
    // subscribers cost 2.1 us per delivery with 64 KiB reads, 2.4 with 128 KiB, 3.0 with 512 KiB.
    static constexpr size_t max_read = 64 * 1024;

    std::string_view pending() const { return {data_.get() + begin_, end_ - begin_}; }
    size_t size() const { return end_ - begin_; }
    size_t capacity() const { return capacity_; }

    /// Space after the pending bytes for the next read: read_chunk, or more for a client whose
    /// reads keep filling what they are given. A publisher pipelining 16 KiB messages would
    /// otherwise be read one message per read, and each message then written to every
    /// subscriber on its own, where a bigger read delivers a batch in one write per subscriber.
    std::span<char> prepare() {
        if (capacity_ - end_ < read_size_) {
            const size_t pending_bytes = size();
            if (capacity_ - pending_bytes >= read_size_ && begin_ > 0) {
                std::memmove(data_.get(), data_.get() + begin_, pending_bytes);
            } else {
                size_t grown = capacity_ ? capacity_ * 2 : read_chunk;
                while (grown - pending_bytes < read_size_) grown *= 2;
                auto bigger = grown == read_chunk ? take_pooled_chunk()
                                                  : std::make_unique_for_overwrite<char[]>(grown);
                if (pending_bytes) std::memcpy(bigger.get(), data_.get() + begin_, pending_bytes);
                give_back(std::move(data_));
                data_ = std::move(bigger);
                capacity_ = grown;
            }
            begin_ = 0;
            end_ = pending_bytes;
        }
        return {data_.get() + end_, capacity_ - end_};
    }

    /// Records `received` bytes read into the space prepare() gave. A read that filled it
    /// doubles the next one (up to max_read); one that used less than a quarter halves it.
    void commit(size_t received) {
        const bool filled = received == capacity_ - end_;
        end_ += received;
        if (filled) {
            read_size_ = std::min(read_size_ * 2, max_read);
        } else if (received < read_size_ / 4) {
            read_size_ = std::max(read_size_ / 2, read_chunk);
        }
    }

    void consume(size_t used) {
        begin_ += used;
        if (begin_ == end_) begin_ = end_ = 0;
    }

    /// Gives the memory back when no bytes are pending.
    void release_if_empty() {
        if (begin_ == end_ && data_) {
            give_back(std::move(data_));
            capacity_ = begin_ = end_ = 0;
        }
    }

    ~ReadBuffer() { give_back(std::move(data_)); }
    ReadBuffer() = default;
    ReadBuffer(const ReadBuffer&) = delete;
    ReadBuffer& operator=(const ReadBuffer&) = delete;

  private:
    // Idle connections hold no buffer, so busy ones borrow a read_chunk-sized block per batch
    // of requests; a small per-thread pool saves the allocator round trip each time.
    static constexpr size_t max_pooled_chunks = 64;
    using Chunks = std::vector<std::unique_ptr<char[]>>;
    static Chunks& pool() {
        thread_local Chunks chunks;
        return chunks;
    }
    static std::unique_ptr<char[]> take_pooled_chunk() {
        Chunks& chunks = pool();
        if (chunks.empty()) return std::make_unique_for_overwrite<char[]>(read_chunk);
        auto chunk = std::move(chunks.back());
        chunks.pop_back();
        return chunk;
    }
    void give_back(std::unique_ptr<char[]> block) const {
        if (block && capacity_ == read_chunk && pool().size() < max_pooled_chunks)
            pool().push_back(std::move(block));
    }

    std::unique_ptr<char[]> data_;
    size_t capacity_ = 0;
    size_t begin_ = 0;
    size_t end_ = 0;
    size_t read_size_ = read_chunk;  // what prepare() makes room for
};

}  // namespace backplane
