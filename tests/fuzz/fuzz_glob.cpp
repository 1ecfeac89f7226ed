// Pattern and text separated by the first NUL byte. glob_match must agree with a plain
// reference matcher on well-formed patterns, and must stay fast on any pattern (libFuzzer's
// -timeout catches a slow one).

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "server/glob.hpp"

namespace {

/// Well-formed: every class is closed, has no `[`, `\`, or `-` at its edges, and a `\` is never
/// the last byte. Redis's matcher has its own answers for the rest; those are not compared.
bool well_formed(std::string_view pattern) {
    size_t stars = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '*') ++stars;
        if (c == '\\') {
            if (++i == pattern.size()) return false;
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < pattern.size() && pattern[j] == '^') ++j;
            const size_t first = j;
            while (j < pattern.size() && pattern[j] != ']') {
                if (pattern[j] == '[' || pattern[j] == '\\') return false;
                if (pattern[j] == '-' && (j == first || j + 1 >= pattern.size() ||
                                          pattern[j + 1] == ']' || pattern[j - 1] == '-'))
                    return false;
                ++j;
            }
            if (j == pattern.size() || j == first) return false;
            i = j;
        }
    }
    return stars < 900;
}

class Reference {
  public:
    Reference(std::string_view p, std::string_view t)
        : p_(p), t_(t), memo_((p.size() + 1) * (t.size() + 1), -1) {}

    bool match(size_t p, size_t t) {
        signed char& known = memo_[p * (t_.size() + 1) + t];
        if (known >= 0) return known;
        known = compute(p, t);
        return known;
    }

  private:
    bool compute(size_t p, size_t t) {
        if (p == p_.size()) return t == t_.size();
        switch (p_[p]) {
            case '*':
                return match(p + 1, t) || (t < t_.size() && match(p, t + 1));
            case '?':
                return t < t_.size() && match(p + 1, t + 1);
            case '[': {
                size_t q = p + 1;
                const bool negate = p_[q] == '^';
                if (negate) ++q;
                bool hit = false;
                for (; p_[q] != ']'; ++q) {
                    if (t < t_.size() && q + 2 < p_.size() && p_[q + 1] == '-') {
                        signed char lo = p_[q], hi = p_[q + 2], c = t_[t];
                        if (lo > hi) std::swap(lo, hi);
                        hit |= c >= lo && c <= hi;
                        q += 2;
                    } else if (t < t_.size() && p_[q] == t_[t]) {
                        hit = true;
                    }
                }
                return t < t_.size() && hit != negate && match(q + 1, t + 1);
            }
            case '\\':
                return t < t_.size() && p_[p + 1] == t_[t] && match(p + 2, t + 1);
            default:
                return t < t_.size() && p_[p] == t_[t] && match(p + 1, t + 1);
        }
    }

    std::string_view p_, t_;
    std::vector<signed char> memo_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t split = input.find('\0');
    if (split == std::string_view::npos) return 0;
    const std::string_view pattern = input.substr(0, split);
    const std::string_view text = input.substr(split + 1);
    const bool result = backplane::glob_match(pattern, text);
    // Redis's matcher never lets anything but an empty pattern match an empty text ("*" does
    // not match ""); otherwise it agrees with the textbook definition.
    const auto expected = [&] {
        return text.empty() ? pattern.empty() : Reference(pattern, text).match(0, 0);
    };
    if (well_formed(pattern) && pattern.size() * text.size() < 1'000'000 && expected() != result) {
        std::abort();
    }
    return 0;
}
