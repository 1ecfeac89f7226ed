#pragma once
// An immutable, reference-counted block of encoded RESP bytes. A published message is encoded
// once into a Frame and the same Frame is queued on every subscriber, so fan-out costs one
// reference per subscriber instead of one copy.

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <string_view>
#include <utility>

namespace backplane::protocol {

class FrameRef;

class Frame {
  public:
    /// A frame of `size` uninitialised bytes, to be filled through data() before sharing.
    static FrameRef allocate(size_t size);
    /// A frame holding a copy of `bytes`.
    static FrameRef copy_of(std::string_view bytes);

    char* data() { return reinterpret_cast<char*>(this + 1); }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
    size_t size() const { return size_; }
    std::string_view view() const { return {data(), size_}; }

  private:
    friend class FrameRef;
    explicit Frame(size_t size) : size_(size) {}

    std::atomic<size_t> refs_{1};
    size_t size_;
};

/// Owning handle to a Frame; copying adds a reference, the last one frees the block.
class FrameRef {
  public:
    FrameRef() = default;
    FrameRef(const FrameRef& other) : frame_(other.frame_) {
        if (frame_) frame_->refs_.fetch_add(1, std::memory_order_relaxed);
    }
    FrameRef(FrameRef&& other) noexcept : frame_(std::exchange(other.frame_, nullptr)) {}
    FrameRef& operator=(FrameRef other) noexcept {
        std::swap(frame_, other.frame_);
        return *this;
    }
    ~FrameRef() {
        if (frame_ && frame_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            frame_->~Frame();
            std::free(frame_);
        }
    }

    Frame* operator->() const { return frame_; }
    Frame& operator*() const { return *frame_; }
    explicit operator bool() const { return frame_ != nullptr; }

  private:
    friend class Frame;
    explicit FrameRef(Frame* frame) : frame_(frame) {}
    Frame* frame_ = nullptr;
};

inline FrameRef Frame::allocate(size_t size) {
    void* memory = std::malloc(sizeof(Frame) + size);
    if (!memory) throw std::bad_alloc();
    return FrameRef(new (memory) Frame(size));
}

inline FrameRef Frame::copy_of(std::string_view bytes) {
    FrameRef frame = allocate(bytes.size());
    if (!bytes.empty()) __builtin_memcpy(frame->data(), bytes.data(), bytes.size());
    return frame;
}

}  // namespace backplane::protocol
