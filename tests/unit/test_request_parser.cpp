// RequestParser: RESP multibulk and inline requests with Redis 7 limits and error texts
// (reference: /work/shared/reference/redis-behaviour.md §1.1 and §1.2 rows 1-47).
//
// Most tests feed an input through a simulated connection that follows the parser's calling
// convention (unconsumed bytes kept contiguous; parse() called with all of them; consumed()
// bytes dropped on `complete`; more bytes appended on `incomplete`). The same input is fed whole,
// split into two parts at every point, into three parts at every pair of points (short inputs),
// byte by byte and in fixed-size chunks; every way must give the same commands, the same
// consumed() counts and the same error.

#include <doctest/doctest.h>

#include "escape.hpp"

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/request_parser.hpp"

using backplane::protocol::max_inline_size;
using backplane::protocol::ParserLimits;
using backplane::protocol::ParseStatus;
using backplane::protocol::RequestParser;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace doctest {
template <>
struct StringMaker<backplane::protocol::ParseStatus> {
    static String convert(backplane::protocol::ParseStatus status) {
        switch (status) {
            case backplane::protocol::ParseStatus::complete: return "complete";
            case backplane::protocol::ParseStatus::incomplete: return "incomplete";
            case backplane::protocol::ParseStatus::error: return "error";
        }
        return "ParseStatus(?)";
    }
};
}  // namespace doctest

namespace {

constexpr size_t inline_max = 65536;  // PROTO_INLINE_MAX_SIZE, spelled out on purpose

/// Log line for a complete command: "cmd [SET] [k] [v] consumed=27"; "cmd consumed=4" when empty.
std::string command_line(const std::vector<std::string>& args, size_t consumed) {
    std::string line = "cmd ";
    for (const auto& arg : args) line += '[' + escape(arg) + "] ";
    return line + "consumed=" + std::to_string(consumed);
}

/// How the simulated connection hands its buffer to the parser.
enum class Buffer {
    /// Every call gets a fresh heap block of exactly the pending size: a read past the end, or a
    /// pointer kept from an earlier call, is caught by ASan.
    fresh_copy,
    /// One std::string that grows by appending; cheap enough for 64 KiB inputs fed byte by byte.
    shared,
};

/// A connection's read loop around one RequestParser.
class Connection {
public:
    explicit Connection(ParserLimits limits = {}, Buffer mode = Buffer::fresh_copy)
        : limits_(limits), mode_(mode) {}

    /// Delivers the bytes of one read and parses as far as they allow.
    void receive(std::string_view bytes) {
        if (closed_) return;
        pending_.append(bytes);
        for (;;) {
            std::unique_ptr<char[]> copy;
            std::string_view input = pending_;
            if (mode_ == Buffer::fresh_copy) {
                copy.reset(new char[pending_.size()]);
                if (!pending_.empty()) std::memcpy(copy.get(), pending_.data(), pending_.size());
                input = std::string_view(copy.get(), pending_.size());
            }
            const ParseStatus status = parser_.parse(input, limits_);
            if (status == ParseStatus::incomplete) return;
            if (status == ParseStatus::error) {
                log_.push_back("error: " + parser_.error());
                closed_ = true;
                return;
            }
            const size_t consumed = parser_.consumed();
            std::vector<std::string> args;
            for (auto arg : parser_.args()) args.emplace_back(arg);
            log_.push_back(command_line(args, consumed));
            if (consumed == 0 || consumed > input.size()) {
                log_.push_back("BUG: consumed() out of range");
                closed_ = true;
                return;
            }
            pending_.erase(0, consumed);
        }
    }

    bool closed() const { return closed_; }
    size_t pending_size() const { return pending_.size(); }

