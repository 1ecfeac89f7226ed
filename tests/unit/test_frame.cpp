// Frame / FrameRef: sizes, contents, reference counting and freeing.
// Freeing is checked by measuring heap usage around a large frame: under ASan or TSan through
// __sanitizer_get_current_allocated_bytes(), otherwise through glibc's mallinfo2(). A use after
// free or a leak is additionally caught by ASan/LSan when the suite runs sanitized.

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "heap_usage.hpp"
#include "protocol/frame.hpp"


using backplane::protocol::Frame;
using backplane::protocol::FrameRef;
using namespace std::string_view_literals;

namespace {


constexpr size_t big = 32u << 20;  // 32 MiB: far above any noise from other allocations
constexpr long long big_ll = static_cast<long long>(big);

}  // namespace

static_assert(std::is_nothrow_move_constructible_v<FrameRef>);
static_assert(std::is_copy_constructible_v<FrameRef>);
static_assert(!std::is_copy_constructible_v<Frame>);

TEST_CASE("frame: copy_of holds an exact copy") {
    const std::string source = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
    FrameRef frame = Frame::copy_of(source);
    REQUIRE(frame);
    CHECK(frame->size() == source.size());
    CHECK(frame->view() == source);
    CHECK(frame->view().size() == source.size());
    CHECK(frame->data() != source.data());
    CHECK(std::string_view(frame->data(), frame->size()) == source);
    CHECK((*frame).size() == source.size());

    // Binary bytes, including NUL, survive.
    const std::string_view binary = "a\0b\r\n\xff\0"sv;
    FrameRef copy = Frame::copy_of(binary);
    CHECK(copy->size() == 7);
    CHECK(copy->view() == binary);
}

TEST_CASE("frame: copy_of an empty string") {
    FrameRef frame = Frame::copy_of("");
    REQUIRE(frame);
    CHECK(frame->size() == 0);
    CHECK(frame->view().empty());
    FrameRef from_default = Frame::copy_of(std::string_view());
    REQUIRE(from_default);
    CHECK(from_default->size() == 0);
}

TEST_CASE("frame: allocate gives a writable block of the requested size") {
    for (size_t size : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4096},
                        size_t{100000}}) {
        CAPTURE(size);
        FrameRef frame = Frame::allocate(size);
        REQUIRE(frame);
        CHECK(frame->size() == size);
        // Fill every byte (ASan flags a write past the block) and read it back.
        for (size_t i = 0; i < size; ++i) frame->data()[i] = static_cast<char>('a' + i % 26);
        const std::string_view view = frame->view();
        CHECK(view.size() == size);
        bool all_match = true;
        for (size_t i = 0; i < size; ++i) all_match &= view[i] == static_cast<char>('a' + i % 26);
        CHECK(all_match);
        CHECK(view.data() == frame->data());
    }
}

TEST_CASE("frame: data is suitably aligned for the header and separate frames do not overlap") {
    FrameRef a = Frame::copy_of("aaaa");
    FrameRef b = Frame::copy_of("bbbb");
    CHECK(a->data() != b->data());
    CHECK(a->view() == "aaaa");
    CHECK(b->view() == "bbbb");
    CHECK(reinterpret_cast<uintptr_t>(&*a) % alignof(Frame) == 0);
}

TEST_CASE("frame: default, moved-from and copied handles") {
    FrameRef empty;
    CHECK_FALSE(empty);
    FrameRef empty_copy = empty;
    CHECK_FALSE(empty_copy);

    FrameRef original = Frame::copy_of("payload");
    Frame* const block = &*original;
    FrameRef copy = original;
    CHECK(copy);
    CHECK(&*copy == block);  // a copy shares the block, it does not duplicate it
    CHECK(copy->view() == "payload");

    FrameRef moved = std::move(original);
    CHECK_FALSE(original);  // NOLINT(bugprone-use-after-move): moved-from state is documented
    CHECK(moved);
    CHECK(&*moved == block);

    FrameRef assigned;
    assigned = copy;
    CHECK(&*assigned == block);
    assigned = FrameRef();
    CHECK_FALSE(assigned);
    CHECK(copy->view() == "payload");

    // Self-assignment keeps the frame.
    FrameRef& alias = copy;
    copy = alias;
    REQUIRE(copy);
    CHECK(copy->view() == "payload");
}

TEST_CASE("frame: copies keep the data alive after the original handle is gone") {
    std::vector<FrameRef> queue;
    {
        FrameRef frame = Frame::copy_of("fan-out message");
        for (int i = 0; i < 100; ++i) queue.push_back(frame);
    }
    // The creating handle is destroyed; every queued reference still reads the bytes.
    for (const FrameRef& ref : queue) CHECK(ref->view() == "fan-out message");
    // Drop them one by one from the front; the rest stay readable (ASan would flag a premature
    // free as heap-use-after-free).
    while (!queue.empty()) {
        queue.erase(queue.begin());
        if (!queue.empty()) CHECK(queue.back()->view() == "fan-out message");
    }
}

TEST_CASE("frame: the block is freed when the last reference goes, not before") {
    const long long before = heap_in_use();
    if (before < 0) {
        MESSAGE("heap usage cannot be measured in this build; skipping");
        return;
    }
    FrameRef* first = new FrameRef(Frame::allocate(big));
    std::memset((*first)->data(), 'x', big);
    const long long with_frame = heap_in_use();
    CHECK(with_frame - before >= big_ll);

    FrameRef* second = new FrameRef(*first);
    FrameRef third;
    third = *second;
    CHECK(heap_in_use() - before >= big_ll);  // copies share the block, no new allocation
    CHECK(heap_in_use() - with_frame < big_ll / 2);

    delete first;
    CHECK(heap_in_use() - before >= big_ll);  // still referenced
    CHECK(third->data()[big - 1] == 'x');
    delete second;
    CHECK(heap_in_use() - before >= big_ll);
    CHECK(third->data()[0] == 'x');

    third = FrameRef();  // last reference
    CHECK(heap_in_use() - before < big_ll / 2);
}

TEST_CASE("frame: moving does not free and does not copy") {
    const long long before = heap_in_use();
    if (before < 0) {
        MESSAGE("heap usage cannot be measured in this build; skipping");
        return;
    }
    {
        FrameRef frame = Frame::allocate(big);
        FrameRef moved(std::move(frame));
        FrameRef assigned;
        assigned = std::move(moved);
        CHECK(heap_in_use() - before >= big_ll);
        CHECK(heap_in_use() - before < 2 * big_ll);
        CHECK(assigned->size() == big);
    }
    CHECK(heap_in_use() - before < big_ll / 2);
}

TEST_CASE("frame: references copied and dropped on several threads") {
    const long long before = heap_in_use();
    FrameRef frame = Frame::allocate(big);
    std::memset(frame->data(), 'q', big);
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([shared = frame] {
                for (int i = 0; i < 20000; ++i) {
                    FrameRef local = shared;
                    FrameRef other = local;
                    if (other->data()[i % big] != 'q') std::abort();
                }
            });
        }
        for (auto& thread : threads) thread.join();
    }
    CHECK(frame->size() == big);
    CHECK(frame->data()[big - 1] == 'q');
    frame = FrameRef();
    if (before >= 0) CHECK(heap_in_use() - before < big_ll / 2);
}
