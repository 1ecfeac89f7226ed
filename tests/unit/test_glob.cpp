// glob_match() / glob_literal_prefix(): Redis 7 stringmatchlen() semantics with nocase off.
// The table of fixed cases was checked against a real redis-server 7.0.15 (KEYS <pattern> over a
// key equal to the text, and PUBSUB CHANNELS for the empty text). The randomized cases compare
// glob_match() with an independent reference below: the pattern is first split into tokens
// (star, any byte, byte set) the way stringmatchlen() reads them, then matched by plain dynamic
// programming; that reference was itself checked against redis-server on a million random cases.

#include <doctest/doctest.h>

#include "escape.hpp"

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/glob.hpp"

using backplane::glob_literal_prefix;
using backplane::glob_match;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

/// glob_match() on copies held in heap blocks of exactly their size, so that ASan reports any
/// read past the end of the pattern or the text.
bool match_exact(std::string_view pattern, std::string_view text) {
    const std::unique_ptr<char[]> p(new char[pattern.size()]);
    const std::unique_ptr<char[]> t(new char[text.size()]);
    std::copy(pattern.begin(), pattern.end(), p.get());
    std::copy(text.begin(), text.end(), t.get());
    return glob_match(std::string_view(p.get(), pattern.size()),
                      std::string_view(t.get(), text.size()));
}

// ---- Reference matcher --------------------------------------------------------------------

struct Token {
    enum Kind { star, any, set } kind;
    std::bitset<256> bytes;  // for `set`: the bytes it accepts (negation already applied)
};

/// Reads the pattern as stringmatchlen() does: `\x` is a literal x unless `\` is the last byte;
/// a class runs to its `]` or, unterminated, to the end of the pattern; inside a class `\x` is x
/// (unless `\` is last), `a-b` is an inclusive range of signed chars in either order when three
/// bytes remain, and everything else (including `-`, `^` after the first position) is literal.
std::vector<Token> tokenize(std::string_view pat) {
    std::vector<Token> out;
    const size_t n = pat.size();
    auto single = [](unsigned char c) {
        Token t{Token::set, {}};
        t.bytes.set(c);
        return t;
    };
    size_t i = 0;
    while (i < n) {
        const char c = pat[i];
        if (c == '*') {
            out.push_back({Token::star, {}});
            ++i;
        } else if (c == '?') {
            out.push_back({Token::any, {}});
            ++i;
        } else if (c == '\\') {
            if (i + 1 < n) {
                out.push_back(single(static_cast<unsigned char>(pat[i + 1])));
                i += 2;
            } else {
                out.push_back(single('\\'));
                ++i;
            }
        } else if (c == '[') {
            ++i;
            bool negate = false;
            if (i < n && pat[i] == '^') {
                negate = true;
                ++i;
            }
            Token t{Token::set, {}};
            while (i < n) {
                if (pat[i] == '\\' && i + 1 < n) {
                    t.bytes.set(static_cast<unsigned char>(pat[i + 1]));
                    i += 2;
                } else if (pat[i] == ']') {
                    ++i;
                    break;
                } else if (i + 2 < n && pat[i + 1] == '-') {
                    int lo = static_cast<signed char>(pat[i]);
                    int hi = static_cast<signed char>(pat[i + 2]);
                    if (lo > hi) std::swap(lo, hi);
                    for (int b = 0; b < 256; ++b) {
                        const int v = static_cast<signed char>(static_cast<unsigned char>(b));
                        if (v >= lo && v <= hi) t.bytes.set(static_cast<size_t>(b));
                    }
                    i += 3;
                } else {
                    t.bytes.set(static_cast<unsigned char>(pat[i]));
                    ++i;
                }
            }
            if (negate) t.bytes.flip();
            out.push_back(t);
        } else {
            out.push_back(single(static_cast<unsigned char>(c)));
            ++i;
        }
    }
    return out;
}

