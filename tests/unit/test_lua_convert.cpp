// The Lua <-> RESP conversion of the scripting engine: what redis.call hands a script for each
// reply type, and the exact bytes EVAL replies for each Lua value, by Redis 7.0's rules.

#include <doctest/doctest.h>

#include <cmath>
#include <lua.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/reply_writer.hpp"
#include "server/scripting/lua_convert.hpp"

using backplane::protocol::ReplyWriter;
using backplane::protocol::RespVersion;
using namespace backplane::scripting;
using namespace std::string_literals;

namespace {

struct LuaState {
    std::unique_ptr<lua_State, void (*)(lua_State*)> state{luaL_newstate(), lua_close};
    lua_State* get() const { return state.get(); }
};

/// Runs `chunk` (which returns one value) and writes that value as a reply.
std::string reply_of(std::string_view chunk, RespVersion version = RespVersion::resp2,
                     bool script_resp3 = false) {
    LuaState lua;
    REQUIRE(luaL_loadbuffer(lua.get(), chunk.data(), chunk.size(), "test") == 0);
    REQUIRE(lua_pcall(lua.get(), 0, 1, 0) == 0);
    std::string out;
    ReplyWriter writer(out, version);
    write_lua_as_resp(lua.get(), writer, script_resp3);
    CHECK(lua_gettop(lua.get()) == 0);
    return out;
}

/// Converts `resp` to a Lua value, then runs `check` (a Lua function body taking the value as
/// `v`) and returns its string result.
std::string lua_view_of(std::string_view resp, std::string_view check) {
    LuaState lua;
    luaL_openlibs(lua.get());
    const std::string function = "return function(v) " + std::string(check) + " end";
    REQUIRE(luaL_loadbuffer(lua.get(), function.data(), function.size(), "check") == 0);
    REQUIRE(lua_pcall(lua.get(), 0, 1, 0) == 0);
    CHECK(push_resp_as_lua(lua.get(), resp) == resp.size());
    REQUIRE(lua_pcall(lua.get(), 1, 1, 0) == 0);
    size_t length = 0;
    const char* text = lua_tolstring(lua.get(), -1, &length);
    REQUIRE(text != nullptr);
    return std::string(text, length);
}

}  // namespace

TEST_CASE("RESP2 replies become the Lua values Redis gives scripts") {
    CHECK(lua_view_of(":42\r\n", "return type(v) .. ' ' .. v") == "number 42");
    CHECK(lua_view_of(":-7\r\n", "return tostring(v)") == "-7");
    CHECK(lua_view_of("$5\r\nhe\0lo\r\n"s, "return type(v) .. #v") == "string5");
    CHECK(lua_view_of("$0\r\n\r\n", "return '[' .. v .. ']'") == "[]");
    CHECK(lua_view_of("$-1\r\n", "return tostring(v)") == "false");
    CHECK(lua_view_of("*-1\r\n", "return tostring(v)") == "false");
    CHECK(lua_view_of("+OK\r\n", "return type(v) .. ' ' .. v.ok") == "table OK");
    CHECK(lua_view_of("-ERR no such key\r\n", "return v.err") == "ERR no such key");
    CHECK(lua_view_of("-WRONGTYPE Operation\r\n", "return v.err") == "WRONGTYPE Operation");
    CHECK(lua_view_of("-ERR x\r\n", "return tostring(v.ignore_error_stats_update)") == "true");
    CHECK(lua_view_of("*3\r\n:1\r\n$1\r\na\r\n*1\r\n+x\r\n",
                      "return #v .. v[1] .. v[2] .. v[3][1].ok") == "31ax");
    CHECK(lua_view_of("*0\r\n", "return type(v) .. #v") == "table0");
    CHECK(lua_view_of("*2\r\n$-1\r\n:5\r\n", "return tostring(v[1]) .. v[2]") == "false5");
}

TEST_CASE("RESP3 replies (after redis.setresp(3)) become Redis's typed tables") {
    CHECK(lua_view_of("_\r\n", "return tostring(v)") == "nil");
    CHECK(lua_view_of("#t\r\n", "return tostring(v)") == "true");
    CHECK(lua_view_of("#f\r\n", "return tostring(v)") == "false");
    CHECK(lua_view_of(",3.5\r\n", "return tostring(v.double)") == "3.5");
    CHECK(lua_view_of(",inf\r\n", "return tostring(v.double)") == "inf");
    CHECK(lua_view_of("(12345678901234567890\r\n", "return v.big_number") ==
          "12345678901234567890");
    CHECK(lua_view_of("%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n:2\r\n",
                      "return v.map.a .. v.map.b[1]") == "12");
    CHECK(lua_view_of("~2\r\n$1\r\nx\r\n$1\r\ny\r\n",
                      "return tostring(v.set.x) .. tostring(v.set.y)") == "truetrue");
    CHECK(lua_view_of("=9\r\ntxt:hello\r\n",
                      "return v.verbatim_string.format .. '|' .. v.verbatim_string.string") ==
          "txt|hello");
}