    /// One line per command, then the error or "waiting, pending=N".
    std::string outcome() const {
        std::string out;
        for (const auto& line : log_) out += line + '\n';
        if (!closed_) out += "waiting, pending=" + std::to_string(pending_.size()) + '\n';
        return out;
    }

private:
    RequestParser parser_;
    ParserLimits limits_;
    Buffer mode_;
    std::string pending_;
    std::vector<std::string> log_;
    bool closed_ = false;
};

/// Feeds `input` cut at the (ascending) offsets in `cuts`.
std::string run(std::string_view input, std::initializer_list<size_t> cuts, ParserLimits limits,
                Buffer mode = Buffer::fresh_copy) {
    Connection connection(limits, mode);
    size_t from = 0;
    for (size_t cut : cuts) {
        connection.receive(input.substr(from, cut - from));
        from = cut;
    }
    connection.receive(input.substr(from));
    return connection.outcome();
}

/// Feeds `input` in chunks of `chunk` bytes.
std::string run_chunked(std::string_view input, size_t chunk, ParserLimits limits,
                        Buffer mode = Buffer::fresh_copy) {
    Connection connection(limits, mode);
    for (size_t from = 0; from < input.size(); from += chunk) {
        connection.receive(input.substr(from, chunk));
    }
    return connection.outcome();
}

/// Bytes delivered (one at a time) when the connection was closed by a protocol error; 0 if never.
size_t bytes_until_error(std::string_view input, ParserLimits limits = {}) {
    Connection connection(limits, Buffer::shared);
    for (size_t i = 0; i < input.size(); ++i) {
        connection.receive(input.substr(i, 1));
        if (connection.closed()) return i + 1;
    }
    return 0;
}

/// Feeds `input` in every way described at the top of this file and checks each outcome.
void check_every_split(std::string_view input, const std::string& expected, ParserLimits limits = {}) {
    int mismatches = 0;
    const auto compare = [&](const std::string& how, const std::string& got) {
        if (got == expected) return;
        if (++mismatches <= 3) {
            INFO("fed as " << how);
            CHECK(got == expected);
        }
    };
    const size_t n = input.size();
    compare("whole", run(input, {}, limits));
    compare("whole (shared buffer)", run(input, {}, limits, Buffer::shared));
    for (size_t i = 0; i <= n; ++i) compare("2 parts at " + std::to_string(i), run(input, {i}, limits));
    if (n <= 160) {
        for (size_t i = 0; i <= n; ++i) {
            for (size_t j = i; j <= n; ++j) {
                compare("3 parts at " + std::to_string(i) + "," + std::to_string(j),
                        run(input, {i, j}, limits));
            }
        }
    }
    for (size_t chunk : {1, 2, 3, 5, 7, 16}) {
        compare("chunks of " + std::to_string(chunk), run_chunked(input, chunk, limits));
        compare("chunks of " + std::to_string(chunk) + " (shared buffer)",
                run_chunked(input, chunk, limits, Buffer::shared));
    }
    CHECK_MESSAGE(mismatches == 0, mismatches << " ways of feeding differ from " << escape(expected));
}

/// For inputs too long to split everywhere: whole, byte by byte, assorted chunk sizes and a few
/// cut points (including the 64 KiB boundary).
void check_big(std::string_view input, const std::string& expected, ParserLimits limits = {}) {
    const size_t n = input.size();
    CHECK(run(input, {}, limits) == expected);
    CHECK(run_chunked(input, 1, limits, Buffer::shared) == expected);
    for (size_t chunk : {2, 3, 1000, 4096, 16384, 40000, 65535, 65536, 65537}) {
        CAPTURE(chunk);
        CHECK(run_chunked(input, chunk, limits, Buffer::shared) == expected);
    }
    for (size_t cut : {size_t{1}, n / 2, n - 1, inline_max - 1, inline_max, inline_max + 1,
                       inline_max + 2}) {
        if (cut == 0 || cut >= n) continue;
        CAPTURE(cut);
        CHECK(run(input, {cut}, limits) == expected);
    }
}

struct Command {
    std::string bytes;              // the command exactly as sent
    std::vector<std::string> args;  // what the parser must return for it
};

struct Sample {
    const char* name;
    std::vector<Command> commands;  // complete commands, in order
    std::string rest;               // then: a partial command, or the offending bytes
    std::string error;              // empty when `rest` must simply wait for more bytes
    ParserLimits limits{};
};

std::string input_of(const Sample& sample) {
    std::string input;
    for (const auto& command : sample.commands) input += command.bytes;
    return input + sample.rest;
}

std::string expected_of(const Sample& sample) {
    std::string out;
    for (const auto& command : sample.commands) out += command_line(command.args, command.bytes.size()) + '\n';
    if (!sample.error.empty()) return out + "error: " + sample.error + '\n';
    return out + "waiting, pending=" + std::to_string(sample.rest.size()) + '\n';
}

ParserLimits unauthenticated() {
    ParserLimits limits;
    limits.unauthenticated = true;
    return limits;
}

const std::string invalid_mbulk = "Protocol error: invalid multibulk length";
const std::string invalid_bulk = "Protocol error: invalid bulk length";
const std::string unauth_mbulk = "Protocol error: unauthenticated multibulk length";
const std::string unauth_bulk = "Protocol error: unauthenticated bulk length";
const std::string too_big_inline = "Protocol error: too big inline request";
const std::string too_big_mbulk = "Protocol error: too big mbulk count string";
const std::string too_big_bulk = "Protocol error: too big bulk count string";
const std::string unbalanced = "Protocol error: unbalanced quotes in request";

std::string expected_error(const std::string& text) { return "error: " + text + '\n'; }
std::string expected_wait(size_t pending) { return "waiting, pending=" + std::to_string(pending) + '\n'; }

}  // namespace