/// Reference result. Redis quirk: an empty text only matches the empty pattern (its matching
/// loop never runs, so not even "*" matches ""). Otherwise `*` matches any run of bytes.
bool reference_match(std::string_view pattern, std::string_view text) {
    const std::vector<Token> tokens = tokenize(pattern);
    if (text.empty()) return tokens.empty();
    const size_t m = tokens.size();
    const size_t n = text.size();
    // ok[i][j]: tokens[i..] match text[j..]
    std::vector<std::vector<char>> ok(m + 1, std::vector<char>(n + 1, 0));
    ok[m][n] = 1;
    for (size_t i = m; i-- > 0;) {
        for (size_t j = n + 1; j-- > 0;) {
            const Token& t = tokens[i];
            if (t.kind == Token::star) {
                ok[i][j] = ok[i + 1][j] || (j < n && ok[i][j + 1]);
            } else if (j < n && (t.kind == Token::any ||
                                 t.bytes.test(static_cast<unsigned char>(text[j])))) {
                ok[i][j] = ok[i + 1][j + 1];
            }
        }
    }
    return ok[0][0] != 0;
}

struct Case {
    std::string_view pattern;
    std::string_view text;
    bool expected;
};

// Checked against redis-server 7.0.15.
const Case fixed_cases[] = {
    {""sv, ""sv, true},
    {""sv, "a"sv, false},
    {"*"sv, ""sv, false},
    {"**"sv, ""sv, false},
    {"?"sv, ""sv, false},
    {"a"sv, "a"sv, true},
    {"a"sv, "b"sv, false},
    {"a"sv, "aa"sv, false},
    {"abc"sv, "abc"sv, true},
    {"*"sv, "anything"sv, true},
    {"a*"sv, "a"sv, true},
    {"a*"sv, "abc"sv, true},
    {"a*"sv, "ba"sv, false},
    {"*c"sv, "abc"sv, true},
    {"*c"sv, "abd"sv, false},
    {"a*c"sv, "ac"sv, true},
    {"a*c"sv, "abbbc"sv, true},
    {"a*c"sv, "abbbcd"sv, false},
    {"a*b*c"sv, "aXbYc"sv, true},
    {"a*b*c"sv, "acb"sv, false},
    {"?"sv, "a"sv, true},
    {"?"sv, "ab"sv, false},
    {"??"sv, "ab"sv, true},
    {"a?c"sv, "abc"sv, true},
    {"a?c"sv, "ac"sv, false},
    {"*?"sv, "a"sv, true},
    {"?*"sv, "a"sv, true},
    {"*?*?*"sv, "a"sv, false},
    {"*?*?*"sv, "ab"sv, true},
    {"a**c"sv, "abc"sv, true},
    {"***"sv, "x"sv, true},
    {"a***"sv, "a"sv, true},
    {"a**b"sv, "ab"sv, true},
    {"a**b"sv, "axxb"sv, true},
    {"**a**"sv, "bab"sv, true},
    {"**a**"sv, "bbb"sv, false},
    {"[abc]"sv, "b"sv, true},
    {"[abc]"sv, "d"sv, false},
    {"[abc]"sv, ""sv, false},
    {"[abc]"sv, "ab"sv, false},
    {"[a-z]"sv, "m"sv, true},
    {"[a-z]"sv, "a"sv, true},
    {"[a-z]"sv, "z"sv, true},
    {"[a-z]"sv, "A"sv, false},
    {"[z-a]"sv, "m"sv, true},
    {"[z-a]"sv, "a"sv, true},
    {"[z-a]"sv, "A"sv, false},
    {"[^x]"sv, "y"sv, true},
    {"[^x]"sv, "x"sv, false},
    {"[^x]"sv, ""sv, false},
    {"[^a-c]"sv, "d"sv, true},
    {"[^a-c]"sv, "b"sv, false},
    {"[]"sv, "a"sv, false},
    {"[]"sv, "]"sv, false},
    {"[]]"sv, "]"sv, false},
    {"[]]"sv, "a]"sv, false},
    {"[^]"sv, "a"sv, true},
    {"[^]"sv, "]"sv, true},
    {"[^]"sv, ""sv, false},
    {"[^]]"sv, "a]"sv, true},
    {"[^]]"sv, "a"sv, false},
    {"[\\]]"sv, "]"sv, true},
    {"[\\]]"sv, "\\"sv, false},
    {"[\\-]"sv, "-"sv, true},
    {"[a\\-z]"sv, "-"sv, true},
    {"[a\\-z]"sv, "m"sv, false},
    {"[a-]"sv, "^"sv, true},
    {"[a-]"sv, "a"sv, true},
    {"[a-]"sv, "]"sv, true},
    {"[a-]"sv, "b"sv, false},
    {"[a-]"sv, "-"sv, false},
    {"[-a]"sv, "-"sv, true},
    {"[-a]"sv, "a"sv, true},
    {"[-a]"sv, "b"sv, false},
    {"[a-c-e]"sv, "d"sv, false},
    {"[a-c-e]"sv, "-"sv, true},
    {"[a-c-e]"sv, "e"sv, true},
    {"[a-c-e]"sv, "b"sv, true},
    {"[ab"sv, "b"sv, true},
    {"a["sv, "a"sv, false},
    {"a["sv, "ab"sv, false},
    {"a["sv, "a["sv, false},
    {"a[b"sv, "ab"sv, true},
    {"a[b"sv, "ac"sv, false},
    {"a[b"sv, "a[b"sv, false},
    {"a[^"sv, "ab"sv, true},
    {"a[^"sv, "a"sv, false},
    {"["sv, "["sv, false},
    {"a[bc"sv, "ac"sv, true},
    {"[a-"sv, "-"sv, true},
    {"[a-"sv, "a"sv, true},
    {"[a-"sv, "b"sv, false},
    {"[\\"sv, "\\"sv, true},
    {"[\\"sv, "a"sv, false},
    {"[^\\"sv, "a"sv, true},
    {"[^\\"sv, "\\"sv, false},
    {"\\*"sv, "*"sv, true},
    {"\\*"sv, "a"sv, false},
    {"\\?"sv, "?"sv, true},
    {"\\?"sv, "a"sv, false},
    {"\\[a]"sv, "[a]"sv, true},
    {"\\[a]"sv, "a"sv, false},
    {"\\a"sv, "a"sv, true},
    {"\\\\"sv, "\\"sv, true},
    {"a\\"sv, "a\\"sv, true},
    {"a\\"sv, "a"sv, false},
    {"\\"sv, "\\"sv, true},
    {"*\\"sv, "ab\\"sv, true},
    {"*\\"sv, "ab"sv, false},
    {"]"sv, "]"sv, true},
    {"a]"sv, "a]"sv, true},
    {"^"sv, "^"sv, true},
    {"-"sv, "-"sv, true},
    {"a-z"sv, "m"sv, false},
    {"[a-\xff""]"sv, "\xff"""sv, true},
    {"[a-\xff""]"sv, "A"sv, true},
    {"[a-\xff""]"sv, "a"sv, true},
    {"[a-\xff""]"sv, "\x00"""sv, true},
    {"[a-\xff""]"sv, "b"sv, false},
    {"[a-\xff""]"sv, "\x80"""sv, false},
    {"[\x80""-\xff""]"sv, "\x80"""sv, true},
    {"[\x80""-\xff""]"sv, "\xc3"""sv, true},
    {"[\x80""-\xff""]"sv, "\x7f"""sv, false},
    {"[\x80""-\xff""]"sv, "a"sv, false},
    {"[\xff""-\x80""]"sv, "\xc3"""sv, true},
    {"[\x7f""-\x80""]"sv, "a"sv, true},
    {"[\x7f""-\x80""]"sv, "\xc3"""sv, true},
    {"[^\x80""-\xff""]"sv, "a"sv, true},
    {"[^\x80""-\xff""]"sv, "\x90"""sv, false},
    {"a?c"sv, "a\x00""c"sv, true},
    {"a\x00""*"sv, "a\x00""b"sv, true},
    {"a\x00""*"sv, "a\x01""b"sv, false},
    {"[\x00""-a]"sv, "\x00"""sv, true},
};

