// ReadBuffer: pending bytes stay contiguous across reads, the read size grows for a client whose
// reads fill the space they are given and shrinks back when they stop, and an idle buffer holds
// no memory.

#include <doctest/doctest.h>

#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "server/read_buffer.hpp"

namespace {

using backplane::ReadBuffer;

/// Copies up to `bytes` of `source` into the space prepare() gives, as a read would.
size_t read_from(ReadBuffer& buffer, std::string_view source, size_t bytes) {
    const std::span<char> space = buffer.prepare();
    const size_t received = std::min({bytes, source.size(), space.size()});
    std::memcpy(space.data(), source.data(), received);
    buffer.commit(received);
    return received;
}

}  // namespace

TEST_CASE("pending bytes stay contiguous when a partial request is carried over") {
    ReadBuffer buffer;
    read_from(buffer, "*1\r\n$4\r\nPI", 100);
    buffer.consume(4);
    read_from(buffer, "NG\r\n", 100);
    CHECK(buffer.pending() == "$4\r\nPING\r\n");
    buffer.consume(buffer.size());
    CHECK(buffer.size() == 0);
}

TEST_CASE("reads that fill the space double it up to max_read, short reads halve it") {
    ReadBuffer buffer;
    const std::string flood(4 * ReadBuffer::max_read, 'x');
    CHECK(buffer.prepare().size() == ReadBuffer::read_chunk);
    size_t offered = 0;
    for (int read = 0; read < 12; ++read) {
        offered = buffer.prepare().size();
        CHECK(read_from(buffer, flood, flood.size()) == offered);
        buffer.consume(buffer.size());
    }
    CHECK(offered == ReadBuffer::max_read);

    for (int read = 0; read < 12; ++read) {
        read_from(buffer, "PING\r\n", 6);
        buffer.consume(buffer.size());
        buffer.release_if_empty();
    }
    CHECK(buffer.prepare().size() == ReadBuffer::read_chunk);
}

TEST_CASE("a grown read keeps the partial request in front of the new bytes") {
    ReadBuffer buffer;
    const std::string first(ReadBuffer::read_chunk, 'a');
    read_from(buffer, first, first.size());
    buffer.consume(10);
    const std::span<char> space = buffer.prepare();
    CHECK(space.size() >= 2 * ReadBuffer::read_chunk);
    CHECK(buffer.pending() == std::string(ReadBuffer::read_chunk - 10, 'a'));
}

TEST_CASE("an emptied buffer releases its memory") {
    ReadBuffer buffer;
    read_from(buffer, "PING\r\n", 6);
    CHECK(buffer.capacity() == ReadBuffer::read_chunk);
    buffer.release_if_empty();
    CHECK(buffer.capacity() == ReadBuffer::read_chunk);  // a pending request keeps it
    buffer.consume(6);
    buffer.release_if_empty();
    CHECK(buffer.capacity() == 0);
}
