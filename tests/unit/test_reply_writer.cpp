// ReplyWriter: the exact bytes of every reply type in RESP2 and RESP3, and agreement between the
// streaming helpers (write_bulk, write_header, bulk_size, header_size) and ReplyWriter::bulk().

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/reply_writer.hpp"

using backplane::protocol::header_size;
using backplane::protocol::ReplyWriter;
using backplane::protocol::RespVersion;
using backplane::protocol::write_bulk;
using backplane::protocol::write_header;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

/// Runs `body` on a fresh writer of `version` and returns what it appended.
template <typename Body>
std::string encode(RespVersion version, Body body) {
    std::string out;
    ReplyWriter writer(out, version);
    body(writer);
    return out;
}

template <typename Body>
std::string resp2(Body body) {
    return encode(RespVersion::resp2, body);
}

template <typename Body>
std::string resp3(Body body) {
    return encode(RespVersion::resp3, body);
}

/// What ReplyWriter::bulk() appends for `value` (version independent).
std::string bulk_of(std::string_view value) {
    return resp2([&](ReplyWriter& w) { w.bulk(value); });
}

}  // namespace

TEST_CASE("reply_writer: version()") {
    std::string out;
    CHECK(ReplyWriter(out, RespVersion::resp2).version() == RespVersion::resp2);
    CHECK(ReplyWriter(out, RespVersion::resp3).version() == RespVersion::resp3);
    CHECK(static_cast<int>(RespVersion::resp2) == 2);
    CHECK(static_cast<int>(RespVersion::resp3) == 3);
}

TEST_CASE("reply_writer: simple strings") {
    for (RespVersion v : {RespVersion::resp2, RespVersion::resp3}) {
        CAPTURE(static_cast<int>(v));
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("OK"); }) == "+OK\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("PONG"); }) == "+PONG\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.simple(""); }) == "+\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("RESET"); }) == "+RESET\r\n");
    }
}

TEST_CASE("reply_writer: CR and LF in simple strings and errors become spaces") {
    for (RespVersion v : {RespVersion::resp2, RespVersion::resp3}) {
        CAPTURE(static_cast<int>(v));
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("a\r\nb"); }) == "+a  b\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("\r\n+OK\r\n"); }) == "+  +OK  \r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("\n"); }) == "+ \r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("\r"); }) == "+ \r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.error("ERR unknown command 'FOO\r\n+OK\r\nX'"); }) ==
              "-ERR unknown command 'FOO  +OK  X'\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.error("ERR a\nb\rc"); }) == "-ERR a b c\r\n");
        // Other control bytes (and NUL) are left alone; only CR and LF could break framing.
        CHECK(encode(v, [](ReplyWriter& w) { w.simple("a\tb\0c"sv); }) == "+a\tb\0c\r\n"s);
    }
}

TEST_CASE("reply_writer: sanitising does not touch bytes written earlier") {
    std::string out = "$4\r\nab\r\n\r\n";
    ReplyWriter writer(out, RespVersion::resp2);
    writer.simple("x\ny");
    writer.error("ERR \r");
    CHECK(out == "$4\r\nab\r\n\r\n+x y\r\n-ERR  \r\n");
}

TEST_CASE("reply_writer: errors") {
    for (RespVersion v : {RespVersion::resp2, RespVersion::resp3}) {
        CAPTURE(static_cast<int>(v));
        CHECK(encode(v, [](ReplyWriter& w) { w.error("ERR Protocol error: invalid multibulk length"); }) ==
              "-ERR Protocol error: invalid multibulk length\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.error("NOAUTH Authentication required."); }) ==
              "-NOAUTH Authentication required.\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.error(""); }) == "-\r\n");
    }
}

TEST_CASE("reply_writer: integers") {
    for (RespVersion v : {RespVersion::resp2, RespVersion::resp3}) {
        CAPTURE(static_cast<int>(v));
        CHECK(encode(v, [](ReplyWriter& w) { w.integer(0); }) == ":0\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.integer(1); }) == ":1\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.integer(-1); }) == ":-1\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.integer(42); }) == ":42\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.integer(1000000); }) == ":1000000\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::max()); }) ==
              ":9223372036854775807\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::min()); }) ==
              ":-9223372036854775808\r\n");
    }
}