std::string random_string(std::mt19937& rng, std::string_view alphabet, size_t max_length) {
    std::uniform_int_distribution<size_t> length(0, max_length);
    std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
    std::string out(length(rng), '\0');
    for (char& c : out) c = alphabet[pick(rng)];
    return out;
}

/// A well-formed pattern and, half of the time, a text built to match it (stars expand to 0-2
/// bytes, classes yield one of their members), the other half a mutation of such a text.
std::pair<std::string, std::string> random_well_formed(std::mt19937& rng) {
    auto roll = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    const std::string_view letters = "abcxyz";
    const std::string_view specials = "*?[]\\^-";
    std::string pattern;
    std::string text;
    const int tokens = roll(7);
    for (int k = 0; k < tokens; ++k) {
        switch (roll(7)) {
            case 0: {
                pattern += '*';
                for (int r = roll(3); r > 0; --r) text += letters[static_cast<size_t>(roll(6))];
                break;
            }
            case 1:
                pattern += '?';
                text += letters[static_cast<size_t>(roll(6))];
                break;
            case 2: {
                const char c = specials[static_cast<size_t>(roll(7))];
                pattern += '\\';
                pattern += c;
                text += c;
                break;
            }
            case 3: {  // [members], possibly with a range and escaped specials
                std::string members;
                pattern += '[';
                for (int r = 1 + roll(3); r > 0; --r) {
                    if (roll(3) == 0) {
                        const char lo = letters[static_cast<size_t>(roll(6))];
                        const char hi = letters[static_cast<size_t>(roll(6))];
                        pattern += lo;
                        pattern += '-';
                        pattern += hi;
                        members += std::min(lo, hi);
                        members += std::max(lo, hi);
                    } else if (roll(4) == 0) {
                        const char c = "]-^\\"[roll(4)];
                        pattern += '\\';
                        pattern += c;
                        members += c;
                    } else {
                        const char c = letters[static_cast<size_t>(roll(6))];
                        pattern += c;
                        members += c;
                    }
                }
                pattern += ']';
                text += members[static_cast<size_t>(roll(static_cast<int>(members.size())))];
                break;
            }
            case 4: {  // [^members]: yield a letter not listed (if the guess is wrong the
                       // reference still decides the expected result)
                const char c = letters[static_cast<size_t>(roll(6))];
                pattern += "[^";
                pattern += c;
                pattern += ']';
                text += c == 'a' ? 'b' : 'a';
                break;
            }
            default: {
                const char c = letters[static_cast<size_t>(roll(6))];
                pattern += c;
                text += c;
                break;
            }
        }
    }
    if (roll(2) == 0 && !text.empty()) {
        const size_t at = static_cast<size_t>(roll(static_cast<int>(text.size())));
        switch (roll(3)) {
            case 0: text.erase(at, 1); break;
            case 1: text.insert(at, 1, letters[static_cast<size_t>(roll(6))]); break;
            default: text[at] = letters[static_cast<size_t>(roll(6))]; break;
        }
    }
    return {pattern, text};
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

}  // namespace

