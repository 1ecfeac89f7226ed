// CLUSTER: this is a standalone server. Every subcommand answers
// `-ERR This instance has cluster support disabled`, which is what StackExchange.Redis needs to
// see from `CLUSTER NODES` to stay in standalone mode. Arities follow Redis 7.0.

#include "server/commands/commands.hpp"

namespace backplane::commands {
namespace {

void disabled(CommandContext& context) {
    context.reply.error("ERR This instance has cluster support disabled");
}

#define CLUSTER_SUBCOMMAND(name, arity) \
    { name, "cluster|" name, arity, 0, disabled, {}, "", "@slow", "", "3.0.0", "cluster" }

const CommandSpec subcommands[] = {
    CLUSTER_SUBCOMMAND("addslots", -3),
    CLUSTER_SUBCOMMAND("addslotsrange", -4),
    CLUSTER_SUBCOMMAND("bumpepoch", 2),
    CLUSTER_SUBCOMMAND("count-failure-reports", 3),
    CLUSTER_SUBCOMMAND("countkeysinslot", 3),
    CLUSTER_SUBCOMMAND("delslots", -3),
    CLUSTER_SUBCOMMAND("delslotsrange", -4),
    CLUSTER_SUBCOMMAND("failover", -2),
    CLUSTER_SUBCOMMAND("flushslots", 2),
    CLUSTER_SUBCOMMAND("forget", 3),
    CLUSTER_SUBCOMMAND("getkeysinslot", 4),
    CLUSTER_SUBCOMMAND("help", 2),
    CLUSTER_SUBCOMMAND("info", 2),
    CLUSTER_SUBCOMMAND("keyslot", 3),
    CLUSTER_SUBCOMMAND("links", 2),
    CLUSTER_SUBCOMMAND("meet", -4),
    CLUSTER_SUBCOMMAND("myid", 2),
    CLUSTER_SUBCOMMAND("nodes", 2),
    CLUSTER_SUBCOMMAND("replicas", 3),
    CLUSTER_SUBCOMMAND("replicate", 3),
    CLUSTER_SUBCOMMAND("reset", -2),
    CLUSTER_SUBCOMMAND("saveconfig", 2),
    CLUSTER_SUBCOMMAND("set-config-epoch", 3),
    CLUSTER_SUBCOMMAND("setslot", -4),
    CLUSTER_SUBCOMMAND("shards", 2),
    CLUSTER_SUBCOMMAND("slaves", 3),
    CLUSTER_SUBCOMMAND("slots", 2),
};

#undef CLUSTER_SUBCOMMAND

}  // namespace

std::span<const CommandSpec> cluster_subcommands() { return subcommands; }

}  // namespace backplane::commands
