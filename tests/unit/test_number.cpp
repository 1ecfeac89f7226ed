// parse_int64() must accept and reject exactly what Redis's string2ll() does.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/number.hpp"

using backplane::protocol::parse_int64;
using namespace std::string_view_literals;

namespace {

// Renders the result so that a failing CHECK shows the value or "rejected".
std::string show(std::optional<int64_t> value) {
    return value ? std::to_string(*value) : std::string("rejected");
}

/// Parses a copy of `text` in a heap block of exactly its size, so that ASan flags any read
/// past the end (string literals would hide one behind their terminating NUL).
std::string parsed(std::string_view text) {
    auto copy = std::make_unique<char[]>(text.size());
    if (!text.empty()) std::memcpy(copy.get(), text.data(), text.size());
    return show(parse_int64(std::string_view(copy.get(), text.size())));
}

}  // namespace

TEST_CASE("number: zero and small values") {
    CHECK(parsed("0") == "0");
    CHECK(parsed("1") == "1");
    CHECK(parsed("9") == "9");
    CHECK(parsed("10") == "10");
    CHECK(parsed("42") == "42");
    CHECK(parsed("-1") == "-1");
    CHECK(parsed("-9") == "-9");
    CHECK(parsed("-10") == "-10");
    CHECK(parsed("1234567890") == "1234567890");
    CHECK(parsed("536870912") == "536870912");
    CHECK(parsed("2147483648") == "2147483648");
}

TEST_CASE("number: string2ll rejects -0, leading zeros, signs other than '-', spaces") {
    CHECK(parsed("-0") == "rejected");
    CHECK(parsed("00") == "rejected");
    CHECK(parsed("01") == "rejected");
    CHECK(parsed("007") == "rejected");
    CHECK(parsed("-01") == "rejected");
    CHECK(parsed("-00") == "rejected");
    CHECK(parsed("+1") == "rejected");
    CHECK(parsed("+0") == "rejected");
    CHECK(parsed("--1") == "rejected");
    CHECK(parsed("-+1") == "rejected");
    CHECK(parsed(" 1") == "rejected");
    CHECK(parsed("1 ") == "rejected");
    CHECK(parsed("1 2") == "rejected");
    CHECK(parsed("\t1") == "rejected");
    CHECK(parsed("1\r") == "rejected");
    CHECK(parsed("- 1") == "rejected");
}

TEST_CASE("number: empty, lone sign and non-digits are rejected") {
    CHECK(parsed("") == "rejected");
    CHECK(parsed("-") == "rejected");
    CHECK(parsed("+") == "rejected");
    CHECK(parsed("a") == "rejected");
    CHECK(parsed("abc") == "rejected");
    CHECK(parsed("1a") == "rejected");
    CHECK(parsed("12x") == "rejected");
    CHECK(parsed("0x10") == "rejected");
    CHECK(parsed("1e3") == "rejected");
    CHECK(parsed("1.0") == "rejected");
    CHECK(parsed("1,000") == "rejected");
    CHECK(parsed("/") == "rejected");  // '0' - 1
    CHECK(parsed(":") == "rejected");  // '9' + 1
    CHECK(parsed("1/") == "rejected");
    CHECK(parsed("1:") == "rejected");
    CHECK(parsed("0\0"sv) == "rejected");
    CHECK(parsed("1\0"sv) == "rejected");
    CHECK(parsed("\0"sv) == "rejected");
}

TEST_CASE("number: int64 limits and overflow by one") {
    CHECK(parse_int64("9223372036854775807") == std::numeric_limits<int64_t>::max());
    CHECK(parse_int64("-9223372036854775808") == std::numeric_limits<int64_t>::min());
    CHECK(parsed("9223372036854775807") == "9223372036854775807");
    CHECK(parsed("-9223372036854775808") == "-9223372036854775808");
    CHECK(parsed("9223372036854775806") == "9223372036854775806");
    CHECK(parsed("-9223372036854775807") == "-9223372036854775807");

    CHECK(parsed("9223372036854775808") == "rejected");
    CHECK(parsed("-9223372036854775809") == "rejected");
    CHECK(parsed("9223372036854775810") == "rejected");
    CHECK(parsed("9999999999999999999") == "rejected");
    CHECK(parsed("-9999999999999999999") == "rejected");
    // Around UINT64_MAX, where an unsigned accumulator itself would wrap.
    CHECK(parsed("18446744073709551615") == "rejected");
    CHECK(parsed("18446744073709551616") == "rejected");
    CHECK(parsed("18446744073709551619") == "rejected");
    CHECK(parsed("99999999999999999999") == "rejected");
    CHECK(parsed("-18446744073709551615") == "rejected");
    CHECK(parsed("-18446744073709551616") == "rejected");
}

TEST_CASE("number: 20 and more digits") {
    // 20 characters is the longest string2ll() looks at (LONG_STR_SIZE is 21).
    CHECK(parsed("10000000000000000000") == "rejected");  // 20 digits, > INT64_MAX
    CHECK(parsed("-1000000000000000000") == "-1000000000000000000");  // 20 chars
    CHECK(parsed("1000000000000000000") == "1000000000000000000");    // 19 digits
    CHECK(parsed("123456789012345678901") == "rejected");             // 21 digits
    CHECK(parsed("-92233720368547758080") == "rejected");             // 21 chars
    CHECK(parsed(std::string(100, '1')) == "rejected");
    CHECK(parsed(std::string(70000, '9')) == "rejected");
    CHECK(parsed("-" + std::string(19, '1')) == "-1111111111111111111");
    CHECK(parsed("-" + std::string(20, '1')) == "rejected");
}

TEST_CASE("number: only the given bytes are read") {
    const std::string_view text = "12345";
    CHECK(parsed(text.substr(0, 2)) == "12");
    CHECK(parsed(text.substr(1, 3)) == "234");
    CHECK(parsed(text.substr(0, 0)) == "rejected");
}
