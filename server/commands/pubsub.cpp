// PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP: introspection of the
// channel registry. socket.io's adapter counts its servers with PUBSUB NUMSUB.

#include <optional>

#include "server/commands/commands.hpp"
#include "server/server.hpp"

namespace backplane::commands {
namespace {

/// PUBSUB CHANNELS [pattern]: active channels (with at least one subscriber), all of them or
/// those matching a glob pattern.
void channels(CommandContext& context) {
    if (context.args.size() > 3) {
        reply_subcommand_syntax_error(context);
        return;
    }
    const auto names = context.server.registry().channels_matching(
        context.args.size() == 3 ? std::optional(context.args[2]) : std::nullopt);
    context.reply.array(names.size());
    for (std::string_view name : names) context.reply.bulk(name);
}

/// PUBSUB NUMSUB [channel ...]: `*2n` of channel name and subscriber count, patterns not
/// counted: `*2\r\n$3\r\nch1\r\n:1\r\n`.
void numsub(CommandContext& context) {
    const auto args = context.args;
    context.reply.array((args.size() - 2) * 2);
    for (size_t i = 2; i < args.size(); ++i) {
        context.reply.bulk(args[i]);
        context.reply.integer(
            static_cast<int64_t>(context.server.registry().subscriber_count(args[i])));
    }
}

/// PUBSUB NUMPAT: the number of distinct patterns subscribed to.
void numpat(CommandContext& context) {
    context.reply.integer(static_cast<int64_t>(context.server.registry().pattern_count()));
}

/// PUBSUB SHARDCHANNELS [pattern]: active shard channels, all or those matching a pattern.
void shard_channels(CommandContext& context) {
    if (context.args.size() > 3) {
        reply_subcommand_syntax_error(context);
        return;
    }
    const auto names = context.server.registry().shard_channels_matching(
        context.args.size() == 3 ? std::optional(context.args[2]) : std::nullopt);
    context.reply.array(names.size());
    for (std::string_view name : names) context.reply.bulk(name);
}

/// PUBSUB SHARDNUMSUB [channel ...]: like NUMSUB, for shard channels.
void shard_numsub(CommandContext& context) {
    const auto args = context.args;
    context.reply.array((args.size() - 2) * 2);
    for (size_t i = 2; i < args.size(); ++i) {
        context.reply.bulk(args[i]);
        context.reply.integer(
            static_cast<int64_t>(context.server.registry().shard_subscriber_count(args[i])));
    }
}

void help(CommandContext& context) {
    static constexpr std::string_view lines[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
    };
    reply_help(context, "PUBSUB", lines);
}

constexpr uint32_t none = 0;

const CommandSpec subcommands[] = {
    {"channels",
     "pubsub|channels",
     -2,
     none,
     channels,
     {},
     "pubsub loading stale",
     "@pubsub @slow",
     "List active channels",
     "2.8.0",
     "pubsub"},
    {"numsub",
     "pubsub|numsub",
     -2,
     none,
     numsub,
     {},
     "pubsub loading stale",
     "@pubsub @slow",
     "Get the count of subscribers for channels",
     "2.8.0",
     "pubsub"},
    {"numpat",
     "pubsub|numpat",
     2,
     none,
     numpat,
     {},
     "pubsub loading stale",
     "@pubsub @slow",
     "Get the count of unique patterns pattern subscriptions",
     "2.8.0",
     "pubsub"},
    {"shardchannels",
     "pubsub|shardchannels",
     -2,
     none,
     shard_channels,
     {},
     "pubsub loading stale",
     "@pubsub @slow",
     "List active shard channels",
     "7.0.0",
     "pubsub"},
    {"shardnumsub",
     "pubsub|shardnumsub",
     -2,
     none,
     shard_numsub,
     {},
     "pubsub loading stale",
     "@pubsub @slow",
     "Get the count of subscribers for shard channels",
     "7.0.0",
     "pubsub"},
    {"help",
     "pubsub|help",
     2,
     none,
     help,
     {},
     "loading stale",
     "@slow",
     "Show helpful text",
     "6.2.0",
     "pubsub"},
};

}  // namespace

std::span<const CommandSpec> pubsub_subcommands() { return subcommands; }

}  // namespace backplane::commands