TEST_CASE("request_parser: sample inputs give the same commands however they are split") {
    const std::vector<Sample> samples = {
        {"pipeline of multibulk and inline commands",
         {{"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", {"ECHO", "hi"}},
          {"PING\r\n", {"PING"}},
          {"*1\r\n$4\r\nPING\r\n", {"PING"}},
          {"ECHO  \"a b\"   'c d'\n", {"ECHO", "a b", "c d"}},
          {"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$5\r\nhello\r\n", {"PUBLISH", "ch", "hello"}},
          {"SUBSCRIBE a b c\r\n", {"SUBSCRIBE", "a", "b", "c"}}},
         "",
         ""},
        {"empty bulks ($0), row 12",
         {{"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", {"ECHO", ""}},
          {"*3\r\n$0\r\n\r\n$0\r\n\r\n$1\r\nx\r\n", {"", "", "x"}},
          {"*1\r\n$0\r\n\r\n", {""}}},
         "",
         ""},
        {"binary bulks with NUL and CRLF inside, row 25",
         {{"*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n"s, {"ECHO", "a\0b"s}},
          {"*2\r\n$4\r\nECHO\r\n$8\r\n\r\n\0$1\r\n*\r\n"s, {"ECHO", "\r\n\0$1\r\n*"s}},
          {"*1\r\n$2\r\n\0\0\r\n"s, {"\0\0"s}},
          {"*2\r\n$1\r\n\r\r\n$1\r\n\n\r\n", {"\r", "\n"}},
          {"*1\r\n$6\r\n\xff\xfe\r\n\r\n\r\n", {"\xff\xfe\r\n\r\n"}}},
         "",
         ""},
        {"*0, *-1, *-10 and a negative count below INT_MIN are empty commands, row 5",
         {{"*0\r\n", {}},
          {"*-1\r\n", {}},
          {"*-10\r\n", {}},
          {"*-2147483649\r\n", {}},
          {"*-9223372036854775808\r\n", {}},
          {"PING\r\n", {"PING"}}},
         "",
         ""},
        {"blank lines are empty commands, rows 1-3",
         {{"\r\n", {}},
          {"\n", {}},
          {"   \t \r\n", {}},
          {"PING\n", {"PING"}},
          {"\v\f\n", {}},
          {"  PING   \r\n", {"PING"}},
          {"\r\r\n", {}},
          {"\n", {}}},
         "",
         ""},
        {"quoted inline arguments",
         {{"SET \"k\\x41\\n\" 'it\\'s' \"\"\r\n", {"SET", "kA\n", "it's", ""}},
          {"ECHO ab\"c d\"\r\n", {"ECHO", "abc d"}},
          {"ECHO \"\\r\\n\\t\\b\\a\\\\\\\"\"\n", {"ECHO", "\r\n\t\b\a\\\""}},
          {"ECHO '' \"\"\r\n", {"ECHO", "", ""}},
          {"ECHO \"*1\\r\\n\"\r\n", {"ECHO", "*1\r\n"}}},
         "",
         ""},
        {"row 19: the two bytes after a bulk are skipped unchecked",
         {{"*1\r\n$4\r\nPINGxx", {"PING"}}, {"PING\r\n", {"PING"}}},
         "",
         ""},
        {"row 20: a bulk length shorter than the data",
         {{"*1\r\n$3\r\nPINGX", {"PIN"}}, {"\r\n", {}}},
         "",
         ""},
        {"row 9 variant: the byte after a count's CR is skipped unchecked",
         {{"*1\rX$4\r\nPING\r\n", {"PING"}}},
         "",
         ""},
        {"row 26: other RESP type bytes start inline commands",
         {{"$4\r\n", {"$4"}},
          {"PING\r\n", {"PING"}},
          {"+PING\r\n", {"+PING"}},
          {":1\r\n", {":1"}},
          {"%1\r\n", {"%1"}}},
         "",
         ""},
        {"row 39: CRLF inside a bulk command name",
         {{"*1\r\n$11\r\nFOO\r\n+OK\r\nX\r\n", {"FOO\r\n+OK\r\nX"}}},
         "",
         ""},
        {"NUL bytes are ordinary data in inline commands (deliberate difference, row 23)",
         {{"PING\0\r\n"s, {"PING\0"s}},
          {"ECHO a\0b \0\n"s, {"ECHO", "a\0b"s, "\0"s}},
          {"\0\r\n"s, {"\0"s}}},
         "",
         ""},
        {"a partial multibulk waits, rows 10 and 18",
         {{"PING\r\n", {"PING"}}},
         "*3\r\n$3\r\nSET\r\n$1\r\nx",
         ""},
        {"a partial bulk waits for both trailing bytes",
         {{"*1\r\n$4\r\nPING\r\n", {"PING"}}},
         "*1\r\n$4\r\nPING\r",
         ""},
        {"a partial inline line with an open quote waits",
         {{"PING\r\n", {"PING"}}},
         "ECHO \"unterminated",
         ""},
        {"a header without its '$' waits until its CR arrives",
         {},
         "*1\r\nX12",
         ""},
        {"row 36: commands before an error are returned, nothing after it",
         {{"PING\r\n", {"PING"}}, {"PING\r\n", {"PING"}}},
         "*abc\r\nPING\r\n",
         invalid_mbulk},
        {"row 9: no LF after the count",
         {},
         "*1\r$4\r\nPING\r\n",
         "Protocol error: expected '$', got '4'"},
        {"row 17: a third argument that is not a bulk",
         {},
         "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
         "Protocol error: expected '$', got 'f'"},
        {"row 22: unbalanced quotes after a good command",
         {{"PING\r\n", {"PING"}}},
         "SET \"a b\r\nPING\r\n",
         unbalanced},
        {"row 46: unauthenticated, a good command then too many arguments",
         {{"*1\r\n$4\r\nPING\r\n", {"PING"}}},
         "*11\r\n",
         unauth_mbulk,
         unauthenticated()},
        {"unauthenticated: ten arguments and a 10-byte bulk are fine",
         {{"*10\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n"
           "$1\r\ni\r\n$10\r\n0123456789\r\n",
           {"a", "b", "c", "d", "e", "f", "g", "h", "i", "0123456789"}}},
         "*10\r\n",
         "",
         unauthenticated()},
        {"authenticated: eleven arguments are fine",
         {{"*11\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n"
           "$1\r\ni\r\n$1\r\nj\r\n$1\r\nk\r\n",
           {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}}},
         "",
         ""},
        {"an error after a complete binary argument",
         {},
         "*2\r\n$1\r\n\0\r\n:5\r\n"s,
         "Protocol error: expected '$', got ':'"},
    };
    for (const Sample& sample : samples) {
        INFO("sample: " << std::string(sample.name));
        check_every_split(input_of(sample), expected_of(sample), sample.limits);
    }
}

