#include "server/scripting/lua_convert.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace backplane::scripting {
namespace {

/// The text of the line starting at `bytes[at]` (after the type byte), and where the next
/// line starts.
std::string_view line_at(std::string_view bytes, size_t at, size_t& next) {
    const size_t end = bytes.find("\r\n", at);
    next = end == std::string_view::npos ? bytes.size() : end + 2;
    return bytes.substr(at, (end == std::string_view::npos ? bytes.size() : end) - at);
}

int64_t parse_count(std::string_view text) {
    int64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

/// Sets t[name] = value-on-top for the table just below the value.
void set_field(lua_State* lua, const char* name) { lua_setfield(lua, -2, name); }

/// Pushes {<field>={...}} for a RESP3 map or set of `count` entries starting at `at`.
size_t push_map_or_set(lua_State* lua, std::string_view bytes, size_t at, int64_t count,
                       bool is_map) {
    lua_newtable(lua);
    lua_newtable(lua);
    for (int64_t i = 0; i < count; ++i) {
        at += push_resp_as_lua(lua, bytes.substr(at));
        if (is_map) {
            at += push_resp_as_lua(lua, bytes.substr(at));
        } else {
            lua_pushboolean(lua, 1);
        }
        lua_settable(lua, -3);
    }
    set_field(lua, is_map ? "map" : "set");
    return at;
}

}  // namespace

size_t push_resp_as_lua(lua_State* lua, std::string_view bytes) {
    if (bytes.empty() || !lua_checkstack(lua, 5)) {
        lua_pushnil(lua);
        return bytes.size();
    }
    size_t next = 0;
    const std::string_view text = line_at(bytes, 1, next);
    switch (bytes[0]) {
        case ':':
            lua_pushnumber(lua, static_cast<lua_Number>(parse_count(text)));
            return next;
        case '$':
        case '=': {
            const int64_t length = parse_count(text);
            if (length < 0) {
                lua_pushboolean(lua, 0);
                return next;
            }
            const std::string_view body = bytes.substr(next, static_cast<size_t>(length));
            if (bytes[0] == '$') {
                lua_pushlstring(lua, body.data(), body.size());
            } else {
                lua_newtable(lua);
                lua_newtable(lua);
                lua_pushlstring(lua, body.data(), std::min<size_t>(3, body.size()));
                set_field(lua, "format");
                const std::string_view value = body.size() > 4 ? body.substr(4) : "";
                lua_pushlstring(lua, value.data(), value.size());
                set_field(lua, "string");
                set_field(lua, "verbatim_string");
            }
            return std::min(bytes.size(), next + body.size() + 2);
        }
        case '+':
            lua_newtable(lua);
            lua_pushlstring(lua, text.data(), text.size());
            set_field(lua, "ok");
            return next;
        case '-':
            push_error_table(lua, bytes.substr(0, text.size() + 1));
            // The command already counted this error; Redis marks it so the script does not
            // count it again, and scripts can see the field.
            lua_pushboolean(lua, 1);
            set_field(lua, "ignore_error_stats_update");
            return next;
        case '*':
        case '>': {
            const int64_t count = parse_count(text);
            if (count < 0) {
                lua_pushboolean(lua, 0);
                return next;
            }
            lua_newtable(lua);
            size_t at = next;
            for (int64_t i = 0; i < count; ++i) {
                lua_pushnumber(lua, static_cast<lua_Number>(i + 1));
                at += push_resp_as_lua(lua, bytes.substr(at));
                lua_settable(lua, -3);
            }
            return at;
        }
        case '%':
            return push_map_or_set(lua, bytes, next, parse_count(text), true);
        case '~':
            return push_map_or_set(lua, bytes, next, parse_count(text), false);
        case '_':
            lua_pushnil(lua);
            return next;
        case '#':
            lua_pushboolean(lua, text == "t");
            return next;
        case ',': {
            const std::string number(text);
            lua_newtable(lua);
            lua_pushnumber(lua, std::strtod(number.c_str(), nullptr));
            set_field(lua, "double");
            return next;
        }
        case '(':
            lua_newtable(lua);
            lua_pushlstring(lua, text.data(), text.size());
            set_field(lua, "big_number");
            return next;
        default:
            lua_pushnil(lua);
            return bytes.size();
    }
}

void push_error_table(lua_State* lua, std::string_view error) {
    std::string code = "ERR";
    std::string_view message = error;
    if (!error.empty() && error[0] == '-') {
        const size_t space = error.find(' ');
        if (space == std::string_view::npos) {
            message = error.substr(1);
        } else {
            code = error.substr(1, space - 1);
            message = error.substr(space + 1);
        }
    }
    while (!message.empty() && (message.front() == '\r' || message.front() == '\n'))
        message.remove_prefix(1);
    while (!message.empty() && (message.back() == '\r' || message.back() == '\n'))
        message.remove_suffix(1);
    const std::string full = code + " " + std::string(message);
    lua_newtable(lua);
    lua_pushlstring(lua, full.data(), full.size());
    lua_setfield(lua, -2, "err");
}

void push_number_argument(lua_State* lua, lua_Number number) {
    char text[64];
    const int length = std::snprintf(text, sizeof text, "%.17g", static_cast<double>(number));
    lua_pushlstring(lua, text, static_cast<size_t>(length));
}

int64_t number_to_integer(lua_Number number) {
    constexpr double limit = 9223372036854775808.0;  // 2^63
    if (std::isnan(number) || number >= limit || number < -limit)
        return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(number);
}

namespace {

/// The string field `name` of the table on top, or false when it is absent or not a string.
bool string_field(lua_State* lua, const char* name, std::string_view& out) {
    lua_pushstring(lua, name);
    lua_rawget(lua, -2);
    const bool found = lua_type(lua, -1) == LUA_TSTRING;
    if (found) {
        size_t length = 0;
        const char* data = lua_tolstring(lua, -1, &length);
        out = std::string_view(data, length);
    }
    lua_pop(lua, 1);  // the string stays alive: the table still refers to it
    return found;
}

/// Replies the map or set held in the table on top of the stack (popped by the caller).
void write_map_or_set(lua_State* lua, protocol::ReplyWriter& reply, bool script_resp3,
                      bool is_map) {
    size_t count = 0;
    lua_pushnil(lua);
    while (lua_next(lua, -2)) {
        lua_pop(lua, 1);
        ++count;
    }
    if (is_map) {
        reply.map(count);
    } else {
        reply.set(count);
    }
    lua_pushnil(lua);
    while (lua_next(lua, -2)) {
        lua_pushvalue(lua, -2);
        // Stack: table, key, value, key copy. Each write pops what it writes.
        if (is_map) {
            write_lua_as_resp(lua, reply, script_resp3);  // the key copy
            write_lua_as_resp(lua, reply, script_resp3);  // the value
        } else {
            write_lua_as_resp(lua, reply, script_resp3);  // the key copy
            lua_pop(lua, 1);                              // the value (true)
        }
    }
}

void write_table(lua_State* lua, protocol::ReplyWriter& reply, bool script_resp3) {
    std::string_view text;
    if (string_field(lua, "err", text)) {
        while (!text.empty() && (text.front() == '\r' || text.front() == '\n'))
            text.remove_prefix(1);
        while (!text.empty() && (text.back() == '\r' || text.back() == '\n')) text.remove_suffix(1);
        reply.error(text);
        return;
    }
    if (string_field(lua, "ok", text)) {
        reply.simple(text);
        return;
    }
    lua_getfield(lua, -1, "double");
    if (lua_type(lua, -1) == LUA_TNUMBER) {
        reply.double_value(lua_tonumber(lua, -1));
        lua_pop(lua, 1);
        return;
    }
    lua_pop(lua, 1);
    if (string_field(lua, "big_number", text)) {
        reply.big_number(text);
        return;
    }
    lua_getfield(lua, -1, "verbatim_string");
    if (lua_type(lua, -1) == LUA_TTABLE) {
        std::string_view format;
        std::string_view body;
        if (string_field(lua, "format", format) && string_field(lua, "string", body)) {
            reply.verbatim(body, format.substr(0, 3));
            lua_pop(lua, 1);
            return;
        }
    }
    lua_pop(lua, 1);
    for (const char* kind : {"map", "set"}) {
        lua_getfield(lua, -1, kind);
        if (lua_type(lua, -1) == LUA_TTABLE) {
            write_map_or_set(lua, reply, script_resp3, kind[0] == 'm');
            lua_pop(lua, 1);
            return;
        }
        lua_pop(lua, 1);
    }
    size_t count = 0;
    while (true) {
        lua_rawgeti(lua, -1, static_cast<int>(count + 1));
        const bool end = lua_isnil(lua, -1);
        lua_pop(lua, 1);
        if (end) break;
        ++count;
    }
    reply.array(count);
    for (size_t i = 1; i <= count; ++i) {
        lua_rawgeti(lua, -1, static_cast<int>(i));
        write_lua_as_resp(lua, reply, script_resp3);
    }
}

}  // namespace

void write_lua_as_resp(lua_State* lua, protocol::ReplyWriter& reply, bool script_resp3) {
    // A table holding itself would recurse forever; Redis stops where the Lua stack cannot
    // grow, with this error in place of the element.
    if (!lua_checkstack(lua, 4)) {
        reply.error("ERR reached lua stack limit");
        lua_pop(lua, 1);
        return;
    }
    switch (lua_type(lua, -1)) {
        case LUA_TSTRING: {
            size_t length = 0;
            const char* data = lua_tolstring(lua, -1, &length);
            reply.bulk(std::string_view(data, length));
            break;
        }
        case LUA_TBOOLEAN:
            if (script_resp3) {
                reply.boolean(lua_toboolean(lua, -1) != 0);
            } else if (lua_toboolean(lua, -1)) {
                reply.integer(1);
            } else {
                reply.null();
            }
            break;
        case LUA_TNUMBER:
            reply.integer(number_to_integer(lua_tonumber(lua, -1)));
            break;
        case LUA_TTABLE:
            write_table(lua, reply, script_resp3);
            break;
        default:
            reply.null();
            break;
    }
    lua_pop(lua, 1);
}

}  // namespace backplane::scripting
