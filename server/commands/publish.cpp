// PUBLISH and SPUBLISH.

#include "server/commands/commands.hpp"
#include "server/server.hpp"

namespace backplane::commands {

/// PUBLISH channel message: `:<receivers>\r\n`, counting channel subscribers and pattern
/// matches (a client in both is counted twice and gets both frames). The message is encoded
/// once and the same bytes are queued on every receiver; no publisher ever waits for one.
void publish(CommandContext& context) {
    const size_t receivers = context.server.registry().publish(context.args[1], context.args[2]);
    ++context.server.stats().pubsub_messages_published;
    context.reply.integer(static_cast<int64_t>(receivers));
}

/// SPUBLISH shardchannel message: `:<receivers>\r\n`; subscribers of the shard channel get
/// `smessage` frames. A standalone server owns every slot, so no MOVED redirection applies.
void spublish(CommandContext& context) {
    const size_t receivers = context.server.registry().spublish(context.args[1], context.args[2]);
    ++context.server.stats().pubsub_messages_published;
    context.reply.integer(static_cast<int64_t>(receivers));
}

}  // namespace backplane::commands
