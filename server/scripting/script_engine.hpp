#pragma once
// The Lua scripting engine behind EVAL, EVALSHA and SCRIPT, as Redis 7.0 runs scripts
// (eval.c, script_lua.c, script.c): one Lua 5.1 state, created on first use and recreated by
// SCRIPT FLUSH, a cache of compiled scripts by the SHA1 of their exact bytes, and a sandbox
// with redis.call/pcall, KEYS and ARGV, and read-only, checked globals.
//
// A script runs to completion inside the command that started it, so it is atomic like in
// Redis. Unlike Redis, which lets a script run past busy-reply-threshold and answers other
// clients -BUSY meanwhile, this single-threaded server cannot answer anyone while a script
// runs: a script still running after busy-reply-threshold milliseconds is stopped with an
// error instead.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/command_table.hpp"

struct lua_State;
struct lua_Debug;

namespace backplane::scripting {

class ScriptEngine {
  public:
    explicit ScriptEngine(Server& server) : server_(server) {}
    ~ScriptEngine();
    ScriptEngine(const ScriptEngine&) = delete;
    ScriptEngine& operator=(const ScriptEngine&) = delete;

    /// Compiles `body` unless it is cached (SCRIPT LOAD, EVAL). Returns its SHA1 in lowercase
    /// hex, or an empty string after setting `error` to the error reply ("ERR Error compiling
    /// script (new function): ...", or a shebang error).
    std::string load(std::string_view body, std::string& error);
    /// True when the script with this SHA1 (any case) is cached.
    bool exists(std::string_view sha) const;
    /// Forgets every script and closes the Lua state (SCRIPT FLUSH).
    void flush();
    size_t cached_scripts() const { return scripts_.size(); }

    /// Runs the cached script `sha` (lowercase) with `keys` and `args`, replying its result or
    /// error on `context.reply`. `read_only` for EVAL_RO and EVALSHA_RO.
    void run(CommandContext& context, const std::string& sha,
             std::span<const std::string_view> keys, std::span<const std::string_view> args,
             bool read_only);

  private:
    struct Script {
        int function_ref;  ///< the compiled chunk, in the Lua registry
        bool no_writes;    ///< `#!lua flags=no-writes`
    };
    /// What redis.call needs while a script runs.
    struct Run {
        CommandContext* caller;
        const std::string* sha;
        bool read_only;
        bool resp3 = false;  ///< after redis.setresp(3)
        std::chrono::steady_clock::time_point started;
        int64_t limit_ms;
        bool timed_out = false;
    };

    lua_State* state();
    void create_state();
    void register_redis_api(lua_State* lua);
    void protect_globals(lua_State* lua);
    /// Pushes an error reply onto `context` from the error object on top of the stack.
    void reply_error(CommandContext& context, const std::string& sha);

    // The C functions the sandbox exposes; each finds the engine in its first upvalue.
    static ScriptEngine& engine_of(lua_State* lua);
    static int redis_call(lua_State* lua);
    static int redis_pcall(lua_State* lua);
    static int call_command(lua_State* lua, bool raise_errors);
    static int redis_setresp(lua_State* lua);
    static int math_random(lua_State* lua);
    static int math_randomseed(lua_State* lua);
    static void time_limit_hook(lua_State* lua, lua_Debug* debug);

    /// Redis's rand48 generator behind math.random: never reseeded between scripts, and not
    /// by SCRIPT FLUSH either, so the sequence matches Redis's from server start.
    uint64_t next_random();
    void seed_random(int32_t seed);

    Server& server_;
    lua_State* lua_ = nullptr;
    int globals_ref_ = 0;  ///< the real globals table behind the read-only proxy
    std::unordered_map<std::string, Script> scripts_;
    Run* run_ = nullptr;
    // redis.call's argument views and reply buffer, reused from call to call (a command run
    // by a script cannot run another script, so calls never nest).
    std::vector<std::string_view> call_arguments_;
    std::string call_reply_;
    uint64_t random_state_ = 0x1234ABCD330EULL;
};

/// The lowercase hex SHA1 of `data`, as redis.sha1hex and the script cache compute it.
std::string sha1_hex(std::string_view data);

}  // namespace backplane::scripting