TEST_CASE("glob: fixed cases checked against redis-server") {
    for (const Case& c : fixed_cases) {
        CAPTURE(escape(c.pattern));
        CAPTURE(escape(c.text));
        CHECK(match_exact(c.pattern, c.text) == c.expected);
        // The reference must agree with Redis too, or the randomized comparison means nothing.
        CHECK(reference_match(c.pattern, c.text) == c.expected);
    }
}

TEST_CASE("glob: empty pattern and empty text") {
    CHECK(glob_match("", ""));
    CHECK_FALSE(glob_match("", "a"));
    CHECK_FALSE(glob_match("", "\0"sv));
    // stringmatchlen() never enters its loop for an empty string: no non-empty pattern matches
    // it, not even "*" (Redis: SUBSCRIBE "" then PUBSUB CHANNELS * lists nothing).
    CHECK_FALSE(glob_match("*", ""));
    CHECK_FALSE(glob_match("***", ""));
    CHECK_FALSE(glob_match("[^]", ""));
    CHECK(glob_match("*", "a"));
}

TEST_CASE("glob: `*` matches any run, including an empty one inside the text") {
    CHECK(glob_match("*", "x"));
    CHECK(glob_match("*", "hello world"));
    CHECK(glob_match("h*o", "ho"));
    CHECK(glob_match("h*o", "hello"));
    CHECK_FALSE(glob_match("h*o", "hellx"));
    CHECK(glob_match("*llo", "hello"));
    CHECK(glob_match("he*", "he"));
    CHECK(glob_match("*a*b*c*", "xaxbxcx"));
    CHECK_FALSE(glob_match("*a*b*c*", "xcxbxax"));
    CHECK(glob_match("news.*", "news.sport"));
    CHECK_FALSE(glob_match("news.*", "news"));
    CHECK(glob_match("news.*", "news."));
}

