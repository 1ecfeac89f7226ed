#include "resp_reader.hpp"

#include <cstring>

namespace bench {
namespace {

/// Cursor over the unparsed bytes; every reader returns kIncomplete rather than reading past
/// `end`, so a reply split across two socket reads is simply parsed again once more arrives.
struct Cursor {
    const char* pos;
    const char* end;
};

ParseStatus expect_crlf(Cursor& c) {
    if (c.end - c.pos < 2) return ParseStatus::kIncomplete;
    if (c.pos[0] != '\r' || c.pos[1] != '\n') return ParseStatus::kMalformed;
    c.pos += 2;
    return ParseStatus::kComplete;
}

/// Reads a decimal integer line ("-12\r\n"). Lengths and counts are a few digits, so a plain
/// loop beats memchr's call overhead; this is most of the parsing work per message.
[[gnu::always_inline]] inline ParseStatus read_integer_line(Cursor& c, int64_t& out) {
    const char* p = c.pos;
    const bool negative = p < c.end && *p == '-';
    if (negative) ++p;
    const char* digits = p;
    int64_t value = 0;
    while (p < c.end && *p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    if (p == c.end) return ParseStatus::kIncomplete;
    if (p == digits) return ParseStatus::kMalformed;
    c.pos = p;
    out = negative ? -value : value;
    return expect_crlf(c);
}

/// Reads the rest of a simple string or error line.
ParseStatus read_text_line(Cursor& c, std::string_view& line) {
    const void* cr = std::memchr(c.pos, '\r', static_cast<size_t>(c.end - c.pos));
    if (cr == nullptr) return ParseStatus::kIncomplete;
    line = std::string_view(c.pos, static_cast<size_t>(static_cast<const char*>(cr) - c.pos));
    c.pos = static_cast<const char*>(cr);
    return expect_crlf(c);
}

ParseStatus read_scalar(Cursor& c, RespValue& value) {
    if (c.pos == c.end) return ParseStatus::kIncomplete;
    value.type = *c.pos++;
    switch (value.type) {
        case '+':
        case '-':
            return read_text_line(c, value.str);
        case ':':
            return read_integer_line(c, value.integer);
        case '$': {
            int64_t length = 0;
            if (auto s = read_integer_line(c, length); s != ParseStatus::kComplete) return s;
            if (length < 0) {
                value.type = '_';
                return ParseStatus::kComplete;
            }
            if (c.end - c.pos < length) return ParseStatus::kIncomplete;
            value.str = std::string_view(c.pos, static_cast<size_t>(length));
            c.pos += length;
            return expect_crlf(c);
        }
        default:
            return ParseStatus::kMalformed;
    }
}

}  // namespace

ParseStatus parse_reply(const char* data, size_t length, RespReply& reply, size_t& consumed) {
    Cursor c{data, data + length};
    if (c.pos == c.end) return ParseStatus::kIncomplete;
    // Nearly every reply a subscriber reads starts like this; one compare replaces parsing the
    // array header and the first element.
    constexpr std::string_view kMessageHead = "*3\r\n$7\r\nmessage\r\n";
    if (length > kMessageHead.size() &&
        std::memcmp(data, kMessageHead.data(), kMessageHead.size()) == 0) {
        c.pos += kMessageHead.size();
        reply.value.type = '*';
        reply.size = 3;
        reply.items[0] = RespValue{'$', kMessageHead.substr(8, 7), 0};
        for (size_t i = 1; i < 3; ++i) {
            if (auto s = read_scalar(c, reply.items[i]); s != ParseStatus::kComplete) return s;
        }
        consumed = static_cast<size_t>(c.pos - data);
        return ParseStatus::kComplete;
    }
    if (*c.pos != '*' && *c.pos != '>') {
        reply.size = 0;
        const ParseStatus s = read_scalar(c, reply.value);
        if (s == ParseStatus::kComplete) consumed = static_cast<size_t>(c.pos - data);
        return s;
    }
    ++c.pos;
    int64_t count = 0;
    if (auto s = read_integer_line(c, count); s != ParseStatus::kComplete) return s;
    reply.value.type = count < 0 ? '_' : '*';
    reply.size = count < 0 ? 0 : static_cast<size_t>(count);
    RespValue skipped;
    for (size_t i = 0; i < reply.size; ++i) {
        RespValue& item = i < RespReply::kMaxItems ? reply.items[i] : skipped;
        if (auto s = read_scalar(c, item); s != ParseStatus::kComplete) return s;
    }
    consumed = static_cast<size_t>(c.pos - data);
    return ParseStatus::kComplete;
}

}  // namespace bench
