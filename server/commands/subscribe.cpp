// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE.
//
// Each replies once per channel or pattern with `[kind, name, count]`, where count is the
// client's channels plus patterns after the change:
//   SUBSCRIBE a b  ->  *3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n
//   *3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n
// The reply is a push frame (`>3`) in RESP3.

#include <string>
#include <vector>

#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {
namespace {

using Change = bool (ChannelRegistry::*)(Subscriber&, std::string_view);

void confirm(CommandContext& context, std::string_view kind, const std::string_view* name) {
    context.reply.push(3);
    context.reply.bulk(kind);
    if (name) {
        context.reply.bulk(*name);
    } else {
        context.reply.null();
    }
    context.reply.integer(static_cast<int64_t>(context.session.subscription_count()));
}

void change_each(CommandContext& context, std::string_view kind, Change change) {
    ChannelRegistry& registry = context.server.registry();
    for (size_t i = 1; i < context.args.size(); ++i) {
        (registry.*change)(context.session, context.args[i]);
        confirm(context, kind, &context.args[i]);
    }
}

/// Without arguments, leaves every channel (or pattern) the client is in, one reply each; a
/// client in none gets `[kind, nil, count]`.
void leave_all(CommandContext& context, std::string_view kind, Change change,
               const std::vector<std::string>& names) {
    if (names.empty()) {
        confirm(context, kind, nullptr);
        return;
    }
    for (const std::string& name : names) {
        (context.server.registry().*change)(context.session, name);
        const std::string_view view = name;
        confirm(context, kind, &view);
    }
}

}  // namespace

void subscribe(CommandContext& context) {
    change_each(context, "subscribe", &ChannelRegistry::subscribe);
}

void psubscribe(CommandContext& context) {
    change_each(context, "psubscribe", &ChannelRegistry::psubscribe);
}

void unsubscribe(CommandContext& context) {
    if (context.args.size() == 1) {
        leave_all(context, "unsubscribe", &ChannelRegistry::unsubscribe,
                  context.session.channel_names());
    } else {
        change_each(context, "unsubscribe", &ChannelRegistry::unsubscribe);
    }
}

void punsubscribe(CommandContext& context) {
    if (context.args.size() == 1) {
        leave_all(context, "punsubscribe", &ChannelRegistry::punsubscribe,
                  context.session.pattern_names());
    } else {
        change_each(context, "punsubscribe", &ChannelRegistry::punsubscribe);
    }
}

}  // namespace backplane::commands
