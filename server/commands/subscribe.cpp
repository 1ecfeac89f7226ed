// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE.
//
// Each replies once per channel or pattern with `[kind, name, count]`, where count is the
// client's channels plus patterns after the change (shard channels are counted apart):
//   SUBSCRIBE a b  ->  *3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n
//                      *3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n
// The reply is a push frame (`>3`) in RESP3.

#include <string>
#include <vector>

#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {
namespace {

/// What differs between channels, patterns and shard channels.
struct Family {
    std::string_view join_reply;
    std::string_view leave_reply;
    bool (ChannelRegistry::*join)(Subscriber&, std::string_view);
    bool (ChannelRegistry::*leave)(Subscriber&, std::string_view);
    std::vector<std::string> (Subscriber::*names)() const;
    size_t (Subscriber::*count)() const;
};

constexpr Family channels{"subscribe",
                          "unsubscribe",
                          &ChannelRegistry::subscribe,
                          &ChannelRegistry::unsubscribe,
                          &Subscriber::channel_names,
                          &Subscriber::subscription_count};
constexpr Family patterns{"psubscribe",
                          "punsubscribe",
                          &ChannelRegistry::psubscribe,
                          &ChannelRegistry::punsubscribe,
                          &Subscriber::pattern_names,
                          &Subscriber::subscription_count};
constexpr Family shard_channels{"ssubscribe",
                                "sunsubscribe",
                                &ChannelRegistry::ssubscribe,
                                &ChannelRegistry::sunsubscribe,
                                &Subscriber::shard_channel_names,
                                &Subscriber::shard_channel_count};

void confirm(CommandContext& context, const Family& family, std::string_view kind,
             const std::string_view* name) {
    context.reply.push(3);
    context.reply.bulk(kind);
    if (name) {
        context.reply.bulk(*name);
    } else {
        context.reply.null();
    }
    context.reply.integer(static_cast<int64_t>((context.session.*family.count)()));
}

void join(CommandContext& context, const Family& family) {
    ChannelRegistry& registry = context.server.registry();
    for (size_t i = 1; i < context.args.size(); ++i) {
        (registry.*family.join)(context.session, context.args[i]);
        confirm(context, family, family.join_reply, &context.args[i]);
    }
}

/// Leaves the named channels, or without arguments every one the client is in, one reply
/// each; a client in none gets `[kind, nil, count]`.
void leave(CommandContext& context, const Family& family) {
    ChannelRegistry& registry = context.server.registry();
    if (context.args.size() > 1) {
        for (size_t i = 1; i < context.args.size(); ++i) {
            (registry.*family.leave)(context.session, context.args[i]);
            confirm(context, family, family.leave_reply, &context.args[i]);
        }
        return;
    }
    const std::vector<std::string> names = (context.session.*family.names)();
    if (names.empty()) confirm(context, family, family.leave_reply, nullptr);
    for (const std::string& name : names) {
        (registry.*family.leave)(context.session, name);
        const std::string_view view = name;
        confirm(context, family, family.leave_reply, &view);
    }
}

}  // namespace

void subscribe(CommandContext& context) { join(context, channels); }
void unsubscribe(CommandContext& context) { leave(context, channels); }
void psubscribe(CommandContext& context) { join(context, patterns); }
void punsubscribe(CommandContext& context) { leave(context, patterns); }
/// Inside EXEC, Redis 7.0 refuses SSUBSCRIBE (a transaction is a "deny blocking" context),
/// while SUBSCRIBE and PSUBSCRIBE are allowed there.
void ssubscribe(CommandContext& context) {
    if (context.session.transaction().executing()) {
        context.reply.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    join(context, shard_channels);
}
void sunsubscribe(CommandContext& context) { leave(context, shard_channels); }

}  // namespace backplane::commands
