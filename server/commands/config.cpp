// CONFIG GET / SET / RESETSTAT / HELP.

#include "server/config.hpp"

#include <strings.h>

#include "server/commands/commands.hpp"
#include "server/log.hpp"
#include "server/server.hpp"

namespace backplane::commands {
namespace {

/// CONFIG GET pattern [pattern ...]: name/value pairs of the matching directives, as a map
/// (a flat array in RESP2): `*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n`.
void get(CommandContext& context) {
    const auto matches = config_get(context.server.config(), context.args.subspan(2));
    context.reply.map(matches.size());
    for (const auto& [name, value] : matches) {
        context.reply.bulk(name);
        context.reply.bulk(value);
    }
}

/// CONFIG SET name value [name value ...]: all or nothing; `+OK\r\n`.
void set(CommandContext& context) {
    if (context.args.size() % 2 != 0) {
        context.reply.error("ERR syntax error");
        return;
    }
    Config& config = context.server.config();
    const Config previous = config;
    if (auto error = config_set(config, context.args.subspan(2))) {
        context.reply.error(*error);
        return;
    }
    if (auto error = context.server.apply_tls_changes(previous)) {
        config = previous;
        context.reply.error(*error);
        return;
    }
    if (auto error = context.server.apply_listener_changes(previous)) {
        const Config attempted = config;
        config = previous;
        context.server.apply_tls_changes(attempted);
        context.reply.error(*error);
        return;
    }
    log::set_level(config.loglevel);
    bool password_named = false;
    for (size_t i = 2; i < context.args.size(); i += 2)
        password_named |= strcasecmp(std::string(context.args[i]).c_str(), "requirepass") == 0;
    context.server.apply_acl_config(password_named);
    context.reply.simple("OK");
}

/// CONFIG RESETSTAT: zeroes the counters INFO reports.
void resetstat(CommandContext& context) {
    context.server.stats() = ServerStats{};
    context.reply.simple("OK");
}

void help(CommandContext& context) {
    static constexpr std::string_view lines[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
    };
    reply_help(context, "CONFIG", lines);
}

constexpr uint32_t none = 0;

const CommandSpec subcommands[] = {
    {"get",
     "config|get",
     -3,
     none,
     get,
     {},
     "admin noscript loading stale",
     "@admin @slow @dangerous",
     "Get the values of configuration parameters",
     "2.0.0",
     "server"},
    {"set",
     "config|set",
     -4,
     none,
     set,
     {},
     "admin noscript loading stale",
     "@admin @slow @dangerous",
     "Set configuration parameters to the given values",
     "2.0.0",
     "server"},
    {"resetstat",
     "config|resetstat",
     2,
     none,
     resetstat,
     {},
     "admin noscript loading stale",
     "@admin @slow @dangerous",
     "Reset the stats returned by INFO",
     "2.0.0",
     "server"},
    {"help",
     "config|help",
     2,
     none,
     help,
     {},
     "loading stale",
     "@slow",
     "Show helpful text about the different subcommands",
     "5.0.0",
     "server"},
};

}  // namespace

std::span<const CommandSpec> config_subcommands() { return subcommands; }

}  // namespace backplane::commands
