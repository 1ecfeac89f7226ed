#include "protocol/split_args.hpp"

#include <utility>

namespace backplane::protocol {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char unescape(char c) {
    switch (c) {
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        case 'b':
            return '\b';
        case 'a':
            return '\a';
        default:
            return c;
    }
}

class Splitter {
  public:
    Splitter(std::string_view line, std::string& storage) : line_(line), out_(storage) {}

    /// Reads the token starting at the current position; false on unbalanced quotes.
    bool token() {
        enum class Quote { none, double_quote, single_quote } quote = Quote::none;
        for (;;) {
            const bool at_end = pos_ == line_.size();
            const char c = at_end ? '\0' : line_[pos_];
            if (quote == Quote::double_quote) {
                if (at_end) return false;
                if (c == '\\' && peek(1) == 'x' && hex_value(peek(2)) >= 0 &&
                    hex_value(peek(3)) >= 0) {
                    out_.push_back(static_cast<char>(hex_value(peek(2)) * 16 + hex_value(peek(3))));
                    pos_ += 4;
                } else if (c == '\\' && pos_ + 1 < line_.size()) {
                    out_.push_back(unescape(line_[pos_ + 1]));
                    pos_ += 2;
                } else if (c == '"') {
                    return close_quote();
                } else {
                    out_.push_back(c);
                    ++pos_;
                }
            } else if (quote == Quote::single_quote) {
                if (at_end) return false;
                if (c == '\\' && peek(1) == '\'') {
                    out_.push_back('\'');
                    pos_ += 2;
                } else if (c == '\'') {
                    return close_quote();
                } else {
                    out_.push_back(c);
                    ++pos_;
                }
            } else {
                if (at_end || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                    if (!at_end) ++pos_;
                    return true;
                }
                if (c == '"') {
                    quote = Quote::double_quote;
                } else if (c == '\'') {
                    quote = Quote::single_quote;
                } else {
                    out_.push_back(c);
                }
                ++pos_;
            }
        }
    }

    bool skip_blanks() {
        while (pos_ < line_.size() && is_blank(line_[pos_])) ++pos_;
        return pos_ < line_.size();
    }

  private:
    char peek(size_t ahead) const {
        return pos_ + ahead < line_.size() ? line_[pos_ + ahead] : '\0';
    }

    bool close_quote() {
        if (pos_ + 1 < line_.size() && !is_blank(line_[pos_ + 1])) return false;
        pos_ = pos_ + 1 < line_.size() ? pos_ + 2 : pos_ + 1;
        return true;
    }

    std::string_view line_;
    std::string& out_;
    size_t pos_ = 0;
};

}  // namespace

bool split_args(std::string_view line, std::string& storage, std::vector<std::string_view>& args) {
    storage.clear();
    args.clear();
    std::vector<std::pair<size_t, size_t>> spans;
    Splitter splitter(line, storage);
    while (splitter.skip_blanks()) {
        const size_t start = storage.size();
        if (!splitter.token()) return false;
        spans.emplace_back(start, storage.size() - start);
    }
    for (auto [offset, length] : spans) args.emplace_back(storage.data() + offset, length);
    return true;
}

}  // namespace backplane::protocol
