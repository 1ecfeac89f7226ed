// OutputQueue: gather/consume across frame boundaries, byte and frame accounting, shared frames,
// compaction of the frame array after many frames, and clear().

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "heap_usage.hpp"
#include "protocol/frame.hpp"
#include "server/output_queue.hpp"

using backplane::OutputQueue;
using backplane::QueuedWrite;
using backplane::protocol::Frame;
using backplane::protocol::FrameRef;

namespace {

/// Everything gather() returns with room for `max` buffers, concatenated.
std::string gathered(const OutputQueue& queue, size_t max = 64) {
    std::vector<iovec> iov(max + 1);
    const size_t count = queue.gather(iov.data(), max);
    std::string out;
    if (count > max) return "<gather returned " + std::to_string(count) + " buffers>";
    for (size_t i = 0; i < count; ++i)
        out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
}

/// The buffers gather() returns, each as a string.
std::vector<std::string> buffers(const OutputQueue& queue, size_t max = 64) {
    std::vector<iovec> iov(max + 1);
    const size_t count = queue.gather(iov.data(), max);
    std::vector<std::string> out;
    for (size_t i = 0; i < count && i <= max; ++i)
        out.emplace_back(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
}

/// A connected pair of local stream sockets, closed on destruction.
struct SocketPair {
    int fds[2] = {-1, -1};
    SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0); }
    ~SocketPair() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    SocketPair(const SocketPair&) = delete;
    SocketPair& operator=(const SocketPair&) = delete;

    /// Exactly `size` bytes read from the second socket.
    std::string read(size_t size) const {
        std::string out(size, '\0');
        size_t got = 0;
        while (got < size) {
            const ssize_t n = ::read(fds[1], out.data() + got, size - got);
            REQUIRE(n > 0);
            got += static_cast<size_t>(n);
        }
        return out;
    }
};

/// Writes one QueuedWrite of `queue` through a socket pair and consumes what was written; the
/// bytes must be the queue's next ones and `expected_buffers` the buffers handed to the kernel.
void check_queued_write(OutputQueue& queue, size_t expected_buffers) {
    const std::string expected = gathered(queue, QueuedWrite::max_buffers);
    const QueuedWrite write(queue);
    CHECK(write.buffers() == expected_buffers);
    SocketPair pair;
    const ssize_t written = write.send(pair.fds[0], MSG_NOSIGNAL);
    REQUIRE(written == static_cast<ssize_t>(expected.size()));
    CHECK(pair.read(expected.size()) == expected);
    queue.consume(static_cast<size_t>(written));
}

}  // namespace

TEST_CASE("output_queue: an empty queue") {
    OutputQueue queue;
    CHECK(queue.empty());
    CHECK(queue.bytes() == 0);
    CHECK(queue.frames() == 0);
    iovec iov[4];
    CHECK(queue.gather(iov, 4) == 0);
    queue.consume(0);
    CHECK(queue.empty());
    queue.clear();
    CHECK(queue.empty());
}

TEST_CASE("output_queue: push, gather and consume across frame boundaries") {
    OutputQueue queue;
    queue.push(Frame::copy_of("abc"));
    queue.push(Frame::copy_of("defgh"));
    queue.push(Frame::copy_of("ij"));
    CHECK_FALSE(queue.empty());
    CHECK(queue.bytes() == 10);
    CHECK(queue.frames() == 3);
    CHECK(buffers(queue) == std::vector<std::string>{"abc", "defgh", "ij"});
    CHECK(buffers(queue, 2) == std::vector<std::string>{"abc", "defgh"});
    CHECK(buffers(queue, 1) == std::vector<std::string>{"abc"});
    CHECK(buffers(queue, 0).empty());

    queue.consume(0);  // nothing written
    CHECK(queue.bytes() == 10);
    CHECK(queue.frames() == 3);
    CHECK(gathered(queue) == "abcdefghij");

    queue.consume(2);  // inside the first frame
    CHECK(queue.bytes() == 8);
    CHECK(queue.frames() == 3);
    CHECK(buffers(queue) == std::vector<std::string>{"c", "defgh", "ij"});
    CHECK(buffers(queue, 1) == std::vector<std::string>{"c"});

    queue.consume(1);  // exactly to the end of the first frame
    CHECK(queue.bytes() == 7);
    CHECK(queue.frames() == 2);
    CHECK(buffers(queue) == std::vector<std::string>{"defgh", "ij"});

    queue.consume(6);  // the whole second frame and one byte of the third
    CHECK(queue.bytes() == 1);
    CHECK(queue.frames() == 1);
    CHECK(buffers(queue) == std::vector<std::string>{"j"});

    queue.push(Frame::copy_of("klm"));  // pushing behind a partly written frame
    CHECK(queue.bytes() == 4);
    CHECK(queue.frames() == 2);
    CHECK(buffers(queue) == std::vector<std::string>{"j", "klm"});

    queue.consume(4);  // everything
    CHECK(queue.empty());
    CHECK(queue.bytes() == 0);
    CHECK(queue.frames() == 0);
    CHECK(buffers(queue).empty());

    // The queue works again after draining.
    queue.push(Frame::copy_of("xyz"));
    CHECK(queue.bytes() == 3);
    CHECK(queue.frames() == 1);
    CHECK(gathered(queue) == "xyz");
    queue.consume(3);
    CHECK(queue.empty());
}

