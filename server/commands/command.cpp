// COMMAND, COMMAND COUNT / LIST / INFO / DOCS / HELP: the command table, described the way
// Redis 7 describes its own (redis-cli builds its hints from COMMAND).

#include <strings.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "server/commands/commands.hpp"
#include "server/glob.hpp"

namespace backplane::commands {
namespace {

std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::vector<std::string_view> words(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const size_t space = text.find(' ');
        if (space != 0) out.push_back(text.substr(0, space));
        if (space == std::string_view::npos) break;
        text.remove_prefix(space + 1);
    }
    return out;
}

/// The 10-element description: name, arity, flags, first key, last key, key step, ACL
/// categories, tips, key specs, subcommands.
void describe(CommandContext& context, const CommandSpec& spec) {
    auto& reply = context.reply;
    reply.array(10);
    reply.bulk(spec.full_name);
    reply.integer(spec.arity);
    const auto flags = words(spec.redis_flags);
    reply.set(flags.size());
    // The table spells flags as Redis's docs do ("allow-busy"); COMMAND INFO says "allow_busy".
    for (std::string_view flag : flags) {
        std::string wire(flag);
        std::replace(wire.begin(), wire.end(), '-', '_');
        reply.simple(wire);
    }
    reply.integer(spec.keys.first);
    reply.integer(spec.keys.last);
    reply.integer(spec.keys.step);
    const auto categories = words(spec.acl_categories);
    reply.set(categories.size());
    for (std::string_view category : categories) reply.simple(category);
    reply.set(0);  // tips
    reply.set(0);  // key specs: not described (first/last/step above give the key positions)
    if (spec.subcommands.empty()) {
        reply.set(0);
    } else {
        reply.array(spec.subcommands.size());
        for (const CommandSpec& sub : spec.subcommands) describe(context, sub);
    }
}

void document(CommandContext& context, const CommandSpec& spec) {
    auto& reply = context.reply;
    reply.bulk(spec.full_name);
    reply.map(spec.subcommands.empty() ? 3 : 4);
    reply.bulk("summary");
    reply.bulk(spec.summary);
    reply.bulk("since");
    reply.bulk(spec.since);
    reply.bulk("group");
    reply.bulk(spec.group);
    if (!spec.subcommands.empty()) {
        reply.bulk("subcommands");
        reply.map(spec.subcommands.size());
        for (const CommandSpec& sub : spec.subcommands) document(context, sub);
    }
}

/// COMMAND INFO name ...: one description per name, null for an unknown one.
void info(CommandContext& context) {
    const auto args = context.args;
    if (args.size() == 2) {
        command(context);
        return;
    }
    context.reply.array(args.size() - 2);
    for (size_t i = 2; i < args.size(); ++i) {
        if (const CommandSpec* spec = find_command(args[i])) {
            describe(context, *spec);
        } else {
            context.reply.null();
        }
    }
}

/// COMMAND DOCS [name ...]: summary, since and group of each (known) command, as a map.
void docs(CommandContext& context) {
    const auto args = context.args;
    std::vector<const CommandSpec*> specs;
    if (args.size() == 2) {
        for (const CommandSpec& spec : all_commands()) specs.push_back(&spec);
    } else {
        for (size_t i = 2; i < args.size(); ++i) {
            if (const CommandSpec* spec = find_command(args[i])) specs.push_back(spec);
        }
    }
    context.reply.map(specs.size());
    for (const CommandSpec* spec : specs) document(context, *spec);
}

void count(CommandContext& context) {
    context.reply.integer(static_cast<int64_t>(all_commands().size()));
}

bool has_category(const CommandSpec& spec, std::string_view category) {
    for (std::string_view word : words(spec.acl_categories)) {
        if (word.size() == category.size() + 1 &&
            strncasecmp(word.data() + 1, category.data(), category.size()) == 0)
            return true;
    }
    return false;
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: the full name of
/// every command and subcommand ("client|list"), optionally filtered.
void list(CommandContext& context) {
    const auto args = context.args;
    std::function<bool(const CommandSpec&)> keep = [](const CommandSpec&) { return true; };
    if (args.size() == 5 && strcasecmp(std::string(args[2]).c_str(), "filterby") == 0) {
        const std::string kind(args[3]);
        const std::string argument(args[4]);
        if (strcasecmp(kind.c_str(), "module") == 0) {
            keep = [](const CommandSpec&) { return false; };
        } else if (strcasecmp(kind.c_str(), "aclcat") == 0) {
            keep = [argument](const CommandSpec& spec) { return has_category(spec, argument); };
        } else if (strcasecmp(kind.c_str(), "pattern") == 0) {
            keep = [argument](const CommandSpec& spec) {
                return glob_match(lowercase(argument), lowercase(spec.full_name));
            };
        } else {
            context.reply.error("ERR syntax error");
            return;
        }
    } else if (args.size() != 2) {
        context.reply.error("ERR syntax error");
        return;
    }
    std::vector<std::string_view> names;
    for (const CommandSpec& spec : all_commands()) {
        if (keep(spec)) names.push_back(spec.full_name);
        for (const CommandSpec& sub : spec.subcommands) {
            if (keep(sub)) names.push_back(sub.full_name);
        }
    }
    context.reply.array(names.size());
    for (std::string_view name : names) context.reply.bulk(name);
}

void help(CommandContext& context) {
    static constexpr std::string_view lines[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
    };
    reply_help(context, "COMMAND", lines);
}

constexpr uint32_t none = 0;

const CommandSpec subcommands[] = {
    {"count",
     "command|count",
     2,
     none,
     count,
     {},
     "loading stale",
     "@slow @connection",
     "Get total number of Redis commands",
     "2.8.13",
     "server"},
    {"list",
     "command|list",
     -2,
     none,
     list,
     {},
     "loading stale",
     "@slow @connection",
     "Get an array of Redis command names",
     "7.0.0",
     "server"},
    {"info",
     "command|info",
     -2,
     none,
     info,
     {},
     "loading stale",
     "@slow @connection",
     "Get array of specific Redis command details, or all when no argument is given",
     "2.8.13",
     "server"},
    {"docs",
     "command|docs",
     -2,
     none,
     docs,
     {},
     "loading stale",
     "@slow @connection",
     "Get array of specific Redis command documentation",
     "7.0.0",
     "server"},
    {"help",
     "command|help",
     2,
     none,
     help,
     {},
     "loading stale",
     "@slow @connection",
     "Show helpful text about the different subcommands",
     "5.0.0",
     "server"},
};

}  // namespace

/// COMMAND: every command's description.
void command(CommandContext& context) {
    context.reply.array(all_commands().size());
    for (const CommandSpec& spec : all_commands()) describe(context, spec);
}

std::span<const CommandSpec> command_subcommands() { return subcommands; }

}  // namespace backplane::commands
