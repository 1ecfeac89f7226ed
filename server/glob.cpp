#include "server/glob.hpp"

namespace backplane {
namespace {

constexpr int max_star_nesting = 1000;

class Matcher {
  public:
    /// Matches pattern[p..] against text[t..]; `nesting` counts the stars entered so far.
    bool match(size_t p, size_t t, int nesting) {
        if (nesting > max_star_nesting) return false;
        while (p < pattern_.size() && t < text_.size()) {
            switch (pattern_[p]) {
                case '*': {
                    while (p + 1 < pattern_.size() && pattern_[p + 1] == '*') ++p;
                    if (p + 1 == pattern_.size()) return true;
                    for (; t < text_.size(); ++t) {
                        if (match(p + 1, t, nesting + 1)) return true;
                        if (skip_longer_matches_) return false;
                    }
                    skip_longer_matches_ = true;
                    return false;
                }
                case '?':
                    ++t;
                    break;
                case '[':
                    if (!match_class(p, text_[t])) return false;
                    ++t;
                    break;
                case '\\':
                    if (p + 1 < pattern_.size()) ++p;
                    [[fallthrough]];
                default:
                    if (pattern_[p] != text_[t]) return false;
                    ++t;
                    break;
            }
            ++p;
            if (t == text_.size()) {
                while (p < pattern_.size() && pattern_[p] == '*') ++p;
                break;
            }
        }
        return p == pattern_.size() && t == text_.size();
    }

    Matcher(std::string_view pattern, std::string_view text) : pattern_(pattern), text_(text) {}

  private:
    char at(size_t p) const { return p < pattern_.size() ? pattern_[p] : '\0'; }

    /// Matches `c` against the class opening at pattern[p]; leaves p on the class's last byte.
    /// Bytes compare as signed chars, as in Redis, which matters for ranges above 0x7f.
    bool match_class(size_t& p, char c) {
        ++p;
        const bool negate = at(p) == '^';
        if (negate) ++p;
        bool matched = false;
        for (;;) {
            const size_t left = pattern_.size() - p;
            if (at(p) == '\\' && left >= 2) {
                ++p;
                if (pattern_[p] == c) matched = true;
            } else if (left > 0 && pattern_[p] == ']') {
                break;
            } else if (left == 0) {
                --p;
                break;
            } else if (left >= 3 && pattern_[p + 1] == '-') {
                int start = static_cast<signed char>(pattern_[p]);
                int end = static_cast<signed char>(pattern_[p + 2]);
                if (start > end) std::swap(start, end);
                const int value = static_cast<signed char>(c);
                p += 2;
                if (value >= start && value <= end) matched = true;
            } else if (pattern_[p] == c) {
                matched = true;
            }
            ++p;
        }
        return negate ? !matched : matched;
    }

    std::string_view pattern_;
    std::string_view text_;
    bool skip_longer_matches_ = false;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
    return Matcher(pattern, text).match(0, 0, 0);
}

std::string_view glob_literal_prefix(std::string_view pattern) {
    return pattern.substr(0, pattern.find_first_of("*?[\\"));
}

std::string_view glob_literal_suffix(std::string_view pattern) {
    if (pattern.find_first_of("[\\") != std::string_view::npos) return {};
    const size_t last_special = pattern.find_last_of("*?");
    // A pattern without wildcards is all prefix.
    return last_special == std::string_view::npos ? std::string_view{}
                                                  : pattern.substr(last_special + 1);
}

}  // namespace backplane