TEST_CASE("output_queue: consuming several whole frames at once") {
    OutputQueue queue;
    for (const char* part : {"one", "two", "three", "four", "five"})
        queue.push(Frame::copy_of(part));
    CHECK(queue.bytes() == 19);
    CHECK(queue.frames() == 5);
    queue.consume(11);  // one two three
    CHECK(queue.bytes() == 8);
    CHECK(queue.frames() == 2);
    CHECK(buffers(queue) == std::vector<std::string>{"four", "five"});
    queue.consume(5);  // four + 'f'
    CHECK(buffers(queue) == std::vector<std::string>{"ive"});
    CHECK(queue.bytes() == 3);
    CHECK(queue.frames() == 1);
}

// consume() of exactly what is queued takes a shortcut (the usual whole write): it must leave
// the same state as the frame-by-frame path, whatever was written of the first frame before.
TEST_CASE("output_queue: a write of everything left after a partial write") {
    OutputQueue queue;
    queue.push(Frame::copy_of("first"));
    queue.push(Frame::copy_of("second"));
    queue.consume(2);  // "fi"
    CHECK(gathered(queue) == "rstsecond");
    queue.consume(9);
    CHECK(queue.empty());
    CHECK(queue.bytes() == 0);
    CHECK(queue.frames() == 0);
    CHECK(gathered(queue).empty());
    queue.push(Frame::copy_of("third"));
    CHECK(queue.front() == "third");
    CHECK(buffers(queue) == std::vector<std::string>{"third"});
    queue.consume(5);
    CHECK(queue.empty());
}

TEST_CASE("output_queue: byte-by-byte consumption") {
    OutputQueue queue;
    const std::string all = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
    // Split into frames of sizes 1..7.
    size_t pos = 0;
    size_t frame_count = 0;
    for (size_t size = 1; pos < all.size(); ++size) {
        const size_t take = std::min(size % 7 + 1, all.size() - pos);
        queue.push(Frame::copy_of(std::string_view(all).substr(pos, take)));
        pos += take;
        ++frame_count;
    }
    CHECK(queue.frames() == frame_count);
    for (size_t written = 0; written < all.size(); ++written) {
        CAPTURE(written);
        CHECK(queue.bytes() == all.size() - written);
        CHECK(gathered(queue) == all.substr(written));
        queue.consume(1);
    }
    CHECK(queue.empty());
    CHECK(queue.frames() == 0);
}

TEST_CASE("output_queue: a shared frame stays alive while queued") {
    OutputQueue first;
    OutputQueue second;
    {
        FrameRef frame = Frame::copy_of("shared message");
        first.push(frame);
        first.push(frame);  // the same frame twice in one queue
        second.push(frame);
        // The local handle goes away here; the queues keep the frame.
    }
    CHECK(first.bytes() == 28);
    CHECK(first.frames() == 2);
    CHECK(buffers(first) == std::vector<std::string>{"shared message", "shared message"});
    std::vector<iovec> a(2);
    std::vector<iovec> b(1);
    REQUIRE(first.gather(a.data(), 2) == 2);
    REQUIRE(second.gather(b.data(), 1) == 1);
    CHECK(a[0].iov_base == a[1].iov_base);  // referenced, not copied
    CHECK(a[0].iov_base == b[0].iov_base);

    first.consume(21);  // first copy written, "shared " of the second
    CHECK(gathered(first) == "message");
    CHECK(gathered(second) == "shared message");
    first.clear();
    CHECK(first.empty());
    CHECK(gathered(second) == "shared message");
    second.consume(14);
    CHECK(second.empty());
}

