#include "server/command_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "server/acl.hpp"
#include "protocol/number.hpp"
#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane {
namespace {

using namespace commands;

constexpr uint32_t before_auth = allowed_before_auth;
constexpr uint32_t subscribed = allowed_when_subscribed;

const CommandSpec command_table[] = {
    {"auth",
     "auth",
     -2,
     before_auth,
     auth,
     {},
     "noscript loading stale fast no-auth allow-busy",
     "@fast @connection",
     "Authenticate to the server",
     "1.0.0",
     "connection"},
    {"hello",
     "hello",
     -1,
     before_auth,
     hello,
     {},
     "noscript loading stale fast no-auth allow-busy",
     "@fast @connection",
     "Handshake with Redis",
     "6.0.0",
     "connection"},
    {"ping",
     "ping",
     -1,
     subscribed,
     ping,
     {},
     "fast",
     "@fast @connection",
     "Ping the server",
     "1.0.0",
     "connection"},
    {"echo",
     "echo",
     2,
     0,
     echo,
     {},
     "fast",
     "@fast @connection",
     "Echo the given string",
     "1.0.0",
     "connection"},
    {"quit",
     "quit",
     -1,
     before_auth | subscribed,
     quit,
     {},
     "allow-busy noscript loading stale fast no-auth",
     "@fast @connection",
     "Close the connection",
     "1.0.0",
     "connection"},
    {"reset",
     "reset",
     1,
     before_auth | subscribed,
     reset,
     {},
     "noscript loading stale fast no-auth allow-busy",
     "@fast @connection",
     "Reset the connection",
     "6.2.0",
     "connection"},
    {"select",
     "select",
     2,
     0,
     select,
     {},
     "loading stale fast",
     "@fast @connection",
     "Change the selected database for the current connection",
     "1.0.0",
     "connection"},
    {"time",
     "time",
     1,
     0,
     time,
     {},
     "loading stale fast",
     "@fast",
     "Return the current server time",
     "2.6.0",
     "server"},
    {"subscribe",
     "subscribe",
     -2,
     subscribed,
     subscribe,
     {},
     "pubsub noscript loading stale",
     "@pubsub @slow",
     "Listen for messages published to the given channels",
     "2.0.0",
     "pubsub"},
    {"unsubscribe",
     "unsubscribe",
     -1,
     subscribed,
     unsubscribe,
     {},
     "pubsub noscript loading stale",
     "@pubsub @slow",
     "Stop listening for messages posted to the given channels",
     "2.0.0",
     "pubsub"},
    {"psubscribe",
     "psubscribe",
     -2,
     subscribed,
     psubscribe,
     {},
     "pubsub noscript loading stale",
     "@pubsub @slow",
     "Listen for messages published to channels matching the given patterns",
     "2.0.0",
     "pubsub"},
    {"punsubscribe",
     "punsubscribe",
     -1,
     subscribed,
     punsubscribe,
     {},
     "pubsub noscript loading stale",
     "@pubsub @slow",
     "Stop listening for messages posted to channels matching the given patterns",
     "2.0.0",
     "pubsub"},
    {"publish",
     "publish",
     3,
     0,
     publish,
     {},
     "pubsub loading stale fast",
     "@pubsub @fast",
     "Post a message to a channel",
     "2.0.0",
     "pubsub"},
    {"ssubscribe",
     "ssubscribe",
     -2,
     subscribed,
     ssubscribe,
     {},
     "pubsub noscript loading stale",
     "@pubsub @slow",
     "Listen for messages published to the given shard channels",
     "7.0.0",
     "pubsub"},
    {"sunsubscribe",
     "sunsubscribe",
     -1,
     subscribed,
     sunsubscribe,
     {},
     "pubsub noscript loading stale",
     "@pubsub @slow",
     "Stop listening for messages posted to the given shard channels",
     "7.0.0",
     "pubsub"},
    {"spublish",
     "spublish",
     3,
     0,
     spublish,
     {},
     "pubsub loading stale fast",
     "@pubsub @fast",
     "Post a message to a shard channel",
     "7.0.0",
     "pubsub"},
    {"pubsub", "pubsub", -2, 0, nullptr, pubsub_subcommands(), "", "@slow",
     "A container for Pub/Sub commands", "2.8.0", "pubsub"},
    {"client", "client", -2, 0, nullptr, client_subcommands(), "", "@slow",
     "A container for client connection commands", "2.4.0", "connection"},
    {"info",
     "info",
     -1,
     0,
     info,
     {},
     "loading stale",
     "@slow @dangerous",
     "Get information and statistics about the server",
     "1.0.0",
     "server"},
    {"config", "config", -2, 0, nullptr, config_subcommands(), "", "@slow",
     "A container for server configuration commands", "2.0.0", "server"},
    {"command", "command", -1, 0, command, command_subcommands(), "loading stale",
     "@slow @connection", "Get array of Redis command details", "2.8.13", "server"},
    {"cluster", "cluster", -2, 0, nullptr, cluster_subcommands(), "", "@slow",
     "A container for cluster commands", "3.0.0", "cluster"},
    {"eval",
     "eval",
     -3,
     0,
     eval,
     {},
     "noscript stale skip-monitor no-mandatory-keys movablekeys",
     "@slow @scripting",
     "Execute a Lua script server side",
     "2.6.0",
     "scripting",
     {0, 0, 0, 2}},
    {"evalsha",
     "evalsha",
     -3,
     0,
     evalsha,
     {},
     "noscript stale skip-monitor no-mandatory-keys movablekeys",
     "@slow @scripting",
     "Execute a Lua script server side",
     "2.6.0",
     "scripting",
     {0, 0, 0, 2}},
    {"eval_ro",
     "eval_ro",
     -3,
     0,
     eval_ro,
     {},
     "readonly noscript stale skip-monitor no-mandatory-keys movablekeys",
     "@slow @scripting",
     "Execute a read-only Lua script server side",
     "7.0.0",
     "scripting",
     {0, 0, 0, 2}},
    {"evalsha_ro",
     "evalsha_ro",
     -3,
     0,
     evalsha_ro,
     {},
     "readonly noscript stale skip-monitor no-mandatory-keys movablekeys",
     "@slow @scripting",
     "Execute a read-only Lua script server side",
     "7.0.0",
     "scripting",
     {0, 0, 0, 2}},
    {"script", "script", -2, 0, nullptr, script_subcommands(), "", "@slow",
     "A container for Lua scripts management commands", "2.6.0", "scripting"},
    {"get",
     "get",
     2,
     0,
     get,
     {},
     "readonly fast",
     "@read @string @fast",
     "Get the value of a key",
     "1.0.0",
     "string",
     {1, 1, 1}},
    {"set",
     "set",
     -3,
     0,
     set,
     {},
     "write denyoom",
     "@write @string @slow",
     "Set the string value of a key",
     "1.0.0",
     "string",
     {1, 1, 1}},
    {"setnx",
     "setnx",
     3,
     0,
     setnx,
     {},
     "write denyoom fast",
     "@write @string @fast",
     "Set the value of a key, only if the key does not exist",
     "1.0.0",
     "string",
     {1, 1, 1}},
    {"setex",
     "setex",
     4,
     0,
     setex,
     {},
     "write denyoom",
     "@write @string @slow",
     "Set the value and expiration of a key",
     "2.0.0",
     "string",
     {1, 1, 1}},
    {"psetex",
     "psetex",
     4,
     0,
     psetex,
     {},
     "write denyoom",
     "@write @string @slow",
     "Set the value and expiration in milliseconds of a key",
     "2.6.0",
     "string",
     {1, 1, 1}},
    {"mget",
     "mget",
     -2,
     0,
     mget,
     {},
     "readonly fast",
     "@read @string @fast",
     "Get the values of all the given keys",
     "1.0.0",
     "string",
     {1, -1, 1}},
    {"mset",
     "mset",
     -3,
     0,
     mset,
     {},
     "write denyoom",
     "@write @string @slow",
     "Set multiple keys to multiple values",
     "1.0.1",
     "string",
     {1, -1, 2}},
    {"incr",
     "incr",
     2,
     0,
     incr,
     {},
     "write denyoom fast",
     "@write @string @fast",
     "Increment the integer value of a key by one",
     "1.0.0",
     "string",
     {1, 1, 1}},
    {"incrby",
     "incrby",
     3,
     0,
     incrby,
     {},
     "write denyoom fast",
     "@write @string @fast",
     "Increment the integer value of a key by the given amount",
     "1.0.0",
     "string",
     {1, 1, 1}},
    {"decr",
     "decr",
     2,
     0,
     decr,
     {},
     "write denyoom fast",
     "@write @string @fast",
     "Decrement the integer value of a key by one",
     "1.0.0",
     "string",
     {1, 1, 1}},
    {"decrby",
     "decrby",
     3,
     0,
     decrby,
     {},
     "write denyoom fast",
     "@write @string @fast",
     "Decrement the integer value of a key by the given number",
     "1.0.0",
     "string",
     {1, 1, 1}},
    {"exists",
     "exists",
     -2,
     0,
     exists,
     {},
     "readonly fast",
     "@keyspace @read @fast",
     "Determine if a key exists",
     "1.0.0",
     "generic",
     {1, -1, 1}},
    {"del",
     "del",
     -2,
     0,
     del,
     {},
     "write",
     "@keyspace @write @slow",
     "Delete a key",
     "1.0.0",
     "generic",
     {1, -1, 1}},
    {"unlink",
     "unlink",
     -2,
     0,
     unlink,
     {},
     "write fast",
     "@keyspace @write @fast",
     "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
     "blocking.",
     "4.0.0",
     "generic",
     {1, -1, 1}},
    {"type",
     "type",
     2,
     0,
     type,
     {},
     "readonly fast",
     "@keyspace @read @fast",
     "Determine the type stored at key",
     "1.0.0",
     "generic",
     {1, 1, 1}},
    {"expire",
     "expire",
     -3,
     0,
     expire,
     {},
     "write fast",
     "@keyspace @write @fast",
     "Set a key's time to live in seconds",
     "1.0.0",
     "generic",
     {1, 1, 1}},
    {"pexpire",
     "pexpire",
     -3,
     0,
     pexpire,
     {},
     "write fast",
     "@keyspace @write @fast",
     "Set a key's time to live in milliseconds",
     "2.6.0",
     "generic",
     {1, 1, 1}},
    {"expireat",
     "expireat",
     -3,
     0,
     expireat,
     {},
     "write fast",
     "@keyspace @write @fast",
     "Set the expiration for a key as a UNIX timestamp",
     "1.2.0",
     "generic",
     {1, 1, 1}},
    {"pexpireat",
     "pexpireat",
     -3,
     0,
     pexpireat,
     {},
     "write fast",
     "@keyspace @write @fast",
     "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
     "2.6.0",
     "generic",
     {1, 1, 1}},
    {"ttl",
     "ttl",
     2,
     0,
     ttl,
     {},
     "readonly fast",
     "@keyspace @read @fast",
     "Get the time to live for a key in seconds",
     "1.0.0",
     "generic",
     {1, 1, 1}},
    {"pttl",
     "pttl",
     2,
     0,
     pttl,
     {},
     "readonly fast",
     "@keyspace @read @fast",
     "Get the time to live for a key in milliseconds",
     "2.6.0",
     "generic",
     {1, 1, 1}},
    {"expiretime",
     "expiretime",
     2,
     0,
     expiretime,
     {},
     "readonly fast",
     "@keyspace @read @fast",
     "Get the expiration Unix timestamp for a key",
     "7.0.0",
     "generic",
     {1, 1, 1}},
    {"pexpiretime",
     "pexpiretime",
     2,
     0,
     pexpiretime,
     {},
     "readonly fast",
     "@keyspace @read @fast",
     "Get the expiration Unix timestamp for a key in milliseconds",
     "7.0.0",
     "generic",
     {1, 1, 1}},
    {"persist",
     "persist",
     2,
     0,
     persist,
     {},
     "write fast",
     "@keyspace @write @fast",
     "Remove the expiration from a key",
     "2.2.0",
     "generic",
     {1, 1, 1}},
    {"dbsize",
     "dbsize",
     1,
     0,
     dbsize,
     {},
     "readonly fast",
     "@keyspace @read @fast",
     "Return the number of keys in the selected database",
     "1.0.0",
     "server"},
    {"flushdb",
     "flushdb",
     -1,
     0,
     flushdb,
     {},
     "write",
     "@keyspace @write @slow @dangerous",
     "Remove all keys from the current database",
     "1.0.0",
     "server"},
    {"flushall",
     "flushall",
     -1,
     0,
     flushall,
     {},
     "write",
     "@keyspace @write @slow @dangerous",
     "Remove all keys from all databases",
     "1.0.0",
     "server"},
    {"keys",
     "keys",
     2,
     0,
     keys,
     {},
     "readonly",
     "@keyspace @read @slow @dangerous",
     "Find all keys matching the given pattern",
     "1.0.0",
     "generic"},
    {"append",
     "append",
     3,
     0,
     append,
     {},
     "write denyoom fast",
     "@write @string @fast",
     "Append a value to a key",
     "2.0.0",
     "string",
     {1, 1, 1}},
    {"strlen",
     "strlen",
     2,
     0,
     strlen,
     {},
     "readonly fast",
     "@read @string @fast",
     "Get the length of the value stored in a key",
     "2.2.0",
     "string",
     {1, 1, 1}},
    {"multi",
     "multi",
     1,
     0,
     multi,
     {},
     "noscript loading stale fast allow-busy",
     "@fast @transaction",
     "Mark the start of a transaction block",
     "1.2.0",
     "transactions"},
    {"exec",
     "exec",
     1,
     0,
     exec,
     {},
     "noscript loading stale skip-slowlog",
     "@slow @transaction",
     "Execute all commands issued after MULTI",
     "1.2.0",
     "transactions"},
    {"discard",
     "discard",
     1,
     0,
     discard,
     {},
     "noscript loading stale fast allow-busy",
     "@fast @transaction",
     "Discard all commands issued after MULTI",
     "2.0.0",
     "transactions"},
    {"watch",
     "watch",
     -2,
     0,
     watch,
     {},
     "noscript loading stale fast allow-busy",
     "@fast @transaction",
     "Watch the given keys to determine execution of the MULTI/EXEC block",
     "2.2.0",
     "transactions",
     {1, -1, 1}},
    {"unwatch",
     "unwatch",
     1,
     0,
     unwatch,
     {},
     "noscript loading stale fast allow-busy",
     "@fast @transaction",
     "Forget about all watched keys",
     "2.2.0",
     "transactions"},
    {"acl", "acl", -2, 0, nullptr, acl_subcommands(), "", "@slow",
     "A container for Access List Control commands", "6.0.0", "server"},
};

/// Lowercases `name` into `buffer`; false when it is too long to be any command's name.
bool lowercase(std::string_view name, std::array<char, 32>& buffer, std::string_view& out) {
    if (name.size() > buffer.size()) return false;
    // ASCII only, inline: this runs for every request.
    std::transform(name.begin(), name.end(), buffer.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
    });
    out = std::string_view(buffer.data(), name.size());
    return true;
}