// A request received whole is parsed in one pass; anything unusual is left to the general
// parser. Fed whole and split, these inputs cross that boundary both ways.
TEST_CASE("request_parser: whole requests at the edges of the one-pass path") {
    const auto many = [](size_t count) {
        std::string bytes = "*";
        bytes += std::to_string(count);
        bytes += "\r\n";
        for (size_t i = 0; i < count; ++i) bytes += "$1\r\nx\r\n";
        return Command{bytes, std::vector<std::string>(count, "x")};
    };
    const std::vector<Sample> samples = {
        {"1024 and 1025 arguments", {many(1024), many(1025)}, "", ""},
        {"a leading zero in a count",
         {{"*1\r\n$4\r\nPING\r\n", {"PING"}}},
         "*01\r\n",
         invalid_mbulk},
        {"a leading zero in a bulk length", {}, "*1\r\n$04\r\nPING\r\n", invalid_bulk},
        {"17 digits in a bulk length", {}, "*1\r\n$10000000000000000\r\n", invalid_bulk},
        {"18 digits in a bulk length", {}, "*1\r\n$100000000000000000\r\n", invalid_bulk},
        {"a bulk length one over proto-max-bulk-len",
         {{"*1\r\n$4\r\nPING\r\n", {"PING"}}},
         "*1\r\n$5\r\nPINGS\r\n",
         invalid_bulk,
         ParserLimits{4, false}},
    };
    for (const Sample& sample : samples) {
        INFO("sample: " << std::string(sample.name));
        check_every_split(input_of(sample), expected_of(sample), sample.limits);
    }
}

TEST_CASE("request_parser: protocol errors of §1.2 with their exact texts") {
    struct Row {
        const char* row;
        std::string input;
        std::string error;
        bool unauthenticated = false;
    };
    const Row rows[] = {
        {"4", "*abc\r\n", invalid_mbulk},
        {"6", "*3000000000\r\n", invalid_mbulk},
        {"6", "*2147483648\r\n", invalid_mbulk},
        {"6", "*9223372036854775807\r\n", invalid_mbulk},
        {"6", "*9223372036854775808\r\n", invalid_mbulk},
        {"6", "*99999999999999999999\r\n", invalid_mbulk},
        {"6", "*-9223372036854775809\r\n", invalid_mbulk},
        {"8", "*1 \r\n$4\r\nPING\r\n", invalid_mbulk},
        {"8", "*+1\r\n$4\r\nPING\r\n", invalid_mbulk},
        {"8", "*01\r\n$4\r\nPING\r\n", invalid_mbulk},
        {"8", "* 1\r\n$4\r\nPING\r\n", invalid_mbulk},
        {"8", "*-0\r\n", invalid_mbulk},
        {"8", "*\r\n", invalid_mbulk},
        {"8", "*1x\r\n", invalid_mbulk},
        {"8", "**1\r\n", invalid_mbulk},
        {"23 (deliberate: no strchr)", "*\0\r\n"s, invalid_mbulk},
        {"9", "*1\r$4\r\nPING\r\n", "Protocol error: expected '$', got '4'"},
        {"11", "*1\r\n$abc\r\n", invalid_bulk},
        {"11", "*1\r\n$\r\n", invalid_bulk},
        {"11", "*1\r\n$-1\r\n", invalid_bulk},
        {"11", "*1\r\n$-10\r\n", invalid_bulk},
        {"11", "*1\r\n$-0\r\n", invalid_bulk},
        {"11", "*1\r\n$+4\r\nPING\r\n", invalid_bulk},
        {"11", "*1\r\n$04\r\nPING\r\n", invalid_bulk},
        {"11", "*1\r\n$4 \r\nPING\r\n", invalid_bulk},
        {"11", "*1\r\n$ 4\r\nPING\r\n", invalid_bulk},
        {"11", "*1\r\n$99999999999999999999\r\n", invalid_bulk},
        {"11", "*2\r\n$4\r\nECHO\r\n$x\r\n", invalid_bulk},
        {"13", "*1\r\n$536870913\r\n", invalid_bulk},
        {"13", "*1\r\n$9223372036854775807\r\n", invalid_bulk},
        {"15", "*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"},
        {"16", "*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"},
        {"16", "*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'"},
        {"16", "*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"},
        {"16", "*1\r\n\r\n", "Protocol error: expected '$', got '\r'"},
        {"16", "*1\r\n\0\r\n"s, "Protocol error: expected '$', got '\0'"s},
        {"17", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "Protocol error: expected '$', got 'f'"},
        {"22", "SET \"a b\r\n", unbalanced},
        {"22", "SET 'a b\r\n", unbalanced},
        {"22", "SET \"a\"b\r\n", unbalanced},
        {"22", "SET 'a'b\n", unbalanced},
        {"22", "\"\n", unbalanced},
        {"22", "ECHO \"a\\\"\r\n", unbalanced},
        {"41", "*11\r\n", unauth_mbulk, true},
        {"41", "*100\r\n", unauth_mbulk, true},
        {"41", "*2147483647\r\n", unauth_mbulk, true},
        {"43", "*1\r\n$16385\r\n", unauth_bulk, true},
        {"43", "*1\r\n$100000000\r\n", unauth_bulk, true},
        {"43", "*2\r\n$4\r\nECHO\r\n$16385\r\n", unauth_bulk, true},
        {"47", "*abc\r\n", invalid_mbulk, true},
        {"47", "*2147483648\r\n", invalid_mbulk, true},  // the INT_MAX check comes first
        {"47", "*1\r\n$536870913\r\n", invalid_bulk, true},  // proto-max-bulk-len comes first
        {"47", "*1\r\n$-1\r\n", invalid_bulk, true},
        {"47", "*1\r\n:1\r\n", "Protocol error: expected '$', got ':'", true},
        {"22/unauth", "SET \"a b\r\n", unbalanced, true},
    };
    for (const Row& row : rows) {
        INFO("row " << std::string(row.row) << ": " << escape(row.input));
        ParserLimits limits;
        limits.unauthenticated = row.unauthenticated;
        check_every_split(row.input, expected_error(row.error), limits);
    }
}