TEST_CASE("glob: consecutive stars behave as one") {
    CHECK(glob_match("**", "abc"));
    CHECK(glob_match("a**", "a"));
    CHECK(glob_match("a***b", "ab"));
    CHECK(glob_match("a***b", "a---b"));
    CHECK_FALSE(glob_match("a***b", "a---c"));
    CHECK(glob_match("*****x", "x"));
    CHECK(glob_match("x*****", "x"));
    const std::string many_stars(10000, '*');
    CHECK(glob_match(many_stars, "anything"));
    CHECK(glob_match(many_stars + "z", "abcz"));
    CHECK_FALSE(glob_match(many_stars + "z", "abcy"));
}

TEST_CASE("glob: `?` matches exactly one byte, any byte") {
    CHECK(glob_match("?", "a"));
    CHECK(glob_match("?", "\0"sv));
    CHECK(glob_match("?", "\xff"));
    CHECK(glob_match("?", "\n"));
    CHECK_FALSE(glob_match("?", ""));
    CHECK_FALSE(glob_match("?", "ab"));
    CHECK(glob_match("???", "abc"));
    CHECK_FALSE(glob_match("???", "abcd"));
    CHECK(glob_match("a?c", "a?c"));
}

TEST_CASE("glob: classes, ranges, reversed ranges and negation") {
    CHECK(glob_match("[abc]", "a"));
    CHECK(glob_match("[abc]", "c"));
    CHECK_FALSE(glob_match("[abc]", "d"));
    CHECK(glob_match("x[abc]y", "xby"));
    CHECK_FALSE(glob_match("x[abc]y", "xy"));
    CHECK(glob_match("[a-z]", "a"));
    CHECK(glob_match("[a-z]", "q"));
    CHECK(glob_match("[a-z]", "z"));
    CHECK_FALSE(glob_match("[a-z]", "`"));  // one below 'a'
    CHECK_FALSE(glob_match("[a-z]", "{"));  // one above 'z'
    CHECK(glob_match("[z-a]", "a"));
    CHECK(glob_match("[z-a]", "q"));
    CHECK(glob_match("[z-a]", "z"));
    CHECK_FALSE(glob_match("[z-a]", "{"));
    CHECK(glob_match("[0-9a-f]", "7"));
    CHECK(glob_match("[0-9a-f]", "e"));
    CHECK_FALSE(glob_match("[0-9a-f]", "g"));
    CHECK(glob_match("[^x]", "y"));
    CHECK_FALSE(glob_match("[^x]", "x"));
    CHECK(glob_match("[^a-c]", "d"));
    CHECK_FALSE(glob_match("[^a-c]", "b"));
    CHECK_FALSE(glob_match("[^a-c]", "bb"));
    CHECK(glob_match("[x^]", "^"));  // ^ is only special first
    CHECK(glob_match("[-x]", "-"));  // - without a range end is literal
    CHECK(glob_match("[x-]", "-") == false);  // "x-]" is the range x..']' and the class is unterminated
    CHECK(glob_match("[x-]", "x"));
    CHECK(glob_match("[x-]", "^"));  // ']' 0x5d .. 'x' 0x78 contains '^' 0x5e
    CHECK_FALSE(glob_match("[]", "]"));  // an empty class matches nothing
    CHECK(glob_match("[^]", "]"));       // its negation matches any byte
    CHECK(glob_match("[^]", "\0"sv));
}

TEST_CASE("glob: backslash escapes inside and outside classes") {
    CHECK(glob_match("\\*", "*"));
    CHECK_FALSE(glob_match("\\*", "x"));
    CHECK_FALSE(glob_match("\\*", ""));
    CHECK(glob_match("\\?", "?"));
    CHECK_FALSE(glob_match("\\?", "x"));
    CHECK(glob_match("\\[x]", "[x]"));
    CHECK_FALSE(glob_match("\\[x]", "x"));
    CHECK(glob_match("\\\\", "\\"));
    CHECK(glob_match("\\n", "n"));  // an escaped ordinary byte is itself
    CHECK(glob_match("a\\*b*", "a*bcd"));
    CHECK_FALSE(glob_match("a\\*b*", "axbcd"));
    CHECK(glob_match("[\\]]", "]"));
    CHECK(glob_match("[\\]x]", "x"));
    CHECK(glob_match("[\\^]", "^"));
    CHECK_FALSE(glob_match("[\\^]", "x"));
    CHECK(glob_match("[a\\-z]", "-"));
    CHECK_FALSE(glob_match("[a\\-z]", "m"));  // the escaped '-' is not a range
    CHECK(glob_match("[\\\\]", "\\"));
    CHECK(glob_match("[^\\]]", "x"));
    CHECK_FALSE(glob_match("[^\\]]", "]"));
}