const CommandSpec* find_in(std::span<const CommandSpec> table, std::string_view name) {
    std::array<char, 32> buffer;
    std::string_view lower;
    if (!lowercase(name, buffer, lower)) return nullptr;
    for (const CommandSpec& spec : table) {
        if (spec.name == lower) return &spec;
    }
    return nullptr;
}

/// `'%.*s'` in Redis stops at a NUL byte; the echoed text does too.
std::string_view up_to_nul(std::string_view text) { return text.substr(0, text.find('\0')); }

std::string unknown_command_error(std::span<const std::string_view> args) {
    std::string listed;
    for (size_t i = 1; i < args.size() && listed.size() < 128; ++i) {
        listed += fmt::format("'{}' ", up_to_nul(args[i]).substr(0, 128 - listed.size()));
    }
    return fmt::format("ERR unknown command '{}', with args beginning with: {}",
                       up_to_nul(args[0]).substr(0, 128), listed);
}

std::string unknown_subcommand_error(std::span<const std::string_view> args) {
    std::string container(up_to_nul(args[0]));
    std::transform(container.begin(), container.end(), container.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return fmt::format("ERR unknown subcommand '{}'. Try {} HELP.",
                       up_to_nul(args[1]).substr(0, 128), container);
}

bool arity_ok(const CommandSpec& spec, size_t argc) {
    const auto count = static_cast<int>(std::min<size_t>(argc, 1 << 30));
    return spec.arity > 0 ? count == spec.arity : count >= -spec.arity;
}

}  // namespace

