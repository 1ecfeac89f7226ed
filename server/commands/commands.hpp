#pragma once
// Handlers and subcommand tables of each command family, one file per family.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "server/command_table.hpp"

namespace backplane::commands {

void auth(CommandContext& context);
void hello(CommandContext& context);

void ping(CommandContext& context);
void echo(CommandContext& context);
void quit(CommandContext& context);
void reset(CommandContext& context);
void select(CommandContext& context);
void time(CommandContext& context);

void subscribe(CommandContext& context);
void unsubscribe(CommandContext& context);
void psubscribe(CommandContext& context);
void punsubscribe(CommandContext& context);
void ssubscribe(CommandContext& context);
void sunsubscribe(CommandContext& context);
void publish(CommandContext& context);
void spublish(CommandContext& context);

void eval(CommandContext& context);
void evalsha(CommandContext& context);
void eval_ro(CommandContext& context);
void evalsha_ro(CommandContext& context);

// Strings (strings.cpp).
void get(CommandContext& context);
void set(CommandContext& context);
void setnx(CommandContext& context);
void setex(CommandContext& context);
void psetex(CommandContext& context);
void mget(CommandContext& context);
void mset(CommandContext& context);
void incr(CommandContext& context);
void incrby(CommandContext& context);
void decr(CommandContext& context);
void decrby(CommandContext& context);
void append(CommandContext& context);
void strlen(CommandContext& context);

// Generic keyspace commands (keys.cpp).
void exists(CommandContext& context);
void del(CommandContext& context);
void unlink(CommandContext& context);
void type(CommandContext& context);
void expire(CommandContext& context);
void pexpire(CommandContext& context);
void expireat(CommandContext& context);
void pexpireat(CommandContext& context);
void ttl(CommandContext& context);
void pttl(CommandContext& context);
void expiretime(CommandContext& context);
void pexpiretime(CommandContext& context);
void persist(CommandContext& context);
void dbsize(CommandContext& context);
void flushdb(CommandContext& context);
void flushall(CommandContext& context);
void keys(CommandContext& context);

// Transactions (transaction.cpp).
void multi(CommandContext& context);
void exec(CommandContext& context);
void discard(CommandContext& context);
void watch(CommandContext& context);
void unwatch(CommandContext& context);

void info(CommandContext& context);
/// COMMAND with no subcommand: details of every command.
void command(CommandContext& context);

std::span<const CommandSpec> pubsub_subcommands();
std::span<const CommandSpec> client_subcommands();
std::span<const CommandSpec> config_subcommands();
std::span<const CommandSpec> command_subcommands();
std::span<const CommandSpec> cluster_subcommands();
std::span<const CommandSpec> script_subcommands();
std::span<const CommandSpec> acl_subcommands();

/// The `NOPERM ...` error when the session's ACL user may not run `spec` with these arguments
/// (the denial is written to the ACL log, in the "multi" context inside MULTI); nothing when
/// it may.
std::optional<std::string> acl_denial(CommandContext& context, const CommandSpec& spec);

/// Replies with Redis's HELP layout: `<NAME> <subcommand> [<arg> [value] [opt] ...].
/// Subcommands are:`, the given lines, then `HELP` / `    Prints this help.`, each as a
/// simple string.
void reply_help(CommandContext& context, std::string_view container,
                std::span<const std::string_view> lines);

/// `-ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <NAME> HELP.`, for
/// a subcommand given arguments it cannot take.
void reply_subcommand_syntax_error(CommandContext& context);

}  // namespace backplane::commands
