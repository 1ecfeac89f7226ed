#include <fmt/format.h>

#include <string>

#include "server/commands/commands.hpp"

namespace backplane::commands {

void reply_help(CommandContext& context, std::string_view container,
                std::span<const std::string_view> lines) {
    context.reply.array(lines.size() + 3);
    context.reply.simple(fmt::format(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", container));
    for (std::string_view line : lines) context.reply.simple(line);
    context.reply.simple("HELP");
    context.reply.simple("    Prints this help.");
}

}  // namespace backplane::commands