TEST_CASE("reply_writer: bulk strings are binary safe") {
    for (RespVersion v : {RespVersion::resp2, RespVersion::resp3}) {
        CAPTURE(static_cast<int>(v));
        CHECK(encode(v, [](ReplyWriter& w) { w.bulk("hello"); }) == "$5\r\nhello\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.bulk(""); }) == "$0\r\n\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.bulk("a\0b"sv); }) == "$3\r\na\0b\r\n"s);
        CHECK(encode(v, [](ReplyWriter& w) { w.bulk("\r\n"); }) == "$2\r\n\r\n\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.bulk(std::string(10, 'z')); }) ==
              "$10\r\n" + std::string(10, 'z') + "\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.bulk(std::string(12345, 'q')); }) ==
              "$12345\r\n" + std::string(12345, 'q') + "\r\n");
    }
}

TEST_CASE("reply_writer: null and null array") {
    CHECK(resp2([](ReplyWriter& w) { w.null(); }) == "$-1\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.null(); }) == "_\r\n");
    CHECK(resp2([](ReplyWriter& w) { w.null_array(); }) == "*-1\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.null_array(); }) == "_\r\n");
}

TEST_CASE("reply_writer: arrays") {
    for (RespVersion v : {RespVersion::resp2, RespVersion::resp3}) {
        CAPTURE(static_cast<int>(v));
        CHECK(encode(v, [](ReplyWriter& w) { w.array(0); }) == "*0\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.array(3); }) == "*3\r\n");
        CHECK(encode(v, [](ReplyWriter& w) { w.array(1234567); }) == "*1234567\r\n");
    }
}

TEST_CASE("reply_writer: maps are flat arrays of 2n in RESP2") {
    CHECK(resp2([](ReplyWriter& w) { w.map(0); }) == "*0\r\n");
    CHECK(resp2([](ReplyWriter& w) { w.map(2); }) == "*4\r\n");
    CHECK(resp2([](ReplyWriter& w) { w.map(7); }) == "*14\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.map(0); }) == "%0\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.map(2); }) == "%2\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.map(7); }) == "%7\r\n");
}

TEST_CASE("reply_writer: sets and pushes") {
    CHECK(resp2([](ReplyWriter& w) { w.set(0); }) == "*0\r\n");
    CHECK(resp2([](ReplyWriter& w) { w.set(2); }) == "*2\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.set(0); }) == "~0\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.set(2); }) == "~2\r\n");
    CHECK(resp2([](ReplyWriter& w) { w.push(3); }) == "*3\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.push(3); }) == ">3\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.push(10); }) == ">10\r\n");
}