TEST_CASE("request_parser: inputs that must wait for more bytes") {
    struct Row {
        const char* row;
        std::string input;
        bool unauthenticated = false;
    };
    const Row rows[] = {
        {"7", "*2147483647\r\n"},
        {"7", "*1048577\r\n"},
        {"7", "*2147483647\r\n$4\r\nECHO\r\n$1\r\nx\r\n$0\r\n\r\n"},  // no up-front allocation
        {"14", "*1\r\n$536870912\r\n"},
        {"14", "*1\r\n$536870912\r\nsome of the data"},
        {"18", "*1\r\n$4\r\nPING"},
        {"18", "*1\r\n$4\r\nPING\r"},
        {"18", "*1\r\n$4\r\nPI"},
        {"-", "*"},
        {"-", "*1"},
        {"-", "*1\r"},
        {"-", "*1\r\n"},
        {"-", "*1\r\n$"},
        {"-", "*1\r\n$4"},
        {"-", "*1\r\n$4\r"},
        {"-", "*1\r\n$4\r\n"},
        {"-", "*2\r\n$4\r\nECHO\r\n"},
        {"-", "*abc"},                // nothing is judged before the CR
        {"-", "*1\r\n$abc"},          // ditto
        {"-", "*1\r\nfoo"},           // the '$' is checked once the CR is there
        {"-", "PING"},
        {"-", "PING\r"},
        {"-", "SET \"a b"},
        {"-", "\r"},
        {"-", "\0"s},
        {"-", "*\0"s},
        {"-", "$\0"s},
        {"42", "*10\r\n", true},
        {"42", "*10\r\n$4\r\nPING\r\n", true},
        {"44", "*1\r\n$16384\r\n", true},
        {"44", "*1\r\n$16384\r\nabc", true},
        {"41/auth", "*11\r\n"},
        {"43/auth", "*1\r\n$16385\r\n"},
        {"43/auth", "*1\r\n$100000000\r\n"},
    };
    for (const Row& row : rows) {
        INFO("row " << std::string(row.row) << ": " << escape(row.input));
        ParserLimits limits;
        limits.unauthenticated = row.unauthenticated;
        check_every_split(row.input, expected_wait(row.input.size()), limits);
    }
}

TEST_CASE("request_parser: the bulk length limit is proto-max-bulk-len") {
    // Default 512 MiB: rows 13 and 14.
    check_every_split("*1\r\n$536870912\r\n", expected_wait(16));
    check_every_split("*1\r\n$536870913\r\n", expected_error(invalid_bulk));

    ParserLimits one_mib;
    one_mib.max_bulk_len = 1024 * 1024;
    check_every_split("*1\r\n$1048576\r\n", expected_wait(14), one_mib);
    check_every_split("*1\r\n$1048577\r\n", expected_error(invalid_bulk), one_mib);
    check_every_split("*1\r\n$536870912\r\n", expected_error(invalid_bulk), one_mib);

    ParserLimits ten;
    ten.max_bulk_len = 10;
    check_every_split("*2\r\n$10\r\n0123456789\r\n$0\r\n\r\n",
                      command_line({"0123456789", ""}, 27) + '\n' + expected_wait(0), ten);
    check_every_split("*2\r\n$10\r\n0123456789\r\n$11\r\n", expected_error(invalid_bulk), ten);
}

TEST_CASE("request_parser: unauthenticated limits, and completing at the limits") {
    const ParserLimits unauth = unauthenticated();
    const std::string bulk_16k(16384, 'v');

    // $16384 is accepted (row 44) and completes when its data arrives.
    const std::string at_limit = "*2\r\n$4\r\nECHO\r\n$16384\r\n" + bulk_16k + "\r\n";
    check_big(at_limit, command_line({"ECHO", bulk_16k}, at_limit.size()) + '\n' + expected_wait(0),
              unauth);
    // Authenticated, $16385 is fine as well.
    const std::string over = "*1\r\n$16385\r\n" + bulk_16k + "v\r\n";
    check_big(over, command_line({bulk_16k + "v"}, over.size()) + '\n' + expected_wait(0));
    check_big(over, expected_error(unauth_bulk), unauth);

    // Row 45: inline requests before AUTH are only subject to the 64 KiB line limit.
    const std::string big_echo = "ECHO " + std::string(30000, 'e') + "\r\n";
    check_big(big_echo,
              command_line({"ECHO", std::string(30000, 'e')}, big_echo.size()) + '\n' + expected_wait(0),
              unauth);
}

