// split_args(): Redis sdssplitargs() quoting rules, except that NUL is ordinary data.

#include <doctest/doctest.h>

#include "escape.hpp"

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/split_args.hpp"

using backplane::protocol::split_args;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

/// "[a] [b c]" for the arguments of `line`, or "unbalanced" when split_args() fails.
/// The line is copied to a heap block of exactly its size, so ASan flags any read past the end.
std::string split(std::string_view line) {
    auto copy = std::make_unique<char[]>(line.size());
    if (!line.empty()) std::memcpy(copy.get(), line.data(), line.size());
    std::string storage;
    std::vector<std::string_view> args;
    if (!split_args(std::string_view(copy.get(), line.size()), storage, args)) return "unbalanced";
    std::string out;
    for (auto arg : args) {
        if (!out.empty()) out += ' ';
        out += '[' + escape(arg) + ']';
    }
    return out;
}

std::string expect(std::initializer_list<std::string_view> args) {
    std::string out;
    for (auto arg : args) {
        if (!out.empty()) out += ' ';
        out += '[' + escape(arg) + ']';
    }
    return out;
}

}  // namespace

TEST_CASE("split_args: blanks separate arguments") {
    CHECK(split("") == "");
    CHECK(split("   ") == "");
    CHECK(split(" \t\r\n\v\f ") == "");
    CHECK(split("PING") == expect({"PING"}));
    CHECK(split("a b c") == expect({"a", "b", "c"}));
    CHECK(split("  a   b  ") == expect({"a", "b"}));
    CHECK(split("a\tb\nc\rd") == expect({"a", "b", "c", "d"}));
    CHECK(split("SET key value") == expect({"SET", "key", "value"}));
}

TEST_CASE("split_args: \\v and \\f are blanks between arguments but do not end a bare token") {
    // sdssplitargs() skips isspace() bytes between tokens, but a bare token only ends at
    // ' ', '\n', '\r', '\t' (and end of line).
    CHECK(split("a \v\f b") == expect({"a", "b"}));
    CHECK(split("\va\f") == expect({"a\f"}));
    CHECK(split("\v\fa \v") == expect({"a"}));
    CHECK(split("a\vb") == expect({"a\vb"}));
    CHECK(split("a\fb c") == expect({"a\fb", "c"}));
}