TEST_CASE("glob: trailing backslash is a literal backslash") {
    CHECK(glob_match("\\", "\\"));
    CHECK_FALSE(glob_match("\\", ""));
    CHECK_FALSE(glob_match("\\", "x"));
    CHECK(glob_match("ab\\", "ab\\"));
    CHECK_FALSE(glob_match("ab\\", "ab"));
    CHECK(glob_match("*\\", "xyz\\"));
    CHECK_FALSE(glob_match("*\\", "xyz"));
    // Inside an unterminated class, a final backslash is a member.
    CHECK(glob_match("[\\", "\\"));
    CHECK_FALSE(glob_match("[\\", "x"));
}

TEST_CASE("glob: an unterminated class runs to the end of the pattern") {
    CHECK_FALSE(glob_match("a[", "a"));
    CHECK_FALSE(glob_match("a[", "a["));
    CHECK_FALSE(glob_match("a[", "ab"));
    CHECK(glob_match("a[b", "ab"));
    CHECK_FALSE(glob_match("a[b", "ac"));
    CHECK_FALSE(glob_match("a[b", "a[b"));
    CHECK(glob_match("a[bc", "ac"));
    CHECK_FALSE(glob_match("a[bc", "abc"));
    CHECK(glob_match("a[^", "ax"));  // negated empty set: any byte
    CHECK_FALSE(glob_match("a[^", "a"));
    CHECK(glob_match("a[^b", "ac"));
    CHECK_FALSE(glob_match("a[^b", "ab"));
    CHECK(glob_match("[a-", "-"));  // too short for a range: 'a' and '-'
    CHECK(glob_match("[a-", "a"));
    CHECK_FALSE(glob_match("[a-", "b"));
    CHECK_FALSE(glob_match("[", "["));
    CHECK_FALSE(glob_match("[", ""));
}

TEST_CASE("glob: `]` outside a class is literal") {
    CHECK(glob_match("]", "]"));
    CHECK(glob_match("a]", "a]"));
    CHECK_FALSE(glob_match("a]", "a"));
    CHECK(glob_match("[]]", "]") == false);  // "[]" is an empty class, then a literal ']'
    CHECK(glob_match("[x]]", "x]"));
    CHECK_FALSE(glob_match("[x]]", "x"));
}

TEST_CASE("glob: bytes >= 0x80 compare as signed chars in ranges") {
    // 'a' (97) .. '\xff' (-1) is swapped into -1..97: 0x00-0x61 and 0xff, but not 'b' or 0x80.
    CHECK(glob_match("[a-\xff]", "\xff"));
    CHECK(glob_match("[a-\xff]", "a"));
    CHECK(glob_match("[a-\xff]", "A"));
    CHECK(glob_match("[a-\xff]", "\0"sv));
    CHECK_FALSE(glob_match("[a-\xff]", "b"));
    CHECK_FALSE(glob_match("[a-\xff]", "\x80"));
    CHECK_FALSE(glob_match("[a-\xff]", "\xfe"));
    // 0x80..0xff is -128..-1: exactly the high bytes.
    CHECK(glob_match("[\x80-\xff]", "\x80"));
    CHECK(glob_match("[\x80-\xff]", "\xc3"));
    CHECK(glob_match("[\x80-\xff]", "\xff"));
    CHECK_FALSE(glob_match("[\x80-\xff]", "\x7f"));
    CHECK_FALSE(glob_match("[\x80-\xff]", "\0"sv));
    CHECK(glob_match("[\xff-\x80]", "\xc3"));
    // 0x7f..0x80 is 127..-128 swapped: every byte.
    CHECK(glob_match("[\x7f-\x80]", "a"));
    CHECK(glob_match("[\x7f-\x80]", "\xc3"));
    CHECK(glob_match("[\x7f-\x80]", "\0"sv));
    CHECK(glob_match("[^\x80-\xff]", "a"));
    CHECK_FALSE(glob_match("[^\x80-\xff]", "\x90"));
    // Literal high bytes compare exactly.
    CHECK(glob_match("caf\xc3\xa9*", "caf\xc3\xa9s"));
    CHECK_FALSE(glob_match("caf\xc3\xa9*", "caf\xc3\xa8s"));
    CHECK(glob_match("[\xe9]", "\xe9"));
    CHECK_FALSE(glob_match("[\xe9]", "\xe8"));
}

