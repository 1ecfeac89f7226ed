#pragma once
// Handlers and subcommand tables of each command family, one file per family.

#include <span>
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

void info(CommandContext& context);
/// COMMAND with no subcommand: details of every command.
void command(CommandContext& context);

std::span<const CommandSpec> pubsub_subcommands();
std::span<const CommandSpec> client_subcommands();
std::span<const CommandSpec> config_subcommands();
std::span<const CommandSpec> command_subcommands();
std::span<const CommandSpec> cluster_subcommands();
std::span<const CommandSpec> acl_subcommands();

/// Checks the session's ACL user may run `spec` with these arguments; if not, replies
/// `-NOPERM ...`, writes the ACL log and returns false.
bool acl_permits(CommandContext& context, const CommandSpec& spec);

/// Replies with Redis's HELP layout: `<NAME> <subcommand> [<arg> [value] [opt] ...].
/// Subcommands are:`, the given lines, then `HELP` / `    Prints this help.`, each as a
/// simple string.
void reply_help(CommandContext& context, std::string_view container,
                std::span<const std::string_view> lines);

/// `-ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <NAME> HELP.`, for
/// a subcommand given arguments it cannot take.
void reply_subcommand_syntax_error(CommandContext& context);

}  // namespace backplane::commands
