#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bench {

/// One scalar RESP value. Strings point into the caller's read buffer (no copy), so they are
/// valid only until that buffer is compacted or refilled.
struct RespValue {
    char type = 0;  ///< '+', '-', ':', '$' (bulk), or '_' for a null bulk/array
    std::string_view str;
    int64_t integer = 0;
};

/// A reply as the generator needs it: a scalar, or a flat array/push of scalars (every pub/sub
/// message and subscribe confirmation is one). Only the first kMaxItems elements are kept;
/// `size` is the real element count.
struct RespReply {
    static constexpr size_t kMaxItems = 4;
    RespValue value;  ///< type '*' for arrays and pushes
    std::array<RespValue, kMaxItems> items;
    size_t size = 0;
};

enum class ParseStatus { kComplete, kIncomplete, kMalformed };

/// Parses one reply from [data, data + length) in place. On kComplete, `consumed` is the
/// reply's byte length. Nested arrays are reported as kMalformed: no reply the generator
/// asks for contains one, so seeing one means the server said something unexpected.
ParseStatus parse_reply(const char* data, size_t length, RespReply& reply, size_t& consumed);

}  // namespace bench
