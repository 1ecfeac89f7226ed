#include "protocol/number.hpp"

namespace backplane::protocol {

std::optional<int64_t> parse_int64(std::string_view text) {
    // Fast path for the short positive numbers of every request header (`*3`, `$7`).
    if (!text.empty() && text.size() <= 9 && text[0] >= '1' && text[0] <= '9') {
        int64_t value = 0;
        for (char c : text) {
            if (c < '0' || c > '9') return std::nullopt;
            value = value * 10 + (c - '0');
        }
        return value;
    }
    if (text.empty() || text.size() > 20) return std::nullopt;
    if (text == "0") return 0;
    bool negative = false;
    size_t pos = 0;
    if (text[0] == '-') {
        negative = true;
        pos = 1;
        if (text.size() == 1) return std::nullopt;
    }
    if (text[pos] < '1' || text[pos] > '9') return std::nullopt;
    uint64_t magnitude = 0;
    for (; pos < text.size(); ++pos) {
        const char c = text[pos];
        if (c < '0' || c > '9') return std::nullopt;
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) return std::nullopt;
        magnitude = magnitude * 10 + digit;
    }
    if (negative) {
        if (magnitude > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
        return static_cast<int64_t>(0 - magnitude);
    }
    if (magnitude > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(magnitude);
}

}  // namespace backplane::protocol