TEST_CASE("split_args: double quotes and their escapes") {
    CHECK(split("\"a b\"") == expect({"a b"}));
    CHECK(split("SET \"hello world\" x") == expect({"SET", "hello world", "x"}));
    CHECK(split(R"("\n\r\t\b\a")") == expect({"\n\r\t\b\a"}));
    CHECK(split(R"("\"")") == expect({"\""}));
    CHECK(split(R"("\\")") == expect({"\\"}));
    CHECK(split(R"("a\"b\\c")") == expect({"a\"b\\c"}));
    CHECK(split(R"("\q\'\ ")") == expect({"q' "}));  // any other escaped byte is itself
    CHECK(split(R"("'")") == expect({"'"}));
    CHECK(split("\"\t\r\n\"") == expect({"\t\r\n"}));  // raw blanks inside quotes are data
}

TEST_CASE("split_args: \\xHH escapes") {
    CHECK(split(R"("\x41")") == expect({"A"}));
    CHECK(split(R"("\x7a\x7A")") == expect({"zz"}));
    CHECK(split(R"("\xff\xFe")") == expect({"\xff\xfe"}));
    CHECK(split(R"("\x00")") == expect({"\0"sv}));
    CHECK(split(R"("\x0d\x0a")") == expect({"\r\n"}));
    CHECK(split(R"("\x414")") == expect({"A4"}));  // exactly two hex digits
    // Without two hex digits it is the plain escape of 'x'.
    CHECK(split(R"("\x4")") == expect({"x4"}));
    CHECK(split(R"("\xg1")") == expect({"xg1"}));
    CHECK(split(R"("\x")") == expect({"x"}));
    CHECK(split(R"("\X41")") == expect({"X41"}));
    // Outside quotes, backslashes are literal.
    CHECK(split(R"(\x41)") == expect({"\\x41"}));
    CHECK(split(R"(a\nb)") == expect({"a\\nb"}));
}

TEST_CASE("split_args: single quotes understand only \\'") {
    CHECK(split("'a b'") == expect({"a b"}));
    CHECK(split(R"('it\'s')") == expect({"it's"}));
    CHECK(split(R"('a\nb')") == expect({"a\\nb"}));
    CHECK(split(R"('\x41')") == expect({"\\x41"}));
    CHECK(split(R"('a\\b')") == expect({"a\\\\b"}));
    CHECK(split(R"('a"b')") == expect({"a\"b"}));
    CHECK(split(R"('\"')") == expect({"\\\""}));
}

TEST_CASE("split_args: empty quoted arguments") {
    CHECK(split("\"\"") == expect({""}));
    CHECK(split("''") == expect({""}));
    CHECK(split("a \"\" b") == expect({"a", "", "b"}));
    CHECK(split("ECHO ''") == expect({"ECHO", ""}));
    CHECK(split("\"\" \"\"") == expect({"", ""}));
}

TEST_CASE("split_args: bare text glued to an opening quote joins the token") {
    CHECK(split("ab\"cd\"") == expect({"abcd"}));
    CHECK(split("ab'cd'") == expect({"abcd"}));
    CHECK(split("ab\"c d\" e") == expect({"abc d", "e"}));
    CHECK(split("k=\"v 1\"") == expect({"k=v 1"}));
}

TEST_CASE("split_args: a closing quote must be followed by a blank or the end") {
    CHECK(split("\"ab\"cd") == "unbalanced");
    CHECK(split("'ab'cd") == "unbalanced");
    CHECK(split("\"ab\"\"cd\"") == "unbalanced");
    CHECK(split("a\"\"b") == "unbalanced");
    CHECK(split("\"a\"'b'") == "unbalanced");
    CHECK(split("SET \"a\"x 1") == "unbalanced");
    // Every blank is accepted after the closing quote.
    CHECK(split("\"a\" b") == expect({"a", "b"}));
    CHECK(split("\"a\"\tb") == expect({"a", "b"}));
    CHECK(split("\"a\"\nb") == expect({"a", "b"}));
    CHECK(split("\"a\"\rb") == expect({"a", "b"}));
    CHECK(split("\"a\"\vb") == expect({"a", "b"}));
    CHECK(split("\"a\"\fb") == expect({"a", "b"}));
    CHECK(split("'a'\vb") == expect({"a", "b"}));
    CHECK(split("\"a\"") == expect({"a"}));
    CHECK(split("\"a\"   ") == expect({"a"}));
}

TEST_CASE("split_args: unterminated quotes") {
    CHECK(split("\"abc") == "unbalanced");
    CHECK(split("'abc") == "unbalanced");
    CHECK(split("SET \"a b") == "unbalanced");
    CHECK(split("\"") == "unbalanced");
    CHECK(split("'") == "unbalanced");
    CHECK(split(R"("abc\")") == "unbalanced");  // the quote is escaped
    CHECK(split(R"("abc\)") == "unbalanced");   // a trailing backslash
    CHECK(split(R"('abc\')") == "unbalanced");
    CHECK(split(R"("\x4)") == "unbalanced");
    CHECK(split("a \"b\" 'c") == "unbalanced");
}

TEST_CASE("split_args: NUL is ordinary data (deliberate difference from sdssplitargs)") {
    CHECK(split("a\0b c"sv) == expect({"a\0b"sv, "c"}));
    CHECK(split("\0"sv) == expect({"\0"sv}));
    CHECK(split("PING\0"sv) == expect({"PING\0"sv}));
    CHECK(split("\"a\0b\""sv) == expect({"a\0b"sv}));
    CHECK(split("'\0'"sv) == expect({"\0"sv}));
    CHECK(split("\"\\\0\""sv) == expect({"\0"sv}));  // backslash-NUL escapes the NUL
    // A NUL right after a closing quote is data, so the quote is followed by a non-blank.
    CHECK(split("\"a\"\0"sv) == "unbalanced");
    // A NUL does not end the line: a quote after it is still unterminated.
    CHECK(split("a\0\"b"sv) == "unbalanced");
}

TEST_CASE("split_args: clears storage and args, and the views point into storage") {
    std::string storage = "leftover bytes from the last line";
    std::vector<std::string_view> args = {"stale", "views"};
    REQUIRE(split_args(R"(SET "k\x41" 'v w')", storage, args));
    REQUIRE(args.size() == 3);
    CHECK(args[0] == "SET");
    CHECK(args[1] == "kA");
    CHECK(args[2] == "v w");
    CHECK(storage == "SETkAv w");
    for (auto arg : args) {
        CHECK(arg.data() >= storage.data());
        CHECK(arg.data() + arg.size() <= storage.data() + storage.size());
    }

    REQUIRE(split_args("", storage, args));
    CHECK(args.empty());
    CHECK(storage.empty());

    REQUIRE(split_args("  \t ", storage, args));
    CHECK(args.empty());
}

TEST_CASE("split_args: many arguments survive storage growth") {
    std::string line;
    for (int i = 0; i < 2000; ++i) line += "\"arg\\x20" + std::to_string(i) + "\" ";
    std::string storage;
    storage.shrink_to_fit();
    std::vector<std::string_view> args;
    REQUIRE(split_args(line, storage, args));
    REQUIRE(args.size() == 2000);
    bool all_match = true;
    for (int i = 0; i < 2000; ++i) all_match &= args[i] == "arg " + std::to_string(i);
    CHECK(all_match);
    CHECK(args[1999] == "arg 1999");
}

TEST_CASE("split_args: reads only the given bytes") {
    const std::string_view line = "ECHO \"ab\" trailing";
    CHECK(split(line.substr(0, 9)) == expect({"ECHO", "ab"}));
    CHECK(split(line.substr(0, 8)) == "unbalanced");  // cut before the closing quote
    CHECK(split(line.substr(0, 7)) == "unbalanced");
    CHECK(split(line.substr(0, 4)) == expect({"ECHO"}));
}
