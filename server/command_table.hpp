#pragma once
// The command table: every command with its arity and flags, checked in one place before a
// handler runs, in Redis's order: existence, arity, authentication, subscribed-mode context.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/reply_writer.hpp"

namespace backplane {

class Server;
class Session;

/// What a handler sees: the arguments (args[0] is the command name) and where to reply.
struct CommandContext {
    Server& server;
    Session& session;
    std::span<const std::string_view> args;
    protocol::ReplyWriter& reply;
};

using CommandHandler = void (*)(CommandContext&);

enum CommandFlag : uint32_t {
    allowed_before_auth = 1U << 0,      ///< Redis's CMD_NO_AUTH
    allowed_when_subscribed = 1U << 1,  ///< may run in RESP2 subscribed mode
};

/// Where a command's keys are, as COMMAND INFO reports them: arguments first..last (a negative
/// last counts from the end, -1 being the last argument), every `step`-th one. All zero for a
/// command without keys. A command whose keys move (EVAL) has instead `numkeys`: the index of
/// the argument that counts the keys following it.
struct KeyPositions {
    int first = 0;
    int last = 0;
    int step = 0;
    int numkeys = 0;
};

struct CommandSpec {
    std::string_view name;       ///< lowercase, as looked up
    std::string_view full_name;  ///< "client|list" for a subcommand, as Redis names it in errors
    int arity;                   ///< N: exactly N arguments; -N: at least N (name included)
    uint32_t flags;
    CommandHandler handler;  ///< null for a container whose subcommands do the work
    std::span<const CommandSpec> subcommands;
    // Shown by COMMAND INFO and COMMAND DOCS.
    std::string_view redis_flags;     ///< e.g. "fast loading stale"
    std::string_view acl_categories;  ///< e.g. "@fast @connection"
    std::string_view summary;
    std::string_view since;
    std::string_view group;
    KeyPositions keys{};
};

/// True when the space-separated `redis_flags` of `spec` hold `flag` (e.g. "noscript").
bool has_redis_flag(const CommandSpec& spec, std::string_view flag);
/// The indexes in `args` of the keys `spec` takes, by its KeyPositions.
std::vector<size_t> key_indexes(const CommandSpec& spec, std::span<const std::string_view> args);

/// The top-level command called `name` (any case), or null.
const CommandSpec* find_command(std::string_view name);
/// The subcommand `name` (any case) of `container`, or null.
const CommandSpec* find_subcommand(const CommandSpec& container, std::string_view name);
/// Every top-level command.
std::span<const CommandSpec> all_commands();

/// Runs one request: looks the command up, checks it, and calls its handler.
void dispatch(CommandContext& context);

}  // namespace backplane
