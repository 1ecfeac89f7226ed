#pragma once
// Incremental parser for client requests: RESP multibulk (`*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n`)
// and inline commands (`ECHO hi\r\n`), with the limits and error texts of Redis 7.
//
// The caller keeps every unconsumed byte in one contiguous buffer and passes all of it on each
// call, starting at the first byte of the command being parsed. The parser remembers how far it
// got, so bytes are scanned once however the input is split, and on `complete` it hands out
// views into that buffer (multibulk) or into its own storage (inline, which may unescape).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace backplane::protocol {

/// Redis's PROTO_INLINE_MAX_SIZE: the longest inline line or `*`/`$` header without its CRLF.
inline constexpr size_t max_inline_size = 64 * 1024;
/// Before AUTH, Redis accepts at most 10 arguments of at most 16 KiB each (CVE-2021-32675).
inline constexpr int64_t max_unauthenticated_args = 10;
inline constexpr int64_t max_unauthenticated_bulk = 16 * 1024;

struct ParserLimits {
    int64_t max_bulk_len = 512LL * 1024 * 1024;  ///< proto-max-bulk-len
    bool unauthenticated = false;                ///< apply the pre-AUTH limits
};

enum class ParseStatus { complete, incomplete, error };

class RequestParser {
  public:
    /// Parses the command at the start of `input`. On `complete`, args() and consumed() describe
    /// it (zero args for an empty command such as `*0\r\n` or a blank line: Redis ignores those);
    /// on `error`, error() holds the reply text, e.g. "Protocol error: invalid bulk length".
    /// Either way the parser is ready for the next command at input + consumed().
    ParseStatus parse(std::string_view input, const ParserLimits& limits);

    std::span<const std::string_view> args() const { return args_; }
    size_t consumed() const { return consumed_; }
    const std::string& error() const { return error_; }

  private:
    enum class State { start, multibulk_count, bulk_header, bulk_data, inline_line };
    enum class Step { progress, need_more, done, failed };

    bool parse_whole(std::string_view input, const ParserLimits& limits);
    Step parse_multibulk_count(std::string_view input, const ParserLimits& limits);
    Step parse_bulk_header(std::string_view input, const ParserLimits& limits);
    Step parse_bulk_data(std::string_view input);
    Step parse_inline(std::string_view input);
    Step finish(size_t consumed);
    std::optional<int64_t> leading_number(std::string_view input, size_t at, char type);
    Step fail(std::string message);
    void reset();

    State state_ = State::start;
    size_t pos_ = 0;         // start of the token being parsed, relative to the command start
    size_t scan_ = 0;        // where the search for the token's terminator resumes
    int64_t args_left_ = 0;  // bulks still expected in this multibulk
    int64_t bulk_len_ = 0;   // length of the bulk being received
    std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) of received bulks
    std::vector<std::string_view> args_;
    std::string inline_storage_;
    size_t consumed_ = 0;
    std::string error_;
};

}  // namespace backplane::protocol
