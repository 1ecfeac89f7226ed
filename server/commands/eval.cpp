// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Lua scripting as Redis 7.0 has it. The engine
// (server/scripting) compiles and runs the scripts; these handlers check the arguments in
// Redis's order and pick the script.
//
//   EVAL "return {1,'two'}" 0            -> *2\r\n:1\r\n$3\r\ntwo\r\n
//   SCRIPT LOAD "return 1"               -> $40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n
//   EVALSHA <unknown sha> 0              -> -NOSCRIPT No matching script. Please use EVAL.\r\n

#include <array>
#include <cctype>
#include <string>

#include "protocol/number.hpp"
#include "server/commands/commands.hpp"
#include "server/scripting/script_engine.hpp"
#include "server/server.hpp"

namespace backplane::commands {
namespace {

constexpr std::string_view noscript_error = "NOSCRIPT No matching script. Please use EVAL.";

/// EVAL <script> / EVALSHA <sha>, then numkeys, keys and arguments.
void eval_generic(CommandContext& context, bool by_sha, bool read_only) {
    const auto args = context.args;
    // A SHA1 of the wrong length cannot match: Redis answers that before anything else.
    if (by_sha && args[1].size() != 40) {
        context.reply.error(noscript_error);
        return;
    }
    const std::optional<int64_t> numkeys = protocol::parse_int64(args[2]);
    if (!numkeys) {
        context.reply.error("ERR value is not an integer or out of range");
        return;
    }
    if (*numkeys > static_cast<int64_t>(args.size() - 3)) {
        context.reply.error("ERR Number of keys can't be greater than number of args");
        return;
    }
    if (*numkeys < 0) {
        context.reply.error("ERR Number of keys can't be negative");
        return;
    }
    scripting::ScriptEngine& engine = context.server.scripts();
    std::string sha;
    if (by_sha) {
        sha.assign(args[1]);
        for (char& c : sha) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!engine.exists(sha)) {
            context.reply.error(noscript_error);
            return;
        }
    } else {
        std::string error;
        sha = engine.load(args[1], error);
        if (sha.empty()) {
            context.reply.error(error);
            return;
        }
    }
    const auto count = static_cast<size_t>(*numkeys);
    engine.run(context, sha, args.subspan(3, count), args.subspan(3 + count), read_only);
}

void script_load(CommandContext& context) {
    std::string error;
    const std::string sha = context.server.scripts().load(context.args[2], error);
    if (sha.empty()) {
        context.reply.error(error);
    } else {
        context.reply.bulk(sha);
    }
}

void script_exists(CommandContext& context) {
    const scripting::ScriptEngine& engine = context.server.scripts();
    context.reply.array(context.args.size() - 2);
    for (size_t i = 2; i < context.args.size(); ++i)
        context.reply.integer(engine.exists(context.args[i]) ? 1 : 0);
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

/// SCRIPT FLUSH [ASYNC|SYNC]: both modes flush at once; there is no background thread.
void script_flush(CommandContext& context) {
    const auto args = context.args;
    if (args.size() > 3 || (args.size() == 3 && !equals_ignoring_case(args[2], "sync") &&
                            !equals_ignoring_case(args[2], "async"))) {
        context.reply.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    context.server.scripts().flush();
    context.reply.simple("OK");
}

/// No script can be running while this server reads a command: it runs one thing at a time.
void script_kill(CommandContext& context) {
    context.reply.error("NOTBUSY No scripts in execution right now.");
}

void script_help(CommandContext& context) {
    static constexpr std::array<std::string_view, 11> lines = {
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
    };
    static constexpr std::array<std::string_view, 12> all = {
        lines[0], lines[1],  lines[2],
        lines[3], lines[4],  lines[5],
        lines[6], lines[7],  lines[8],
        lines[9], lines[10], "    Load a script into the scripts cache without executing it."};
    reply_help(context, "SCRIPT", all);
}

constexpr uint32_t none = 0;

const CommandSpec subcommands[] = {
    {"exists",
     "script|exists",
     -3,
     none,
     script_exists,
     {},
     "noscript",
     "@slow @scripting",
     "Check existence of scripts in the script cache.",
     "2.6.0",
     "scripting"},
    {"flush",
     "script|flush",
     -2,
     none,
     script_flush,
     {},
     "noscript",
     "@slow @scripting",
     "Remove all the scripts from the script cache.",
     "2.6.0",
     "scripting"},
    {"help",
     "script|help",
     2,
     none,
     script_help,
     {},
     "loading stale",
     "@slow @scripting",
     "Show helpful text about the different subcommands",
     "5.0.0",
     "scripting"},
    {"kill",
     "script|kill",
     2,
     none,
     script_kill,
     {},
     "noscript allow-busy",
     "@slow @scripting",
     "Kill the script currently in execution.",
     "2.6.0",
     "scripting"},
    {"load",
     "script|load",
     3,
     none,
     script_load,
     {},
     "noscript stale",
     "@slow @scripting",
     "Load the specified Lua script into the script cache.",
     "2.6.0",
     "scripting"},
};

}  // namespace

void eval(CommandContext& context) { eval_generic(context, false, false); }
void evalsha(CommandContext& context) { eval_generic(context, true, false); }
void eval_ro(CommandContext& context) { eval_generic(context, false, true); }
void evalsha_ro(CommandContext& context) { eval_generic(context, true, true); }

std::span<const CommandSpec> script_subcommands() { return subcommands; }

}  // namespace backplane::commands