TEST_CASE("output_queue: frames are released once written or cleared") {
    const long long before = heap_in_use();
    if (before < 0) {
        MESSAGE("heap usage cannot be measured in this build; skipping");
        return;
    }
    constexpr size_t big = 16u << 20;
    constexpr long long big_ll = static_cast<long long>(big);
    OutputQueue queue;
    {
        FrameRef frame = Frame::allocate(big);
        std::memset(frame->data(), 'q', big);
        queue.push(frame);
        queue.push(Frame::copy_of("tail"));
    }
    CHECK(heap_in_use() - before >= big_ll);
    queue.consume(big - 1);
    CHECK(heap_in_use() - before >= big_ll);  // one byte left: still held
    CHECK(gathered(queue) == "qtail");
    queue.consume(1);
    CHECK(heap_in_use() - before < big_ll / 2);  // fully written: released
    CHECK(gathered(queue) == "tail");

    queue.push(Frame::allocate(big));
    CHECK(heap_in_use() - before >= big_ll);
    queue.clear();
    CHECK(heap_in_use() - before < big_ll / 2);
    CHECK(queue.empty());
    CHECK(queue.bytes() == 0);
}

TEST_CASE("output_queue: clear() after a partial write") {
    OutputQueue queue;
    queue.push(Frame::copy_of("hello"));
    queue.push(Frame::copy_of("world"));
    queue.consume(3);
    queue.clear();
    CHECK(queue.empty());
    CHECK(queue.bytes() == 0);
    CHECK(queue.frames() == 0);
    CHECK(buffers(queue).empty());
    queue.push(Frame::copy_of("again"));
    CHECK(gathered(queue) == "again");  // no stale offset from the partial write
    CHECK(queue.bytes() == 5);
    CHECK(queue.frames() == 1);
}

TEST_CASE("output_queue: 5000 frames consumed progressively stay exact through compaction") {
    std::mt19937 rng(31337);
    for (int variant = 0; variant < 2; ++variant) {
        CAPTURE(variant);
        OutputQueue queue;
        std::string model;         // every byte pushed
        std::vector<size_t> ends;  // end offset of each frame in `model`
        size_t written = 0;        // bytes consumed
        auto push = [&](size_t i) {
            const std::string text = fmt::format("frame {}{}\r\n", i, std::string(i % 13, '.'));
            queue.push(Frame::copy_of(text));
            model += text;
            ends.push_back(model.size());
        };
        size_t pushed = 0;
        for (; pushed < 5000; ++pushed) push(pushed);
        CHECK(queue.frames() == 5000);
        CHECK(queue.bytes() == model.size());

        size_t steps = 0;
        while (written < model.size()) {
            // Variant 1 keeps pushing while it drains, so compaction happens with new frames
            // behind the head and a partly written head frame.
            if (variant == 1 && pushed < 9000 && steps % 3 == 0) {
                for (int k = 0; k < 2; ++k) push(pushed++);
            }
            const size_t left = model.size() - written;
            const size_t chunk =
                std::min<size_t>(left, std::uniform_int_distribution<size_t>(1, 120)(rng));
            queue.consume(chunk);
            written += chunk;
            ++steps;
            const size_t frames_left = static_cast<size_t>(
                ends.end() - std::upper_bound(ends.begin(), ends.end(), written));
            if (queue.bytes() != model.size() - written || queue.frames() != frames_left) {
                CAPTURE(steps);
                CHECK(queue.bytes() == model.size() - written);
                CHECK(queue.frames() == frames_left);
                break;
            }
            // gather with a small iovec limit: the buffers must be the next bytes, in order,
            // ending on frame boundaries.
            std::vector<iovec> iov(16);
            const size_t count = queue.gather(iov.data(), iov.size());
            CHECK(count == std::min<size_t>(16, frames_left));
            std::string got;
            for (size_t i = 0; i < count; ++i)
                got.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
            const size_t first_frame = static_cast<size_t>(
                std::upper_bound(ends.begin(), ends.end(), written) - ends.begin());
            const size_t expected_end = count == 0 ? written : ends[first_frame + count - 1];
            if (got != model.substr(written, expected_end - written)) {
                CAPTURE(steps);
                CHECK(got == model.substr(written, expected_end - written));
                break;
            }
        }
        CHECK(queue.empty());
        CHECK(queue.bytes() == 0);
        CHECK(queue.frames() == 0);
        CHECK(written == model.size());
        if (variant == 1) CHECK(pushed > 5000);
    }
}