TEST_CASE("request_parser: the inline line limit is 65536 bytes before the '\\n', however the line is split") {
    const std::string line_max(inline_max, 'A');

    // Row 29: 65536 bytes and no newline: waiting.
    check_big(line_max, expected_wait(inline_max));
    // ... and the newline then completes it.
    check_big(line_max + "\n", command_line({line_max}, inline_max + 1) + '\n' + expected_wait(0));
    check_big(std::string(inline_max - 1, 'A') + "\r\n",
              command_line({std::string(inline_max - 1, 'A')}, inline_max + 1) + '\n' + expected_wait(0));

    // Row 30: 65537 bytes without a newline.
    check_big(line_max + "A", expected_error(too_big_inline));
    check_big(std::string(70000, 'A'), expected_error(too_big_inline));
    // With its newline already there it is still too big (deliberate difference from Redis).
    check_big(line_max + "A\n", expected_error(too_big_inline));
    check_big(line_max + "A\r\n", expected_error(too_big_inline));
    // The CR LF does not count: 65536 bytes + "\r\n" is a complete line, as in Redis.
    check_big(line_max + "\r\n", command_line({line_max}, inline_max + 2) + '\n' + expected_wait(0));
    check_big(line_max + "\r", expected_wait(inline_max + 1));
    // Rows 31 and 32: an 80-100 KB inline line, in one piece or in 40 KB chunks.
    const std::string echo_100k = "ECHO " + std::string(100000, 'a') + "\r\n";
    check_big(echo_100k, expected_error(too_big_inline));
    CHECK(run(echo_100k, {40000, 80000}, {}) == expected_error(too_big_inline));
    CHECK(run("ECHO " + std::string(80000, 'a') + "\r\n", {40000}, {}) == expected_error(too_big_inline));
    // Row 24: a NUL does not hide the newline, it is data; 70 KB without a newline is too big.
    check_big("\0"s + std::string(70000, 'x'), expected_error(too_big_inline));
    // Quoted content counts as raw bytes too.
    check_big("ECHO \"" + std::string(inline_max, 'q') + "\"\r\n", expected_error(too_big_inline));

    // The error comes exactly with the 65537th byte.
    CHECK(bytes_until_error(std::string(70000, 'A')) == inline_max + 1);
    CHECK(bytes_until_error(line_max + "A\n") == inline_max + 1);
    CHECK(bytes_until_error(line_max + "\n") == 0);
}

TEST_CASE("request_parser: header lines without CR are limited to 64 KiB (rows 33, 34)") {
    // Row 33: '*' and 70 000 digits, no CR.
    check_big("*" + std::string(70000, '1'), expected_error(too_big_mbulk));
    check_big("*" + std::string(inline_max - 1, '1'), expected_wait(inline_max));
    check_big("*" + std::string(inline_max, '1'), expected_error(too_big_mbulk));
    CHECK(bytes_until_error("*" + std::string(70000, '1')) == inline_max + 1);
    // Unauthenticated clients get the same error.
    check_big("*" + std::string(70000, '1'), expected_error(too_big_mbulk), unauthenticated());

    // Row 34: a bulk header of 70 000 digits, no CR.
    check_big("*1\r\n$" + std::string(70000, '1'), expected_error(too_big_bulk));
    check_big("*1\r\n$" + std::string(inline_max - 1, '1'), expected_wait(4 + inline_max));
    check_big("*1\r\n$" + std::string(inline_max, '1'), expected_error(too_big_bulk));
    CHECK(bytes_until_error("*1\r\n$" + std::string(70000, '1')) == 4 + inline_max + 1);
    // The '$' is only checked at the CR, so a header of 'X's also ends as too big.
    check_big("*1\r\n" + std::string(70000, 'X'), expected_error(too_big_bulk));
    // The limit is per header: a later header is measured from its own '$'.
    const std::string first = "*2\r\n$5\r\nfirst\r\n$";
    check_big(first + std::string(inline_max - 1, '9'), expected_wait(first.size() + inline_max - 1));
    check_big(first + std::string(inline_max, '9'), expected_error(too_big_bulk));
}

TEST_CASE("request_parser: limits are measured from the start of the current command") {
    // A complete command in front does not count towards the next command's limit.
    const std::string ping = "PING\r\n";
    const std::string ok_line(inline_max, 'A');
    check_big(ping + ok_line, command_line({"PING"}, 6) + '\n' + expected_wait(inline_max));
    check_big(ping + ok_line + "\n", command_line({"PING"}, 6) + '\n' +
                                         command_line({ok_line}, inline_max + 1) + '\n' + expected_wait(0));
    check_big(ping + ok_line + "A", command_line({"PING"}, 6) + '\n' + expected_error(too_big_inline));

    const std::string count = "*" + std::string(inline_max - 1, '7');
    check_big(ping + count, command_line({"PING"}, 6) + '\n' + expected_wait(inline_max));
    check_big(ping + count + "7", command_line({"PING"}, 6) + '\n' + expected_error(too_big_mbulk));

    const std::string multibulk_ping = "*1\r\n$4\r\nPING\r\n";
    check_big(multibulk_ping + "*1\r\n$" + std::string(inline_max - 1, '8'),
              command_line({"PING"}, 14) + '\n' + expected_wait(4 + inline_max));
}