namespace {

// Top-level commands by first letter, so a lookup (once per request) compares a handful.
using LetterIndex = std::array<std::vector<const CommandSpec*>, 26>;

const LetterIndex& commands_by_letter() {
    static const LetterIndex index = [] {
        LetterIndex built;
        for (const CommandSpec& spec : command_table) built[spec.name[0] - 'a'].push_back(&spec);
        return built;
    }();
    return index;
}

const CommandSpec* lookup_command(std::string_view name) {
    std::array<char, 32> buffer;
    std::string_view lower;
    if (!lowercase(name, buffer, lower) || lower.empty() || lower[0] < 'a' || lower[0] > 'z')
        return nullptr;
    for (const CommandSpec* spec : commands_by_letter()[lower[0] - 'a']) {
        if (spec->name == lower) return spec;
    }
    return nullptr;
}

}  // namespace

// A client sends the same command over and over, spelled the same way (a backplane node sends
// little but PUBLISH): the last name found on this thread is kept as received, so a repeat
// costs one comparison instead of lowercasing and a scan of the table.
const CommandSpec* find_command(std::string_view name) {
    struct LastFound {
        std::array<char, 32> name;
        size_t size = 0;
        const CommandSpec* spec = nullptr;
    };
    thread_local LastFound last;
    if (name.size() == last.size && std::memcmp(name.data(), last.name.data(), last.size) == 0)
        return last.spec;
    const CommandSpec* spec = lookup_command(name);
    if (spec) {
        std::memcpy(last.name.data(), name.data(), name.size());  // at most 32: lookup checked
        last.size = name.size();
        last.spec = spec;
    }
    return spec;
}

