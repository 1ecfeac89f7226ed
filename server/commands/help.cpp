#include <fmt/format.h>

#include <cctype>
#include <string>

#include "server/commands/commands.hpp"

namespace backplane::commands {

void reply_help(CommandContext& context, std::string_view container,
                std::span<const std::string_view> lines) {
    context.reply.array(lines.size() + 3);
    context.reply.simple(
        fmt::format("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", container));
    for (std::string_view line : lines) context.reply.simple(line);
    context.reply.simple("HELP");
    context.reply.simple("    Prints this help.");
}

void reply_subcommand_syntax_error(CommandContext& context) {
    std::string container(context.args[0]);
    for (char& c : container) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    context.reply.error(
        fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
                    context.args[1].substr(0, 128), container));
}

}  // namespace backplane::commands
