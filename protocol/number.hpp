#pragma once
// Strict integer parsing with the rules of Redis's string2ll(): an optional '-', no '+', no
// leading zeros, no spaces, and the value must fit in a signed 64-bit integer.

#include <cstdint>
#include <optional>
#include <string_view>

namespace backplane::protocol {

/// Parses `text` as Redis's string2ll() does; returns nothing when Redis would reject it.
std::optional<int64_t> parse_int64(std::string_view text);

}  // namespace backplane::protocol