TEST_CASE("glob: NUL bytes are ordinary data") {
    CHECK(glob_match("a\0b"sv, "a\0b"sv));
    CHECK_FALSE(glob_match("a\0b"sv, "a"sv));
    CHECK_FALSE(glob_match("a"sv, "a\0"sv));
    CHECK(glob_match("a\0*"sv, "a\0xyz"sv));
    CHECK_FALSE(glob_match("a\0*"sv, "a\1xyz"sv));
    CHECK(glob_match("*\0"sv, "xyz\0"sv));
    CHECK(glob_match("[\0]"sv, "\0"sv));
    CHECK_FALSE(glob_match("[\0]"sv, "0"sv));
}

TEST_CASE("glob: random patterns over a small alphabet agree with the reference") {
    std::mt19937 rng(20240531);
    const std::string_view pattern_alphabet = "ab*?[]^-\\";
    const std::string_view text_alphabet = "ab*?[]^-\\\x80\xff";
    size_t matched = 0;
    size_t mismatches = 0;
    constexpr size_t rounds = 200000;
    for (size_t i = 0; i < rounds; ++i) {
        const std::string pattern = random_string(rng, pattern_alphabet, 8);
        const std::string text = random_string(rng, i % 2 ? text_alphabet : "ab", 7);
        const bool expected = reference_match(pattern, text);
        const bool actual = match_exact(pattern, text);
        matched += expected;
        if (actual != expected && ++mismatches <= 20) {
            CAPTURE(escape(pattern));
            CAPTURE(escape(text));
            CHECK(actual == expected);
        }
    }
    CHECK(mismatches == 0);
    // The comparison is only meaningful if both outcomes occur often.
    CHECK(matched > rounds / 100);
    CHECK(matched < rounds - rounds / 100);
}

TEST_CASE("glob: random well-formed patterns agree with the reference") {
    std::mt19937 rng(7);
    size_t matched = 0;
    size_t mismatches = 0;
    constexpr size_t rounds = 100000;
    for (size_t i = 0; i < rounds; ++i) {
        const auto generated = random_well_formed(rng);
        const std::string& pattern = generated.first;
        const std::string& text = generated.second;
        const bool expected = reference_match(pattern, text);
        const bool actual = match_exact(pattern, text);
        matched += expected;
        if (actual != expected && ++mismatches <= 20) {
            CAPTURE(escape(pattern));
            CAPTURE(escape(text));
            CHECK(actual == expected);
        }
    }
    CHECK(mismatches == 0);
    CHECK(matched > rounds / 4);
    CHECK(matched < rounds - rounds / 10);
}

TEST_CASE("glob: every match starts with the pattern's literal prefix") {
    std::mt19937 rng(99);
    size_t checked = 0;
    for (size_t i = 0; i < 50000; ++i) {
        const auto generated = random_well_formed(rng);
        const std::string& pattern = generated.first;
        const std::string& text = generated.second;
        if (!glob_match(pattern, text)) continue;
        ++checked;
        const std::string_view prefix = glob_literal_prefix(pattern);
        if (!std::string_view(text).starts_with(prefix)) {
            CAPTURE(escape(pattern));
            CAPTURE(escape(text));
            CHECK(std::string_view(text).starts_with(prefix));
        }
    }
    CHECK(checked > 10000);
}

TEST_CASE("glob: more than 1000 nested stars give up as no match") {
    // "*?" repeated n against n bytes matches when every star is empty, but each star nests
    // one level deeper: 1000 levels are allowed, the 1001st gives up.
    auto pairs = [](size_t n) {
        std::string pattern;
        for (size_t i = 0; i < n; ++i) pattern += "*?";
        return pattern;
    };
    CHECK(glob_match(pairs(999), std::string(999, 'a')));
    CHECK(glob_match(pairs(1000), std::string(1000, 'a')));
    CHECK_FALSE(glob_match(pairs(1001), std::string(1001, 'a')));
    CHECK_FALSE(glob_match(pairs(1001), std::string(5000, 'a')));
    // 1001 stars that are never nested (the text runs out first) are fine.
    CHECK(glob_match("a" + std::string(1001, '*'), "a"));
}