const CommandSpec* find_subcommand(const CommandSpec& container, std::string_view name) {
    return find_in(container.subcommands, name);
}

std::span<const CommandSpec> all_commands() { return command_table; }

bool has_redis_flag(const CommandSpec& spec, std::string_view flag) {
    std::string_view rest = spec.redis_flags;
    while (!rest.empty()) {
        const size_t space = rest.find(' ');
        if (rest.substr(0, space) == flag) return true;
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
    }
    return false;
}

std::vector<size_t> key_indexes(const CommandSpec& spec, std::span<const std::string_view> args) {
    std::vector<size_t> indexes;
    const auto count = static_cast<long>(args.size());
    if (spec.keys.numkeys > 0 && spec.keys.numkeys < count) {
        const auto numkeys = protocol::parse_int64(args[static_cast<size_t>(spec.keys.numkeys)]);
        if (!numkeys) return indexes;
        for (long i = spec.keys.numkeys + 1; i < count && i <= spec.keys.numkeys + *numkeys; ++i) {
            indexes.push_back(static_cast<size_t>(i));
        }
        return indexes;
    }
    if (spec.keys.first <= 0 || spec.keys.step <= 0) return indexes;
    const long last = spec.keys.last < 0 ? count + spec.keys.last : spec.keys.last;
    for (long i = spec.keys.first; i <= last && i < count; i += spec.keys.step) {
        indexes.push_back(static_cast<size_t>(i));
    }
    return indexes;
}

