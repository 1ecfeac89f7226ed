#pragma once
// Encoding of replies in RESP2 or RESP3, appended to a byte string.

#include <cstdint>
#include <string>
#include <string_view>

namespace backplane::protocol {

enum class RespVersion : uint8_t { resp2 = 2, resp3 = 3 };

/// Appends RESP replies to `out`. Aggregate headers take the element count; the caller writes
/// the elements next. Types that RESP2 lacks degrade as Redis degrades them (a map becomes a
/// flat array of 2n elements, null becomes `$-1`, a push becomes an array).
class ReplyWriter {
  public:
    ReplyWriter(std::string& out, RespVersion version) : out_(out), version_(version) {}

    RespVersion version() const { return version_; }
    /// HELLO switches protocol and answers in the new one.
    void set_version(RespVersion version) { version_ = version; }

    /// `+OK\r\n`. CR and LF in `text` become spaces so user text cannot inject a frame.
    void simple(std::string_view text);
    /// `-ERR message\r\n`; `message` starts with its code ("ERR ...", "NOAUTH ...").
    /// CR and LF become spaces.
    void error(std::string_view message);
    /// `:42\r\n`
    void integer(int64_t value);
    /// `$5\r\nhello\r\n`: binary safe.
    void bulk(std::string_view value);
    /// `$-1\r\n` in RESP2, `_\r\n` in RESP3.
    void null();
    /// `*-1\r\n` in RESP2, `_\r\n` in RESP3.
    void null_array();
    /// `*3\r\n`
    void array(size_t count);
    /// `%2\r\n` in RESP3, `*4\r\n` in RESP2.
    void map(size_t pairs);
    /// `~2\r\n` in RESP3, `*2\r\n` in RESP2.
    void set(size_t count);
    /// `>3\r\n` in RESP3, `*3\r\n` in RESP2.
    void push(size_t count);
    /// `=15\r\ntxt:hello world\r\n` in RESP3, a bulk string in RESP2.
    void verbatim(std::string_view text);

    /// `,0.5\r\n` in RESP3, `$3\r\n0.5\r\n` in RESP2: Redis's `%.17g` (ACL LOG's age).
    void double_value(double value);

    /// Bytes that bulk(value) appends for a value of `length` bytes.
    static size_t bulk_size(size_t length);

  private:
    void header(char type, int64_t value);
    void line(char type, std::string_view text);

    std::string& out_;
    RespVersion version_;
};

/// Writes `$<length>\r\n<value>\r\n` at `dst`; returns the end. `dst` must hold bulk_size().
char* write_bulk(char* dst, std::string_view value);
/// Writes `<type><count>\r\n` at `dst`; returns the end.
char* write_header(char* dst, char type, size_t count);
/// Bytes that write_header() writes for `count`.
size_t header_size(size_t count);

}  // namespace backplane::protocol