TEST_CASE("glob: pathological patterns finish quickly") {
    {
        std::string pattern;
        for (int i = 0; i < 50000; ++i) pattern += "*?";
        const std::string text(50000, 'a');
        const auto start = std::chrono::steady_clock::now();
        const bool result = glob_match(pattern, text);
        const double ms = elapsed_ms(start);
        CHECK_FALSE(result);
        CAPTURE(ms);
        CHECK(ms < 200.0);
    }
    {
        const std::string text(10000, 'a');
        const auto start = std::chrono::steady_clock::now();
        const bool result = glob_match("a*a*a*a*a*a*a*a*a*a*b", text);
        const bool result_b = glob_match("a*a*a*a*a*a*a*a*a*a*b", text + "b");
        const double ms = elapsed_ms(start);
        CHECK_FALSE(result);
        CHECK(result_b);
        CAPTURE(ms);
        CHECK(ms < 200.0);
    }
    {
        // Many stars with a class that never matches at the end.
        std::string pattern;
        for (int i = 0; i < 500; ++i) pattern += "*a";
        pattern += "[b]";
        const std::string text(20000, 'a');
        const auto start = std::chrono::steady_clock::now();
        const bool result = glob_match(pattern, text);
        const double ms = elapsed_ms(start);
        CHECK_FALSE(result);
        CAPTURE(ms);
        CHECK(ms < 200.0);
    }
}

TEST_CASE("glob: literal prefix stops at the first `*`, `?`, `[` or `\\`") {
    CHECK(glob_literal_prefix("") == "");
    CHECK(glob_literal_prefix("abc") == "abc");
    CHECK(glob_literal_prefix("news.*") == "news.");
    CHECK(glob_literal_prefix("*") == "");
    CHECK(glob_literal_prefix("*x") == "");
    CHECK(glob_literal_prefix("?x") == "");
    CHECK(glob_literal_prefix("[a]x") == "");
    CHECK(glob_literal_prefix("\\*x") == "");
    CHECK(glob_literal_prefix("a?b*") == "a");
    CHECK(glob_literal_prefix("ab[cd]") == "ab");
    CHECK(glob_literal_prefix("ab\\*") == "ab");
    CHECK(glob_literal_prefix("a]b-c^d*") == "a]b-c^d");
    CHECK(glob_literal_prefix("a\0b*"sv) == "a\0b"sv);
    CHECK(glob_literal_prefix("\xc3\xa9t\xc3\xa9?") == "\xc3\xa9t\xc3\xa9");
    // The prefix is a view into the pattern, not a copy.
    const std::string pattern = "prefix*";
    CHECK(glob_literal_prefix(pattern).data() == pattern.data());
}

TEST_CASE("glob: literal suffix") {
    CHECK(backplane::glob_literal_suffix("bench:ch:*:x1.2") == ":x1.2");
    CHECK(backplane::glob_literal_suffix("a?bc") == "bc");
    CHECK(backplane::glob_literal_suffix("abc*") == "");
    CHECK(backplane::glob_literal_suffix("abc") == "");  // all prefix
    CHECK(backplane::glob_literal_suffix("*[ab]c") == "");
    CHECK(backplane::glob_literal_suffix("*[ab") == "");  // an unterminated class runs to the end
    CHECK(backplane::glob_literal_suffix("*\\*x") == "");
    // Every match ends with the suffix (on random well-formed patterns).
    std::mt19937 rng(7);
    size_t checked = 0;
    for (size_t i = 0; i < 50000; ++i) {
        const auto generated = random_well_formed(rng);
        const std::string& pattern = generated.first;
        const std::string& text = generated.second;
        if (!glob_match(pattern, text)) continue;
        ++checked;
        const std::string_view prefix = glob_literal_prefix(pattern);
        const std::string_view suffix = backplane::glob_literal_suffix(pattern);
        CHECK(std::string_view(text).ends_with(suffix));
        CHECK(text.size() >= prefix.size() + suffix.size());
    }
    CHECK(checked > 10000);
}