TEST_CASE("request_parser: an oversized header that does end in CRLF is too big however it is split") {
    // Redis judges a header by the bytes buffered when no CR has arrived yet, so its error text
    // depends on the chunking; ours counts the bytes before the CR, like the inline limit.
    check_big("*" + std::string(70000, '1') + "\r\n", expected_error(too_big_mbulk));
    check_big("*" + std::string(inline_max, '1') + "\r\n", expected_error(too_big_mbulk));
    check_big("*" + std::string(inline_max, '1') + "\r", expected_error(too_big_mbulk));
    // 65536 bytes before the CR are allowed; that many digits are then an invalid number.
    check_big("*" + std::string(inline_max - 1, '1') + "\r\n", expected_error(invalid_mbulk));
    check_big("*" + std::string(inline_max - 1, '1') + "\r", expected_wait(inline_max + 1));

    check_big("*1\r\n$" + std::string(70000, '1') + "\r\n", expected_error(too_big_bulk));
    check_big("*1\r\n$" + std::string(inline_max, '1') + "\r\n", expected_error(too_big_bulk));
    check_big("*1\r\n$" + std::string(inline_max, '1') + "\r", expected_error(too_big_bulk));
    check_big("*1\r\n$" + std::string(inline_max - 1, '1') + "\r\n", expected_error(invalid_bulk));
    check_big("*1\r\n$" + std::string(inline_max - 1, '1') + "\r", expected_wait(4 + inline_max + 1));
    // The size is judged before the '$': a long non-bulk line is too big, a short one is not a bulk.
    check_big("*1\r\n" + std::string(70000, 'X') + "\r\n", expected_error(too_big_bulk));
    check_big("*1\r\n" + std::string(inline_max, 'X') + "\r\n",
              expected_error("Protocol error: expected '$', got 'X'"));
    // A later header is measured from its own '$'.
    const std::string first = "*2\r\n$5\r\nfirst\r\n$";
    check_big(first + std::string(inline_max, '9') + "\r\n", expected_error(too_big_bulk));
    check_big(first + std::string(inline_max - 1, '9') + "\r\n", expected_error(invalid_bulk));
}