TEST_CASE("reply_writer: verbatim strings") {
    CHECK(resp3([](ReplyWriter& w) { w.verbatim("hello world"); }) == "=15\r\ntxt:hello world\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.verbatim(""); }) == "=4\r\ntxt:\r\n");
    CHECK(resp3([](ReplyWriter& w) { w.verbatim("a\r\nb"); }) == "=8\r\ntxt:a\r\nb\r\n");
    CHECK(resp2([](ReplyWriter& w) { w.verbatim("hello world"); }) == "$11\r\nhello world\r\n");
    CHECK(resp2([](ReplyWriter& w) { w.verbatim(""); }) == "$0\r\n\r\n");
}

TEST_CASE("reply_writer: a subscribe confirmation and a pushed message") {
    // What SUBSCRIBE ch and a later PUBLISH ch hello put on the wire.
    const auto reply = [](ReplyWriter& w) {
        w.push(3);
        w.bulk("subscribe");
        w.bulk("ch");
        w.integer(1);
        w.push(3);
        w.bulk("message");
        w.bulk("ch");
        w.bulk("hello");
    };
    CHECK(resp2(reply) ==
          "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    CHECK(resp3(reply) ==
          ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
}

TEST_CASE("reply_writer: appends to existing content") {
    std::string out = "existing";
    ReplyWriter writer(out, RespVersion::resp3);
    writer.simple("OK");
    writer.null();
    writer.map(1);
    writer.bulk("k");
    writer.integer(-5);
    CHECK(out == "existing+OK\r\n_\r\n%1\r\n$1\r\nk\r\n:-5\r\n");
}

TEST_CASE("reply_writer: header_size and write_header") {
    struct Row {
        size_t count;
        const char* text;
    };
    const Row rows[] = {
        {0, "0"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {123456789, "123456789"},
        {std::numeric_limits<uint32_t>::max(), "4294967295"},
        {static_cast<size_t>(std::numeric_limits<int64_t>::max()), "9223372036854775807"},
        {std::numeric_limits<size_t>::max(), "18446744073709551615"},
    };
    for (const Row& row : rows) {
        for (char type : {'*', '$', '>', '%', '~'}) {
            CAPTURE(row.count);
            CAPTURE(type);
            const std::string expected = type + std::string(row.text) + "\r\n";
            CHECK(header_size(row.count) == expected.size());
            // Exactly header_size() bytes: ASan flags any write past them.
            auto buffer = std::make_unique<char[]>(header_size(row.count));
            char* end = write_header(buffer.get(), type, row.count);
            REQUIRE(end == buffer.get() + expected.size());
            CHECK(std::string_view(buffer.get(), expected.size()) == expected);
        }
    }
}

TEST_CASE("reply_writer: write_header agrees with the ReplyWriter headers") {
    for (size_t count : {size_t{0}, size_t{1}, size_t{10}, size_t{65536}, size_t{2147483647}}) {
        CAPTURE(count);
        char buffer[32];
        CHECK(std::string_view(buffer, write_header(buffer, '*', count) - buffer) ==
              resp2([&](ReplyWriter& w) { w.array(count); }));
        CHECK(std::string_view(buffer, write_header(buffer, '>', count) - buffer) ==
              resp3([&](ReplyWriter& w) { w.push(count); }));
        CHECK(std::string_view(buffer, write_header(buffer, '~', count) - buffer) ==
              resp3([&](ReplyWriter& w) { w.set(count); }));
        CHECK(std::string_view(buffer, write_header(buffer, '%', count) - buffer) ==
              resp3([&](ReplyWriter& w) { w.map(count); }));
    }
}

TEST_CASE("reply_writer: bulk_size and write_bulk agree with bulk()") {
    for (size_t length : {size_t{0}, size_t{1}, size_t{2}, size_t{9}, size_t{10}, size_t{11},
                          size_t{99}, size_t{100}, size_t{999}, size_t{1000}, size_t{9999},
                          size_t{10000}, size_t{65535}, size_t{65536}, size_t{100000}}) {
        CAPTURE(length);
        std::string value(length, '\0');
        for (size_t i = 0; i < length; ++i) value[i] = static_cast<char>(i * 31 + 7);  // binary
        const std::string expected = bulk_of(value);
        CHECK(ReplyWriter::bulk_size(length) == expected.size());
        CHECK(expected.size() == 1 + std::to_string(length).size() + 2 + length + 2);

        auto buffer = std::make_unique<char[]>(ReplyWriter::bulk_size(length));
        char* end = write_bulk(buffer.get(), value);
        REQUIRE(end == buffer.get() + ReplyWriter::bulk_size(length));
        CHECK(std::string_view(buffer.get(), expected.size()) == expected);
    }
}

TEST_CASE("reply_writer: write_bulk calls can be chained into one frame") {
    const std::string_view parts[] = {"message", "ch", "", "a\0b"sv};
    size_t total = header_size(4);
    for (auto part : parts) total += ReplyWriter::bulk_size(part.size());
    auto buffer = std::make_unique<char[]>(total);
    char* p = write_header(buffer.get(), '*', 4);
    for (auto part : parts) p = write_bulk(p, part);
    REQUIRE(p == buffer.get() + total);
    CHECK(std::string_view(buffer.get(), total) ==
          "*4\r\n$7\r\nmessage\r\n$2\r\nch\r\n$0\r\n\r\n$3\r\na\0b\r\n"sv);
}

TEST_CASE("reply_writer: doubles as Redis's %.17g") {
    CHECK(encode(RespVersion::resp2, [](ReplyWriter& w) { w.double_value(0.351); }) ==
          "$19\r\n0.35099999999999998\r\n");
    CHECK(encode(RespVersion::resp3, [](ReplyWriter& w) { w.double_value(0.351); }) ==
          ",0.35099999999999998\r\n");
    CHECK(encode(RespVersion::resp3, [](ReplyWriter& w) { w.double_value(2); }) == ",2\r\n");
}