namespace {

/// Replies a rejection; inside MULTI it also makes EXEC fail with EXECABORT, as in Redis. A
/// rejected EXEC itself discards the transaction and says why:
/// `-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command`.
void reject(CommandContext& context, std::string_view message) {
    Transaction& transaction = context.session.transaction();
    transaction.flag_error();
    const CommandSpec* spec = context.session.last_command();
    if (spec && spec->full_name == "exec") {
        transaction.discard();
        if (message.starts_with("ERR ")) message.remove_prefix(4);
        context.reply.error(fmt::format("EXECABORT Transaction discarded because of: {}", message));
        return;
    }
    context.reply.error(message);
}

}  // namespace

void dispatch(CommandContext& context) {
    const auto args = context.args;
    const CommandSpec* spec = find_command(args[0]);
    if (spec && !spec->subcommands.empty() && args.size() >= 2) {
        const CommandSpec* sub = find_subcommand(*spec, args[1]);
        context.session.set_last_command(sub);
        if (!sub) {
            reject(context, unknown_subcommand_error(args));
            return;
        }
        spec = sub;
    }
    context.session.set_last_command(spec);
    if (!spec) {
        reject(context, unknown_command_error(args));
        return;
    }
    if (!arity_ok(*spec, args.size())) {
        reject(context,
               fmt::format("ERR wrong number of arguments for '{}' command", spec->full_name));
        return;
    }
    if (context.session.auth_required() && !(spec->flags & allowed_before_auth)) {
        reject(context, "NOAUTH Authentication required.");
        return;
    }
    // Free for users allowed everything (the default user), so PUBLISH pays nothing.
    const AclUser& user = context.session.user();
    if (!(user.all_commands && user.all_keys && user.all_channels)) {
        if (const auto denial = acl_denial(context, *spec)) {
            reject(context, *denial);
            return;
        }
    }
    if (context.session.in_subscribed_mode() && !(spec->flags & allowed_when_subscribed)) {
        reject(context, fmt::format("ERR Can't execute '{}': only (P|S)SUBSCRIBE / "
                                    "(P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                                    "are allowed in this context",
                                    spec->full_name));
        return;
    }
    Transaction& transaction = context.session.transaction();
    if (transaction.queues(*spec)) {
        transaction.queue(*spec, args);
        context.reply.simple("QUEUED");
        return;
    }
    spec->handler(context);
}

}  // namespace backplane