TEST_CASE("request_parser: consumed() is exact and args are right on each call") {
    RequestParser parser;
    const ParserLimits limits;

    SUBCASE("row 19: trailing bytes of a bulk are skipped, the next command is untouched") {
        const std::string input = "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nECHO\r\n";
        REQUIRE(parser.parse(input, limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 14);
        REQUIRE(parser.args().size() == 1);
        CHECK(parser.args()[0] == "PING");
        const std::string_view rest = std::string_view(input).substr(14);
        REQUIRE(parser.parse(rest, limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 14);
        REQUIRE(parser.args().size() == 1);
        CHECK(parser.args()[0] == "ECHO");
    }
    SUBCASE("row 20: PIN, then an empty inline line") {
        const std::string input = "*1\r\n$3\r\nPINGX\r\n";
        REQUIRE(parser.parse(input, limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 13);
        REQUIRE(parser.args().size() == 1);
        CHECK(parser.args()[0] == "PIN");
        REQUIRE(parser.parse(std::string_view(input).substr(13), limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 2);
        CHECK(parser.args().empty());
    }
    SUBCASE("a pipeline parsed from one buffer") {
        const std::string input = "PING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n\n*0\r\nECHO x";
        std::string_view rest = input;
        REQUIRE(parser.parse(rest, limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 6);
        CHECK(parser.args().size() == 1);
        rest.remove_prefix(parser.consumed());
        REQUIRE(parser.parse(rest, limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 20);
        REQUIRE(parser.args().size() == 2);
        CHECK(parser.args()[0] == "ECHO");
        CHECK(parser.args()[1] == "");
        rest.remove_prefix(parser.consumed());
        REQUIRE(parser.parse(rest, limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 1);
        CHECK(parser.args().empty());
        rest.remove_prefix(parser.consumed());
        REQUIRE(parser.parse(rest, limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 4);
        CHECK(parser.args().empty());
        rest.remove_prefix(parser.consumed());
        CHECK(parser.parse(rest, limits) == ParseStatus::incomplete);
        CHECK(rest == "ECHO x");
    }
    SUBCASE("an empty buffer is incomplete") {
        CHECK(parser.parse("", limits) == ParseStatus::incomplete);
        CHECK(parser.parse(std::string_view(), limits) == ParseStatus::incomplete);
        REQUIRE(parser.parse("PING\n", limits) == ParseStatus::complete);
        CHECK(parser.consumed() == 5);
    }
}

TEST_CASE("request_parser: multibulk args are views into the caller's buffer") {
    RequestParser parser;
    const std::string input = "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$3\r\na\0b\r\n"s;
    REQUIRE(parser.parse(input, {}) == ParseStatus::complete);
    REQUIRE(parser.args().size() == 3);
    CHECK(parser.args()[0].data() == input.data() + 8);
    CHECK(parser.args()[1].data() == input.data() + 21);
    CHECK(parser.args()[2].data() == input.data() + 29);
    CHECK(parser.args()[2] == "a\0b"sv);
    CHECK(parser.consumed() == input.size());
}

TEST_CASE("request_parser: inline args stay valid after the caller's buffer is gone") {
    RequestParser parser;
    auto buffer = std::make_unique<std::string>("ECHO \"a\\x00b\" plain\r\n");
    REQUIRE(parser.parse(*buffer, {}) == ParseStatus::complete);
    CHECK(parser.consumed() == buffer->size());
    buffer.reset();  // the inline args live in the parser's own storage
    REQUIRE(parser.args().size() == 3);
    CHECK(parser.args()[0] == "ECHO");
    CHECK(parser.args()[1] == "a\0b"sv);
    CHECK(parser.args()[2] == "plain");
}

TEST_CASE("request_parser: after an error the parser starts afresh") {
    RequestParser parser;
    const ParserLimits limits;

    CHECK(parser.parse("*abc\r\n", limits) == ParseStatus::error);
    CHECK(parser.error() == invalid_mbulk);
    REQUIRE(parser.parse("PING\r\n", limits) == ParseStatus::complete);
    CHECK(parser.consumed() == 6);
    REQUIRE(parser.args().size() == 1);
    CHECK(parser.args()[0] == "PING");

    // An error in the middle of a multibulk, after a bulk was received.
    std::string input = "*3\r\n$4\r\nECHO\r\n";
    CHECK(parser.parse(input, limits) == ParseStatus::incomplete);
    input += ":1\r\n";
    CHECK(parser.parse(input, limits) == ParseStatus::error);
    CHECK(parser.error() == "Protocol error: expected '$', got ':'");
    CHECK(parser.args().empty());
    REQUIRE(parser.parse("*1\r\n$4\r\nPING\r\n", limits) == ParseStatus::complete);
    CHECK(parser.consumed() == 14);
    REQUIRE(parser.args().size() == 1);
    CHECK(parser.args()[0] == "PING");

    // An error in an inline line.
    CHECK(parser.parse("ECHO 'x\n", limits) == ParseStatus::error);
    CHECK(parser.error() == unbalanced);
    REQUIRE(parser.parse("*0\r\n", limits) == ParseStatus::complete);
    CHECK(parser.consumed() == 4);
}

TEST_CASE("request_parser: the limits passed on each call apply to that call") {
    RequestParser parser;
    ParserLimits limits;
    limits.unauthenticated = true;
    CHECK(parser.parse("*11\r\n", limits) == ParseStatus::error);
    CHECK(parser.error() == unauth_mbulk);
    limits.unauthenticated = false;
    CHECK(parser.parse("*11\r\n", limits) == ParseStatus::incomplete);
}

TEST_CASE("request_parser: random pipelines round-trip however they are chunked") {
    // Random binary arguments, encoded as multibulk or as quoted inline commands (every byte that
    // is not alphanumeric as \xHH), several commands per pipeline, fed in random-sized chunks.
    std::mt19937_64 rng(20261128);
    const auto below = [&](uint64_t n) { return static_cast<size_t>(rng() % n); };
    int mismatches = 0;
    for (int round = 0; round < 400; ++round) {
        std::string wire;
        std::string expected;
        const size_t commands = 1 + below(8);
        for (size_t c = 0; c < commands; ++c) {
            std::vector<std::string> args(below(5));
            for (auto& arg : args) {
                const size_t length = below(10) == 0 ? below(400) : below(12);
                for (size_t i = 0; i < length; ++i) arg += static_cast<char>(below(256));
            }
            const size_t before = wire.size();
            if (below(2) == 0) {
                wire += '*';
                wire += std::to_string(args.size());
                wire += "\r\n";
                for (const auto& arg : args) {
                    wire += '$';
                    wire += std::to_string(arg.size());
                    wire += "\r\n";
                    wire += arg;
                    wire += "\r\n";
                }
            } else {
                static const char* const blanks[] = {" ", "\t", "  ", " \t ", "\v", "\f"};
                wire += below(3) == 0 ? blanks[below(6)] : "";
                for (size_t a = 0; a < args.size(); ++a) {
                    if (a > 0) wire += blanks[below(6)];
                    wire += '"';
                    for (unsigned char byte : args[a]) {
                        if ((byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= 'A' && byte <= 'Z')) {
                            wire += static_cast<char>(byte);
                        } else {
                            char hex[5];
                            std::snprintf(hex, sizeof hex, below(2) ? "\\x%02x" : "\\x%02X", byte);
                            wire += hex;
                        }
                    }
                    wire += '"';
                }
                wire += below(2) == 0 ? "\r\n" : "\n";
            }
            expected += command_line(args, wire.size() - before) + '\n';
        }
        expected += expected_wait(0);

        Connection connection({}, below(2) == 0 ? Buffer::fresh_copy : Buffer::shared);
        for (size_t from = 0; from < wire.size();) {
            const size_t chunk = 1 + below(below(4) == 0 ? wire.size() : 8);
            connection.receive(std::string_view(wire).substr(from, chunk));
            from += chunk;
        }
        if (connection.outcome() != expected && ++mismatches <= 3) {
            INFO("round " << round << ", wire " << escape(wire));
            CHECK(connection.outcome() == expected);
        }
    }
    CHECK(mismatches == 0);
}