TEST_CASE("output_queue: compaction after 1024 written frames keeps the queue exact") {
    // Write 1024 frames plus part of the next, then finish that frame: the array of 2000 frames
    // is compacted once at least 1024 (and half) of them are written.
    OutputQueue queue;
    std::string model;
    for (int i = 0; i < 2000; ++i) {
        const std::string text = fmt::format("<{}>", i);
        queue.push(Frame::copy_of(text));
        model += text;
    }
    size_t prefix = 0;
    for (int i = 0; i < 1024; ++i) prefix += fmt::format("<{}>", i).size();
    queue.consume(prefix + 2);  // 1024 frames and "<1" of "<1024>"
    CHECK(queue.frames() == 976);
    CHECK(queue.bytes() == model.size() - prefix - 2);
    CHECK(buffers(queue, 3) == std::vector<std::string>{"024>", "<1025>", "<1026>"});
    CHECK(gathered(queue, 2000) == model.substr(prefix + 2));
    queue.consume(4);  // ends on a frame boundary with 1025 of 2000 frames written
    CHECK(buffers(queue, 1) == std::vector<std::string>{"<1025>"});
    CHECK(queue.frames() == 975);
    // Push after compaction and drain everything.
    queue.push(Frame::copy_of("end"));
    CHECK(queue.frames() == 976);
    CHECK(gathered(queue, 2000) == model.substr(prefix + 6) + "end");
    queue.consume(queue.bytes());
    CHECK(queue.empty());
}

TEST_CASE("queued_write: short frames are staged into one buffer, in order") {
    OutputQueue queue;
    for (int i = 0; i < 16; ++i)
        queue.push(
            Frame::copy_of(fmt::format("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\n{:02}\r\n", i)));
    queue.consume(5);  // a partly written first frame is staged from where it stands
    check_queued_write(queue, 1);
    CHECK(queue.empty());
}

TEST_CASE("queued_write: one frame, long frames and a queue past the staging size go in place") {
    OutputQueue queue;
    queue.push(Frame::copy_of("+only\r\n"));
    check_queued_write(queue, 1);
    CHECK(queue.empty());

    const std::string long_frame(QueuedWrite::max_staged_average + 1, 'L');
    queue.push(Frame::copy_of(long_frame));
    queue.push(Frame::copy_of(long_frame));
    check_queued_write(queue, 2);  // average over the limit
    CHECK(queue.empty());

    queue.push(Frame::copy_of(std::string(QueuedWrite::max_staged_average, 'a')));
    queue.push(Frame::copy_of(std::string(QueuedWrite::max_staged_average, 'b')));
    check_queued_write(queue, 1);  // average exactly at the limit
    CHECK(queue.empty());

    const size_t frame_size = 100;
    const size_t count = QueuedWrite::staging_size / frame_size + 1;
    for (size_t i = 0; i < count; ++i) queue.push(Frame::copy_of(std::string(frame_size, 'x')));
    check_queued_write(queue, count);  // total over the staging size
    CHECK(queue.empty());
}

TEST_CASE("queued_write: at most max_buffers frames per write, the rest left queued") {
    OutputQueue queue;
    std::string model;
    for (size_t i = 0; i < QueuedWrite::max_buffers + 10; ++i) {
        const std::string text = fmt::format("{:0100}", i);  // 26 KB in all: written in place
        queue.push(Frame::copy_of(text));
        model += text;
    }
    check_queued_write(queue, QueuedWrite::max_buffers);
    CHECK(queue.frames() == 10);
    CHECK(gathered(queue) == model.substr(QueuedWrite::max_buffers * 100));
    check_queued_write(queue, 1);  // the last 10 frames are short enough to stage
    CHECK(queue.empty());
}
