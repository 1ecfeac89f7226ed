#include "server/scripting/script_engine.hpp"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <exception>
#include <lua.hpp>
#include <string>
#include <vector>

extern "C" {
#include <lua-bitop.h>
#include <lua-cjson.h>
}

#include "server/acl.hpp"
#include "server/config.hpp"
#include "server/log.hpp"
#include "server/scripting/lua_convert.hpp"
#include "server/server.hpp"
#include "server/session.hpp"
#include "server/version.hpp"

namespace backplane::scripting {
namespace {

constexpr const char* engine_key = "backplane.engine";
constexpr const char* error_handler_key = "backplane.error_handler";
constexpr const char* readonly_error = "Attempt to modify a readonly table";

// Redis 7.0's redis.REDIS_VERSION_NUM for 7.0.15: 0x07000f.
constexpr int redis_version_num = (7 << 16) | (0 << 8) | 15;

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// ---- The read-only sandbox -------------------------------------------------------------
//
// Redis 7.0 ships a Lua patched with read-only tables. Debian's stock Lua 5.1 has none, so
// the globals and the library tables are empty proxies whose metatable reads from the real
// table (field __real) and refuses writes; the base functions that bypass metatables
// (rawset, setmetatable) refuse proxies, and the iterating ones (next, pairs, rawget) see
// through them.

/// The real table behind the read-only proxy at `index`, or 0 when it is not a proxy.
bool push_real_table(lua_State* lua, int index) {
    if (!lua_istable(lua, index) || !lua_getmetatable(lua, index)) return false;
    lua_getfield(lua, -1, "__real");
    lua_remove(lua, -2);
    if (lua_istable(lua, -1)) return true;
    lua_pop(lua, 1);
    return false;
}

/// Replaces the table argument at `index` by the real table when it is a proxy.
void see_through(lua_State* lua, int index) {
    if (push_real_table(lua, index)) lua_replace(lua, index);
}

int raise_readonly(lua_State* lua) {
    lua_pushstring(lua, readonly_error);
    return lua_error(lua);
}

/// __newindex of every proxy: the error carries the script position, as in Redis.
int readonly_newindex(lua_State* lua) { return luaL_error(lua, readonly_error); }

/// __index of the real globals table: reading an unset global is an error.
int nonexistent_global(lua_State* lua) {
    if (!lua_isstring(lua, 2)) {
        return luaL_error(lua,
                          "Second argument to luaProtectedTableError must be a string or "
                          "number");
    }
    return luaL_error(lua, "Script attempted to access nonexistent global variable '%s'",
                      lua_tostring(lua, 2));
}

int sandbox_rawset(lua_State* lua) {
    luaL_checktype(lua, 1, LUA_TTABLE);
    luaL_checkany(lua, 2);
    luaL_checkany(lua, 3);
    if (push_real_table(lua, 1)) return raise_readonly(lua);
    lua_settop(lua, 3);
    lua_rawset(lua, 1);
    return 1;
}

int sandbox_setmetatable(lua_State* lua) {
    const int type = lua_type(lua, 2);
    luaL_checktype(lua, 1, LUA_TTABLE);
    luaL_argcheck(lua, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table expected");
    if (push_real_table(lua, 1)) return raise_readonly(lua);
    if (luaL_getmetafield(lua, 1, "__metatable"))
        return luaL_error(lua, "cannot change a protected metatable");
    lua_settop(lua, 2);
    lua_setmetatable(lua, 1);
    return 1;
}

int sandbox_rawget(lua_State* lua) {
    luaL_checktype(lua, 1, LUA_TTABLE);
    luaL_checkany(lua, 2);
    see_through(lua, 1);
    lua_settop(lua, 2);
    lua_rawget(lua, 1);
    return 1;
}

int sandbox_next(lua_State* lua) {
    luaL_checktype(lua, 1, LUA_TTABLE);
    see_through(lua, 1);
    lua_settop(lua, 2);
    if (lua_next(lua, 1)) return 2;
    lua_pushnil(lua);
    return 1;
}

int sandbox_pairs(lua_State* lua) {
    luaL_checktype(lua, 1, LUA_TTABLE);
    see_through(lua, 1);
    lua_pushvalue(lua, lua_upvalueindex(1));  // next
    lua_pushvalue(lua, 1);
    lua_pushnil(lua);
    return 3;
}

/// Compiles `length` bytes of source text. Precompiled chunks would bypass the compiler's
/// checks and break the sandbox; Redis's Lua parses every chunk as text, and so does this:
/// the reader hands Lua an empty first piece, so it never sees the binary signature and
/// chooses the text parser, which then reads the real bytes (an ESC byte is a syntax error).
int load_text(lua_State* lua, const char* data, size_t length, const char* name) {
    struct Source {
        const char* data;
        size_t length;
        int calls;
    } source{data, length, 0};
    const lua_Reader reader = [](lua_State*, void* state, size_t* size) -> const char* {
        auto* text = static_cast<Source*>(state);
        switch (text->calls++) {
            case 0:
                *size = 0;
                return "";
            case 1:
                *size = text->length;
                return text->data;
            default:
                *size = 0;
                return nullptr;
        }
    };
    return lua_load(lua, reader, &source, name);
}

int sandbox_loadstring(lua_State* lua) {
    size_t length = 0;
    const char* source = luaL_checklstring(lua, 1, &length);
    const char* name = luaL_optstring(lua, 2, source);
    if (load_text(lua, source, length, name) == 0) return 1;
    lua_pushnil(lua);
    lua_insert(lua, -2);
    return 2;
}

/// load(function [, chunkname]): the pieces are gathered first so the first byte can be
/// checked like loadstring's.
int sandbox_load(lua_State* lua) {
    luaL_checktype(lua, 1, LUA_TFUNCTION);
    const char* name = luaL_optstring(lua, 2, "=(load)");
    luaL_Buffer buffer;
    luaL_buffinit(lua, &buffer);
    while (true) {
        lua_pushvalue(lua, 1);
        lua_call(lua, 0, 1);
        if (lua_isnil(lua, -1)) {
            lua_pop(lua, 1);
            break;
        }
        if (!lua_isstring(lua, -1)) return luaL_error(lua, "reader function must return a string");
        const bool empty = lua_objlen(lua, -1) == 0;
        luaL_addvalue(&buffer);
        if (empty) break;
    }
    luaL_pushresult(&buffer);
    size_t length = 0;
    const char* source = lua_tolstring(lua, -1, &length);
    if (load_text(lua, source, length, name) == 0) return 1;
    lua_pushnil(lua);
    lua_insert(lua, -2);
    return 2;
}

/// Redis's pcall: an error table {err=...} caught by pcall is handed over as its string.
int sandbox_pcall(lua_State* lua) {
    const int argc = lua_gettop(lua);
    if (argc == 0) {
        // Redis's pcall with nothing to call fails the call itself.
        lua_pushboolean(lua, 0);
        lua_pushstring(lua, "attempt to call a nil value");
        return 2;
    }
    lua_pushboolean(lua, 1);
    lua_insert(lua, 1);
    if (lua_pcall(lua, argc - 1, LUA_MULTRET, 0) != 0) {
        if (lua_istable(lua, -1)) {
            lua_getfield(lua, -1, "err");
            if (lua_isstring(lua, -1)) {
                lua_replace(lua, -2);
            } else {
                lua_pop(lua, 1);
            }
        }
        lua_pushboolean(lua, 0);
        lua_replace(lua, 1);
        lua_settop(lua, 2);
    }
    return lua_gettop(lua);
}

/// The message handler of every script call: turns any error into the table
/// {err=..., source=..., line=...} that the reply is built from. The position is that of
/// the Lua code that raised it, or of its caller when a C function (redis.call, error)
/// raised it.
int error_handler(lua_State* lua) {
    lua_Debug info;
    bool found = lua_getstack(lua, 1, &info) && lua_getinfo(lua, "nSl", &info);
    if (found && std::string_view(info.what) == "C")
        found = lua_getstack(lua, 2, &info) && lua_getinfo(lua, "nSl", &info);
    if (!lua_istable(lua, 1)) {
        lua_pushvalue(lua, lua_upvalueindex(1));  // tostring
        lua_pushvalue(lua, 1);
        lua_call(lua, 1, 1);
        lua_pushstring(lua, "ERR ");
        lua_insert(lua, -2);
        lua_concat(lua, 2);
        lua_newtable(lua);
        lua_insert(lua, -2);
        lua_setfield(lua, -2, "err");
        lua_replace(lua, 1);
    }
    if (found) {
        lua_pushstring(lua, info.source);
        lua_setfield(lua, 1, "source");
        lua_pushinteger(lua, info.currentline);
        lua_setfield(lua, 1, "line");
    }
    lua_settop(lua, 1);
    return 1;
}

/// Raises {err="ERR <message>"} without a position, as Redis's luaPushError + luaError.
int raise_error_table(lua_State* lua, const char* message) {
    push_error_table(lua, message);
    return lua_error(lua);
}

int redis_error_reply(lua_State* lua) {
    if (lua_gettop(lua) != 1 || lua_type(lua, -1) != LUA_TSTRING) {
        push_error_table(lua, "wrong number or type of arguments");
        return 1;
    }
    size_t length = 0;
    const char* text = lua_tolstring(lua, 1, &length);
    const std::string_view error(text, length);
    if (error.empty() || error[0] != '-') {
        lua_pushstring(lua, "-");
        lua_insert(lua, 1);
        lua_concat(lua, 2);
        text = lua_tolstring(lua, 1, &length);
    }
    push_error_table(lua, std::string_view(text, length));
    return 1;
}

int redis_status_reply(lua_State* lua) {
    if (lua_gettop(lua) != 1 || lua_type(lua, -1) != LUA_TSTRING) {
        push_error_table(lua, "wrong number or type of arguments");
        return 1;
    }
    lua_newtable(lua);
    lua_pushvalue(lua, 1);
    lua_setfield(lua, -2, "ok");
    return 1;
}

int redis_sha1hex(lua_State* lua) {
    if (lua_gettop(lua) != 1) return raise_error_table(lua, "wrong number of arguments");
    size_t length = 0;
    const char* data = lua_tolstring(lua, 1, &length);
    char hex[41];
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(data ? data : ""), data ? length : 0, digest);
    for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) {
        static constexpr char digits[] = "0123456789abcdef";
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    lua_pushlstring(lua, hex, 40);
    return 1;
}

int redis_log(lua_State* lua) {
    const int argc = lua_gettop(lua);
    if (argc < 2) return raise_error_table(lua, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(lua, 1))
        return raise_error_table(lua, "First argument must be a number (log level).");
    const lua_Number level = lua_tonumber(lua, 1);
    if (level < 0 || level > 3) return raise_error_table(lua, "Invalid debug level.");
    // Join the arguments as Lua strings first: no C++ object may be alive when Lua raises.
    int pieces = 0;
    for (int i = 2; i <= argc; ++i) {
        if (!lua_isstring(lua, i)) continue;
        if (pieces++ > 0) lua_pushstring(lua, " ");
        lua_pushvalue(lua, i);
    }
    lua_concat(lua, pieces > 0 ? 2 * pieces - 1 : 0);
    size_t length = 0;
    const char* text = lua_tolstring(lua, -1, &length);
    log::write(static_cast<LogLevel>(static_cast<int>(level)), std::string_view(text, length));
    return 0;
}

int redis_set_repl(lua_State* lua) {
    if (lua_gettop(lua) != 1)
        return raise_error_table(lua, "redis.set_repl() requires one argument.");
    const auto flags = static_cast<int>(lua_tonumber(lua, -1));
    if ((flags & ~3) != 0) {
        return raise_error_table(
            lua, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    }
    return 0;
}

int redis_replicate_commands(lua_State* lua) {
    lua_pushboolean(lua, 1);
    return 1;
}

int redis_breakpoint(lua_State* lua) {
    lua_pushboolean(lua, 0);
    return 1;
}

int redis_debug(lua_State*) { return 0; }

void set_number(lua_State* lua, const char* name, lua_Number value) {
    lua_pushnumber(lua, value);
    lua_setfield(lua, -2, name);
}

void set_function(lua_State* lua, const char* name, lua_CFunction function) {
    lua_pushcfunction(lua, function);
    lua_setfield(lua, -2, name);
}

/// Replaces the table on top of the stack by a read-only proxy of it.
void make_readonly_proxy(lua_State* lua) {
    lua_newtable(lua);  // real, proxy
    lua_newtable(lua);  // real, proxy, metatable
    lua_pushvalue(lua, -3);
    lua_setfield(lua, -2, "__index");
    lua_pushvalue(lua, -3);
    lua_setfield(lua, -2, "__real");
    lua_pushcfunction(lua, readonly_newindex);
    lua_setfield(lua, -2, "__newindex");
    lua_pushboolean(lua, 0);
    lua_setfield(lua, -2, "__metatable");  // getmetatable() cannot reach the real table
    lua_setmetatable(lua, -2);
    lua_remove(lua, -2);
}

}  // namespace

std::string sha1_hex(std::string_view data) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex(40, '0');
    for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    return hex;
}

ScriptEngine::~ScriptEngine() {
    if (lua_) lua_close(lua_);
}

lua_State* ScriptEngine::state() {
    if (!lua_) create_state();
    return lua_;
}

void ScriptEngine::flush() {
    if (lua_) lua_close(lua_);
    lua_ = nullptr;
    scripts_.clear();
}

bool ScriptEngine::exists(std::string_view sha) const {
    return scripts_.count(lowercase(sha)) != 0;
}

void ScriptEngine::create_state() {
    lua_State* lua = luaL_newstate();
    lua_ = lua;
    lua_pushlightuserdata(lua, this);
    lua_setfield(lua, LUA_REGISTRYINDEX, engine_key);

    const struct {
        const char* name;
        lua_CFunction open;
    } libraries[] = {{"", luaopen_base},
                     {LUA_TABLIBNAME, luaopen_table},
                     {LUA_STRLIBNAME, luaopen_string},
                     {LUA_MATHLIBNAME, luaopen_math}};
    for (const auto& library : libraries) {
        lua_pushcfunction(lua, library.open);
        lua_pushstring(lua, library.name);
        lua_call(lua, 1, 0);
    }
    lua_pushcfunction(lua, luaopen_cjson);
    lua_call(lua, 0, 1);
    lua_setglobal(lua, "cjson");
    lua_pushcfunction(lua, luaopen_bit);
    lua_call(lua, 0, 1);
    lua_setglobal(lua, "bit");

    // What Redis 7.0 leaves out of the base library.
    for (const char* name : {"print", "dofile", "loadfile", "getfenv", "setfenv", "newproxy"}) {
        lua_pushnil(lua);
        lua_setglobal(lua, name);
    }
    for (const auto& [name, function] :
         std::initializer_list<std::pair<const char*, lua_CFunction>>{
             {"rawset", sandbox_rawset},
             {"rawget", sandbox_rawget},
             {"setmetatable", sandbox_setmetatable},
             {"loadstring", sandbox_loadstring},
             {"load", sandbox_load},
             {"pcall", sandbox_pcall},
             {"next", sandbox_next}}) {
        lua_pushcfunction(lua, function);
        lua_setglobal(lua, name);
    }
    lua_getglobal(lua, "next");
    lua_pushcclosure(lua, sandbox_pairs, 1);
    lua_setglobal(lua, "pairs");

    lua_getglobal(lua, "math");
    lua_pushcfunction(lua, math_random);
    lua_setfield(lua, -2, "random");
    lua_pushcfunction(lua, math_randomseed);
    lua_setfield(lua, -2, "randomseed");
    lua_pop(lua, 1);

    register_redis_api(lua);

    lua_getglobal(lua, "tostring");
    lua_pushcclosure(lua, error_handler, 1);
    lua_pushvalue(lua, -1);
    lua_setfield(lua, LUA_REGISTRYINDEX, error_handler_key);
    lua_setglobal(lua, "__redis__err__handler");

    protect_globals(lua);
}

void ScriptEngine::register_redis_api(lua_State* lua) {
    lua_newtable(lua);
    set_function(lua, "call", redis_call);
    set_function(lua, "pcall", redis_pcall);
    set_function(lua, "setresp", redis_setresp);
    set_function(lua, "log", redis_log);
    set_function(lua, "sha1hex", redis_sha1hex);
    set_function(lua, "error_reply", redis_error_reply);
    set_function(lua, "status_reply", redis_status_reply);
    set_function(lua, "set_repl", redis_set_repl);
    set_function(lua, "replicate_commands", redis_replicate_commands);
    set_function(lua, "breakpoint", redis_breakpoint);
    set_function(lua, "debug", redis_debug);
    set_number(lua, "LOG_DEBUG", 0);
    set_number(lua, "LOG_VERBOSE", 1);
    set_number(lua, "LOG_NOTICE", 2);
    set_number(lua, "LOG_WARNING", 3);
    set_number(lua, "REPL_NONE", 0);
    set_number(lua, "REPL_AOF", 1);
    set_number(lua, "REPL_SLAVE", 2);
    set_number(lua, "REPL_REPLICA", 2);
    set_number(lua, "REPL_ALL", 3);
    lua_pushlstring(lua, redis_compatible_version.data(), redis_compatible_version.size());
    lua_setfield(lua, -2, "REDIS_VERSION");
    set_number(lua, "REDIS_VERSION_NUM", redis_version_num);
    lua_setglobal(lua, "redis");
}

void ScriptEngine::protect_globals(lua_State* lua) {
    // Library tables become read-only proxies inside the real globals table.
    for (const char* name : {"redis", "string", "table", "math", "cjson", "bit", "coroutine"}) {
        lua_getglobal(lua, name);
        make_readonly_proxy(lua);
        lua_setglobal(lua, name);
    }
    // Reading a global that does not exist is an error.
    lua_pushvalue(lua, LUA_GLOBALSINDEX);
    lua_newtable(lua);
    lua_pushcfunction(lua, nonexistent_global);
    lua_setfield(lua, -2, "__index");
    lua_setmetatable(lua, -2);
    lua_pushvalue(lua, -1);
    globals_ref_ = luaL_ref(lua, LUA_REGISTRYINDEX);
    // Scripts see a read-only proxy as their globals, and as _G.
    make_readonly_proxy(lua);
    lua_pushvalue(lua, -1);
    lua_rawgeti(lua, LUA_REGISTRYINDEX, globals_ref_);
    lua_insert(lua, -2);
    lua_setfield(lua, -2, "_G");
    lua_pop(lua, 1);
    lua_replace(lua, LUA_GLOBALSINDEX);
}

namespace {

/// Splits a `#!lua flags=a,b` line. Returns the error text, or empty.
std::string parse_shebang(std::string_view line, bool& no_writes) {
    std::vector<std::string_view> parts;
    size_t at = 0;
    while (at < line.size()) {
        while (at < line.size() && std::isspace(static_cast<unsigned char>(line[at]))) ++at;
        size_t end = at;
        while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
        if (end > at) parts.push_back(line.substr(at, end - at));
        at = end;
    }
    if (parts.empty() || parts[0] != "#!lua")
        return fmt::format("ERR Unexpected engine in script shebang: {}",
                           parts.empty() ? line : parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
        std::string_view part = parts[i];
        if (part.substr(0, 6) != "flags=")
            return fmt::format("ERR Unknown lua shebang option: {}", part);
        part.remove_prefix(6);
        while (!part.empty()) {
            const size_t comma = part.find(',');
            const std::string_view flag = part.substr(0, comma);
            if (flag == "no-writes") {
                no_writes = true;
            } else if (flag != "allow-oom" && flag != "allow-stale" && flag != "no-cluster" &&
                       flag != "allow-cross-slot-keys") {
                return fmt::format("ERR Unexpected flag in script shebang: {}", flag);
            }
            if (comma == std::string_view::npos) break;
            part.remove_prefix(comma + 1);
        }
    }
    return {};
}

}  // namespace

std::string ScriptEngine::load(std::string_view body, std::string& error) {
    std::string sha = sha1_hex(body);
    if (scripts_.count(sha)) return sha;
    bool no_writes = false;
    std::string_view code = body;
    if (body.substr(0, 2) == "#!") {
        const size_t newline = body.find('\n');
        if (newline == std::string_view::npos) {
            error = "ERR Invalid script shebang";
            return {};
        }
        error = parse_shebang(body.substr(0, newline), no_writes);
        if (!error.empty()) return {};
        code = body.substr(newline);  // keep the newline so line numbers stay those of the body
    }
    lua_State* lua = state();
    if (load_text(lua, code.data(), code.size(), "@user_script") != 0) {
        error = fmt::format("ERR Error compiling script (new function): {}", lua_tostring(lua, -1));
        lua_pop(lua, 1);
        return {};
    }
    scripts_.emplace(sha, Script{luaL_ref(lua, LUA_REGISTRYINDEX), no_writes});
    return sha;
}

namespace {

void set_array(lua_State* lua, const char* name, std::span<const std::string_view> items) {
    lua_createtable(lua, static_cast<int>(items.size()), 0);
    for (size_t i = 0; i < items.size(); ++i) {
        lua_pushlstring(lua, items[i].data(), items[i].size());
        lua_rawseti(lua, -2, static_cast<int>(i + 1));
    }
    lua_setfield(lua, -2, name);
}

}  // namespace

void ScriptEngine::run(CommandContext& context, const std::string& sha,
                       std::span<const std::string_view> keys,
                       std::span<const std::string_view> args, bool read_only) {
    lua_State* lua = state();
    const Script& script = scripts_.at(sha);

    // KEYS and ARGV go into the real globals table, under the read-only proxy.
    lua_rawgeti(lua, LUA_REGISTRYINDEX, globals_ref_);
    set_array(lua, "KEYS", keys);
    set_array(lua, "ARGV", args);
    lua_pop(lua, 1);

    lua_getfield(lua, LUA_REGISTRYINDEX, error_handler_key);
    const int handler = lua_gettop(lua);
    lua_rawgeti(lua, LUA_REGISTRYINDEX, script.function_ref);

    Run run{&context,
            &sha,
            read_only || script.no_writes,
            false,
            std::chrono::steady_clock::now(),
            context.server.config().busy_reply_threshold,
            false};
    run_ = &run;
    if (run.limit_ms > 0) lua_sethook(lua, time_limit_hook, LUA_MASKCOUNT, 100000);
    // A SELECT inside the script changes only the script's database, as in Redis 7.
    const int64_t db = context.session.db();
    const int status = lua_pcall(lua, 0, 1, handler);
    context.session.set_db(db);
    lua_sethook(lua, nullptr, 0, 0);
    run_ = nullptr;

    if (status != 0) {
        reply_error(context, sha);
    } else {
        write_lua_as_resp(lua, context.reply, run.resp3);
    }
    lua_settop(lua, handler - 1);
}

void ScriptEngine::reply_error(CommandContext& context, const std::string& sha) {
    lua_State* lua = lua_;
    if (!lua_istable(lua, -1)) {
        const char* message = lua_isstring(lua, -1) ? lua_tostring(lua, -1) : "execution failure";
        context.reply.error(
            fmt::format("ERR Error running script {}, {:.100}", sha, std::string_view(message)));
        lua_pop(lua, 1);
        return;
    }
    lua_getfield(lua, -1, "err");
    lua_getfield(lua, -2, "source");
    lua_getfield(lua, -3, "line");
    std::string message = lua_isstring(lua, -3) ? lua_tostring(lua, -3)
                                                : "ERR Error running script: the error object "
                                                  "has no 'err' string";
    if (lua_isstring(lua, -2) && lua_isstring(lua, -1)) {
        message += fmt::format(" script: {}, on {}:{}.", sha, lua_tostring(lua, -2),
                               lua_tostring(lua, -1));
    }
    lua_pop(lua, 4);
    context.reply.error(message);
}

ScriptEngine& ScriptEngine::engine_of(lua_State* lua) {
    lua_getfield(lua, LUA_REGISTRYINDEX, engine_key);
    auto* engine = static_cast<ScriptEngine*>(lua_touserdata(lua, -1));
    lua_pop(lua, 1);
    return *engine;
}

int ScriptEngine::redis_call(lua_State* lua) { return call_command(lua, true); }

int ScriptEngine::redis_pcall(lua_State* lua) { return call_command(lua, false); }

namespace {

enum class CallOutcome { reply, error };

/// Redis's refusal when the script's user may not run `spec` with `args` (written to the ACL
/// log in the "lua" context), or null when it may.
const char* acl_refusal(CommandContext& caller, const CommandSpec& spec,
                        std::span<const std::string_view> args) {
    const AclUser& user = caller.session.user();
    if (user.all_commands && user.all_keys && user.all_channels) return nullptr;
    const AclVerdict verdict = check_acl(user, spec, args);
    const char* refusal = nullptr;
    std::string_view reason, object;
    switch (verdict.denial) {
        case AclDenial::none:
            return nullptr;
        case AclDenial::command:
            refusal = "The user executing the script can't run this command or subcommand";
            reason = "command";
            object = spec.full_name;
            break;
        case AclDenial::key:
            refusal = "The user executing the script can't access at least one of the keys "
                      "mentioned in the command arguments";
            reason = "key";
            object = args[verdict.arg_index];
            break;
        case AclDenial::channel:
            refusal = "The user executing the script can't publish to the channel mentioned in "
                      "the command";
            reason = "channel";
            object = args[verdict.arg_index];
            break;
    }
    caller.server.acl().log(reason, "lua", object, user.name, caller.session.describe());
    return refusal;
}

/// Checks and runs one command for redis.call, in Redis's order: arguments, existence, arity,
/// noscript, ACL, writes in a read-only script. Pushes the reply (or the error table) onto the Lua
/// stack. Holds every C++ object, so the caller may raise a Lua error once it returns.
CallOutcome run_command(lua_State* lua, CommandContext& caller, bool read_only, bool resp3,
                        std::vector<std::string_view>& arguments, std::string& replies) {
    const int argc = lua_gettop(lua);
    if (argc == 0) {
        push_error_table(lua, "Please specify at least one argument for this redis lib call");
        return CallOutcome::error;
    }
    // The arguments are viewed where Lua holds them, on its stack; a number is replaced there
    // by its text first.
    arguments.clear();
    for (int i = 1; i <= argc; ++i) {
        const int type = lua_type(lua, i);
        if (type == LUA_TNUMBER) {
            push_number_argument(lua, lua_tonumber(lua, i));
            lua_replace(lua, i);
        } else if (type != LUA_TSTRING) {
            push_error_table(lua, "Lua redis lib command arguments must be strings or integers");
            return CallOutcome::error;
        }
        size_t length = 0;
        const char* data = lua_tolstring(lua, i, &length);
        arguments.emplace_back(data, length);
    }
    const std::span<const std::string_view> args = arguments;

    const CommandSpec* spec = find_command(args[0]);
    if (spec && !spec->subcommands.empty() && args.size() >= 2)
        spec = find_subcommand(*spec, args[1]);
    const char* refusal = nullptr;
    if (!spec) {
        refusal = "Unknown Redis command called from script";
    } else if (spec->arity > 0 ? static_cast<int>(args.size()) != spec->arity
                               : static_cast<int>(args.size()) < -spec->arity) {
        refusal = "Wrong number of args calling Redis command from script";
    } else if (has_redis_flag(*spec, "noscript") || !spec->handler) {
        refusal = "This Redis command is not allowed from script";
    } else if (const char* denial = acl_refusal(caller, *spec, args)) {
        refusal = denial;
    } else if (read_only && has_redis_flag(*spec, "write")) {
        refusal = "Write commands are not allowed from read-only scripts.";
    }
    if (refusal) {
        push_error_table(lua, refusal);
        return CallOutcome::error;
    }
    replies.clear();
    protocol::ReplyWriter writer(
        replies, resp3 ? protocol::RespVersion::resp3 : protocol::RespVersion::resp2);
    CommandContext context{caller.server, caller.session, args, writer};
    // A C++ exception must not cross the Lua interpreter's C frames: it becomes an error.
    try {
        spec->handler(context);
    } catch (const std::exception& exception) {
        replies.clear();
        writer.error(std::string("ERR ") + exception.what());
    }
    push_resp_as_lua(lua, replies);
    return !replies.empty() && replies[0] == '-' ? CallOutcome::error : CallOutcome::reply;
}

}  // namespace

int ScriptEngine::call_command(lua_State* lua, bool raise_errors) {
    ScriptEngine& engine = engine_of(lua);
    if (!engine.run_) return raise_error_table(lua, "redis.call is only available in a script");
    const Run& run = *engine.run_;
    const CallOutcome outcome = run_command(lua, *run.caller, run.read_only, run.resp3,
                                            engine.call_arguments_, engine.call_reply_);
    if (outcome == CallOutcome::error && raise_errors) return lua_error(lua);
    return 1;
}

int ScriptEngine::redis_setresp(lua_State* lua) {
    ScriptEngine& engine = engine_of(lua);
    if (lua_gettop(lua) != 1)
        return raise_error_table(lua, "redis.setresp() requires one argument.");
    const auto version = static_cast<int>(lua_tonumber(lua, -1));
    if (version != 2 && version != 3) return raise_error_table(lua, "RESP version must be 2 or 3.");
    if (engine.run_) engine.run_->resp3 = version == 3;
    return 0;
}

uint64_t ScriptEngine::next_random() {
    constexpr uint64_t mask = (1ULL << 48) - 1;
    random_state_ = (0x5DEECE66DULL * random_state_ + 0xB) & mask;
    return random_state_ >> 17;
}

void ScriptEngine::seed_random(int32_t seed) {
    const auto bits = static_cast<uint32_t>(seed);
    random_state_ = 0x330EULL | (static_cast<uint64_t>(bits) << 16);
}

int ScriptEngine::math_random(lua_State* lua) {
    constexpr lua_Number max = 2147483647.0;  // Redis's REDIS_LRAND48_MAX, INT32_MAX
    ScriptEngine& engine = engine_of(lua);
    const lua_Number r = static_cast<lua_Number>(engine.next_random() % 2147483647ULL) / max;
    switch (lua_gettop(lua)) {
        case 0:
            lua_pushnumber(lua, r);
            break;
        case 1: {
            const int upper = luaL_checkint(lua, 1);
            luaL_argcheck(lua, 1 <= upper, 1, "interval is empty");
            lua_pushnumber(lua, std::floor(r * upper) + 1);
            break;
        }
        case 2: {
            const int lower = luaL_checkint(lua, 1);
            const int upper = luaL_checkint(lua, 2);
            luaL_argcheck(lua, lower <= upper, 2, "interval is empty");
            lua_pushnumber(lua, std::floor(r * (upper - lower + 1)) + lower);
            break;
        }
        default:
            return luaL_error(lua, "wrong number of arguments");
    }
    return 1;
}

int ScriptEngine::math_randomseed(lua_State* lua) {
    engine_of(lua).seed_random(luaL_checkint(lua, 1));
    return 0;
}

void ScriptEngine::time_limit_hook(lua_State* lua, lua_Debug*) {
    ScriptEngine& engine = engine_of(lua);
    Run* run = engine.run_;
    if (!run) return;
    if (!run->timed_out) {
        const auto elapsed = std::chrono::steady_clock::now() - run->started;
        if (elapsed < std::chrono::milliseconds(run->limit_ms)) return;
        run->timed_out = true;
        log::at(LogLevel::warning,
                "Lua script {} ran longer than busy-reply-threshold ({} ms) and was stopped",
                *run->sha, run->limit_ms);
        // From now on every line raises again, so pcall inside the script cannot keep it alive.
        lua_sethook(lua, time_limit_hook, LUA_MASKLINE, 0);
    }
    lua_pushfstring(lua,
                    "-ERR Script killed: it ran longer than busy-reply-threshold (%d ms); this "
                    "server stops such scripts instead of replying BUSY to other clients",
                    static_cast<int>(run->limit_ms));
    size_t length = 0;
    const char* text = lua_tolstring(lua, -1, &length);
    push_error_table(lua, std::string_view(text, length));
    lua_error(lua);
}

}  // namespace backplane::scripting