TEST_CASE("Lua values become replies: numbers truncate, false and nil are null") {
    CHECK(reply_of("return 1") == ":1\r\n");
    CHECK(reply_of("return 3.99") == ":3\r\n");
    CHECK(reply_of("return -3.99") == ":-3\r\n");
    CHECK(reply_of("return 1e20") == ":-9223372036854775808\r\n");
    CHECK(reply_of("return 0/0") == ":-9223372036854775808\r\n");
    CHECK(reply_of("return 'a\\0b'") == "$3\r\na\0b\r\n"s);
    CHECK(reply_of("return true") == ":1\r\n");
    CHECK(reply_of("return false") == "$-1\r\n");
    CHECK(reply_of("return nil") == "$-1\r\n");
    CHECK(reply_of("return false", RespVersion::resp3) == "_\r\n");
    CHECK(reply_of("return function() end") == "$-1\r\n");
}

TEST_CASE("after redis.setresp(3) booleans are RESP3 booleans, degraded for RESP2 callers") {
    CHECK(reply_of("return true", RespVersion::resp3, true) == "#t\r\n");
    CHECK(reply_of("return false", RespVersion::resp3, true) == "#f\r\n");
    CHECK(reply_of("return true", RespVersion::resp2, true) == ":1\r\n");
    CHECK(reply_of("return false", RespVersion::resp2, true) == ":0\r\n");
}

TEST_CASE("tables: arrays stop at the first nil; ok and err tables; typed tables") {
    CHECK(reply_of("return {1, 'two', {3}}") == "*3\r\n:1\r\n$3\r\ntwo\r\n*1\r\n:3\r\n");
    CHECK(reply_of("return {1, nil, 3}") == "*1\r\n:1\r\n");
    CHECK(reply_of("return {}") == "*0\r\n");
    CHECK(reply_of("return {a = 1}") == "*0\r\n");
    CHECK(reply_of("return {ok = 'FINE'}") == "+FINE\r\n");
    CHECK(reply_of("return {ok = 'a\\r\\nb'}") == "+a  b\r\n");
    CHECK(reply_of("return {err = 'MY code'}") == "-MY code\r\n");
    CHECK(reply_of("return {err = '\\nx\\r\\ny\\r\\n'}") == "-x  y\r\n");
    CHECK(reply_of("return {err = 'E', ok = 'O'}") == "-E\r\n");
    CHECK(reply_of("return {ok = 5}") == "*0\r\n");
    CHECK(reply_of("return {double = 3.5}") == "$3\r\n3.5\r\n");
    CHECK(reply_of("return {double = 0.1}", RespVersion::resp3) == ",0.10000000000000001\r\n");
    CHECK(reply_of("return {big_number = '123'}", RespVersion::resp3) == "(123\r\n");
    CHECK(reply_of("return {verbatim_string = {format = 'mkd', string = 'x'}}",
                   RespVersion::resp3) == "=5\r\nmkd:x\r\n");
    CHECK(reply_of("return {map = {a = 1}}") == "*2\r\n$1\r\na\r\n:1\r\n");
    CHECK(reply_of("return {map = {a = 1}}", RespVersion::resp3) == "%1\r\n$1\r\na\r\n:1\r\n");
    CHECK(reply_of("return {set = {a = true}}", RespVersion::resp3) == "~1\r\n$1\r\na\r\n");
}

TEST_CASE("a table that holds itself ends with Redis's stack-limit error") {
    const std::string out = reply_of("local t = {} t[1] = t return t");
    const std::string tail = "-ERR reached lua stack limit\r\n";
    REQUIRE(out.size() > tail.size());
    CHECK(out.substr(out.size() - tail.size()) == tail);
    CHECK(out.substr(0, 4) == "*1\r\n");
}

TEST_CASE("error tables keep a reply's code or add ERR") {
    LuaState lua;
    const auto err_of = [&](std::string_view error) {
        push_error_table(lua.get(), error);
        lua_getfield(lua.get(), -1, "err");
        std::string text = lua_tostring(lua.get(), -1);
        lua_pop(lua.get(), 2);
        return text;
    };
    CHECK(err_of("-WRONGTYPE Operation against a key") == "WRONGTYPE Operation against a key");
    CHECK(err_of("-NOCODE") == "ERR NOCODE");
    CHECK(err_of("-") == "ERR ");
    CHECK(err_of("plain message") == "ERR plain message");
    CHECK(err_of("-ERR trailing\r\n") == "ERR trailing");
}

TEST_CASE("numbers passed to redis.call are printed as %.17g") {
    LuaState lua;
    const auto text_of = [&](lua_Number number) {
        push_number_argument(lua.get(), number);
        std::string text = lua_tostring(lua.get(), -1);
        lua_pop(lua.get(), 1);
        return text;
    };
    CHECK(text_of(12) == "12");
    CHECK(text_of(3.5) == "3.5");
    CHECK(text_of(0.1) == "0.10000000000000001");
    CHECK(text_of(1e20) == "1e+20");
    CHECK(text_of(-0.5) == "-0.5");
    CHECK(text_of(123456.789) == "123456.789");
    CHECK(text_of(HUGE_VAL) == "inf");
    CHECK(number_to_integer(-0.9) == 0);
    CHECK(number_to_integer(9.2e18) == 9200000000000000000LL);
    CHECK(number_to_integer(-1e19) == INT64_MIN);
}
