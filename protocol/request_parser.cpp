#include "protocol/request_parser.hpp"

#include <algorithm>
#include <climits>
#include <cstring>

#include "protocol/number.hpp"
#include "protocol/split_args.hpp"

namespace backplane::protocol {
namespace {

/// Finds `c` in input[from, end); returns npos when absent.
size_t find_byte(std::string_view input, size_t from, char c) {
    if (from >= input.size()) return std::string_view::npos;
    const void* hit = std::memchr(input.data() + from, c, input.size() - from);
    return hit ? static_cast<size_t>(static_cast<const char*>(hit) - input.data())
               : std::string_view::npos;
}

// `<type><1-9><up to 16 more digits>\r` followed by at least one byte at `p`: a positive
// number that string2ll accepts, read in one pass. On success `p` moves past the CR and the
// byte after it. Anything else (zero, signs, long or partial headers) is left to the general
// path, which gives Redis's exact errors.
bool usual_header(const char*& p, const char* end, char type, int64_t& value) {
    if (end - p < 4 || p[0] != type || p[1] < '1' || p[1] > '9') return false;
    const char* digits = p + 1;
    const char* q = digits;
    value = 0;
    while (q < end && static_cast<unsigned char>(*q - '0') < 10) {
        value = value * 10 + (*q - '0');
        if (++q - digits > 17) return false;
    }
    if (end - q < 2 || *q != '\r') return false;
    p = q + 2;
    return true;
}

}  // namespace

std::optional<int64_t> RequestParser::leading_number(std::string_view input, size_t at, char type) {
    if (at >= input.size()) return std::nullopt;
    const char* p = input.data() + at;
    int64_t value = 0;
    if (!usual_header(p, input.data() + input.size(), type, value)) return std::nullopt;
    pos_ = static_cast<size_t>(p - input.data());
    return value;
}

// A whole multibulk request already in `input`, in its usual form (every count and length
// `[1-9][0-9]*`, within the limits): one pass that fills args_ directly. Anything else, such
// as a request not fully received yet, an empty bulk, a limit or an error, returns false having
// consumed nothing, and the state machine parses it with Redis's exact outcome.
bool RequestParser::parse_whole(std::string_view input, const ParserLimits& limits) {
    if (limits.unauthenticated) return false;
    const char* p = input.data();
    const char* const end = p + input.size();
    int64_t count = 0;
    if (!usual_header(p, end, '*', count) || count > 1024) return false;
    for (int64_t i = 0; i < count; ++i) {
        int64_t length = 0;
        if (!usual_header(p, end, '$', length) || length > limits.max_bulk_len ||
            end - p < length + 2) {
            args_.clear();
            return false;
        }
        args_.emplace_back(p, static_cast<size_t>(length));
        p += length + 2;
    }
    consumed_ = static_cast<size_t>(p - input.data());
    return true;
}

ParseStatus RequestParser::parse(std::string_view input, const ParserLimits& limits) {
    for (;;) {
        Step step = Step::need_more;
        switch (state_) {
            case State::start:
                if (input.empty()) return ParseStatus::incomplete;
                args_.clear();
                spans_.clear();
                if (input[0] == '*' && parse_whole(input, limits)) return ParseStatus::complete;
                state_ = input[0] == '*' ? State::multibulk_count : State::inline_line;
                scan_ = input[0] == '*' ? 1 : 0;
                step = Step::progress;
                break;
            case State::multibulk_count:
                step = parse_multibulk_count(input, limits);
                break;
            case State::bulk_header:
                step = parse_bulk_header(input, limits);
                break;
            case State::bulk_data:
                step = parse_bulk_data(input);
                break;
            case State::inline_line:
                step = parse_inline(input);
                break;
        }
        switch (step) {
            case Step::progress:
                continue;
            case Step::need_more:
                return ParseStatus::incomplete;
            case Step::done:
                return ParseStatus::complete;
            case Step::failed:
                return ParseStatus::error;
        }
    }
}

// `*<count>\r\n`. Like Redis, the byte after '\r' is skipped without being checked.
RequestParser::Step RequestParser::parse_multibulk_count(std::string_view input,
                                                         const ParserLimits& limits) {
    if (const auto count = leading_number(input, 0, '*')) {
        if (*count > INT_MAX) return fail("Protocol error: invalid multibulk length");
        if (*count > max_unauthenticated_args && limits.unauthenticated)
            return fail("Protocol error: unauthenticated multibulk length");
        args_left_ = *count;
        spans_.reserve(static_cast<size_t>(std::min<int64_t>(*count, 1024)));
        state_ = State::bulk_header;
        scan_ = pos_;
        return Step::progress;
    }
    const size_t cr = find_byte(input, scan_, '\r');
    if (cr == std::string_view::npos) {
        if (input.size() > max_inline_size)
            return fail("Protocol error: too big mbulk count string");
        scan_ = input.size();
        return Step::need_more;
    }
    if (cr > max_inline_size) return fail("Protocol error: too big mbulk count string");
    if (cr + 2 > input.size()) return Step::need_more;
    const auto count = parse_int64(input.substr(1, cr - 1));
    if (!count || *count > INT_MAX) return fail("Protocol error: invalid multibulk length");
    if (*count > max_unauthenticated_args && limits.unauthenticated)
        return fail("Protocol error: unauthenticated multibulk length");
    pos_ = cr + 2;
    if (*count <= 0) return finish(pos_);
    args_left_ = *count;
    spans_.reserve(static_cast<size_t>(std::min<int64_t>(*count, 1024)));
    state_ = State::bulk_header;
    scan_ = pos_;
    return Step::progress;
}

// `$<len>\r\n`. As in Redis, the '$' is checked only once the header's '\r' has arrived.
RequestParser::Step RequestParser::parse_bulk_header(std::string_view input,
                                                     const ParserLimits& limits) {
    // The usual `$<digits>\r\n`, all here: one pass over the digits, same outcome as below.
    if (const auto length = leading_number(input, pos_, '$')) {
        if (*length > limits.max_bulk_len) return fail("Protocol error: invalid bulk length");
        if (*length > max_unauthenticated_bulk && limits.unauthenticated)
            return fail("Protocol error: unauthenticated bulk length");
        bulk_len_ = *length;
        state_ = State::bulk_data;
        return Step::progress;
    }
    const size_t cr = find_byte(input, scan_, '\r');
    if (cr == std::string_view::npos) {
        if (input.size() - pos_ > max_inline_size)
            return fail("Protocol error: too big bulk count string");
        scan_ = input.size();
        return Step::need_more;
    }
    if (cr - pos_ > max_inline_size) return fail("Protocol error: too big bulk count string");
    if (cr + 2 > input.size()) return Step::need_more;
    if (input[pos_] != '$') {
        return fail(std::string("Protocol error: expected '$', got '") + input[pos_] + "'");
    }
    const auto length = parse_int64(input.substr(pos_ + 1, cr - pos_ - 1));
    if (!length || *length < 0 || *length > limits.max_bulk_len)
        return fail("Protocol error: invalid bulk length");
    if (*length > max_unauthenticated_bulk && limits.unauthenticated)
        return fail("Protocol error: unauthenticated bulk length");
    bulk_len_ = *length;
    pos_ = cr + 2;
    state_ = State::bulk_data;
    return Step::progress;
}

// The bulk's bytes and two more, which Redis skips without checking that they are CRLF.
RequestParser::Step RequestParser::parse_bulk_data(std::string_view input) {
    const size_t length = static_cast<size_t>(bulk_len_);
    if (input.size() - pos_ < length + 2) return Step::need_more;
    spans_.emplace_back(pos_, length);
    pos_ += length + 2;
    if (--args_left_ > 0) {
        state_ = State::bulk_header;
        scan_ = pos_;
        return Step::progress;
    }
    for (auto [offset, size] : spans_) args_.emplace_back(input.data() + offset, size);
    return finish(pos_);
}

// One line ending in "\n" or "\r\n", split with redis-cli's quoting rules.
RequestParser::Step RequestParser::parse_inline(std::string_view input) {
    // The line, without its CR LF, may be 64 KiB long; a CR still waiting for its LF does not
    // count, so where the input was split never changes the outcome.
    const size_t lf = find_byte(input, scan_, '\n');
    if (lf == std::string_view::npos) {
        const size_t line = input.size() - (input.ends_with('\r') ? 1 : 0);
        if (line > max_inline_size) return fail("Protocol error: too big inline request");
        scan_ = input.size();
        return Step::need_more;
    }
    const size_t line_end = (lf > 0 && input[lf - 1] == '\r') ? lf - 1 : lf;
    if (line_end > max_inline_size) return fail("Protocol error: too big inline request");
    if (!split_args(input.substr(0, line_end), inline_storage_, args_)) {
        return fail("Protocol error: unbalanced quotes in request");
    }
    return finish(lf + 1);
}

RequestParser::Step RequestParser::finish(size_t consumed) {
    consumed_ = consumed;
    state_ = State::start;
    pos_ = 0;
    scan_ = 0;
    return Step::done;
}

RequestParser::Step RequestParser::fail(std::string message) {
    error_ = std::move(message);
    reset();
    return Step::failed;
}

void RequestParser::reset() {
    state_ = State::start;
    pos_ = 0;
    scan_ = 0;
    consumed_ = 0;
    args_.clear();
    spans_.clear();
}

}  // namespace backplane::protocol
