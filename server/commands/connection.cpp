// Connection commands: PING, ECHO, QUIT, RESET, SELECT, TIME.

#include <chrono>
#include <string>

#include "protocol/number.hpp"
#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {

/// PING [message]: `+PONG\r\n` or the message as a bulk string. A RESP2 client in subscribed
/// mode gets `*2\r\n$4\r\npong\r\n$<n>\r\n<message>\r\n` (an empty message without one), the
/// shape redis-py and StackExchange.Redis check their health pings against.
void ping(CommandContext& context) {
    const auto args = context.args;
    if (args.size() > 2) {
        context.reply.error("ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (context.session.in_subscribed_mode()) {
        context.reply.array(2);
        context.reply.bulk("pong");
        context.reply.bulk(args.size() == 2 ? args[1] : std::string_view{});
    } else if (args.size() == 2) {
        context.reply.bulk(args[1]);
    } else {
        context.reply.simple("PONG");
    }
}

/// ECHO message: the message as a bulk string (`$2\r\nhi\r\n`). StackExchange.Redis completes
/// its handshake only when this echoes its tracer exactly.
void echo(CommandContext& context) { context.reply.bulk(context.args[1]); }

/// QUIT: `+OK\r\n`, then the connection closes; pipelined commands after it are not run.
void quit(CommandContext& context) {
    context.reply.simple("OK");
    context.session.close_after_reply();
}

/// RESET: back to a fresh connection's state (no subscriptions, RESP2, db 0, no name, and
/// unauthenticated when a password is set). Replies `+RESET\r\n`.
void reset(CommandContext& context) {
    Session& session = context.session;
    context.server.registry().remove(session);
    session.transaction().discard();
    session.set_resp(protocol::RespVersion::resp2);
    session.set_db(0);
    session.set_name({});
    session.set_authenticated(!context.server.acl().auth_required());
    session.set_user(context.server.acl().default_user());
    context.reply.simple("RESET");
}

/// SELECT index: `+OK\r\n` for 0..databases-1. Pub/sub ignores the database, so this only
/// records the choice for CLIENT LIST.
void select(CommandContext& context) {
    const auto index = protocol::parse_int64(context.args[1]);
    if (!index) {
        context.reply.error("ERR value is not an integer or out of range");
        return;
    }
    if (*index < INT32_MIN || *index > INT32_MAX) {
        context.reply.error(
            "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (*index < 0 || *index >= context.server.config().databases) {
        context.reply.error("ERR DB index is out of range");
        return;
    }
    context.session.set_db(*index);
    context.reply.simple("OK");
}

/// TIME: `*2\r\n$10\r\n<unix seconds>\r\n$<n>\r\n<microseconds>\r\n`.
void time(CommandContext& context) {
    using namespace std::chrono;
    const auto now = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    context.reply.array(2);
    context.reply.bulk(std::to_string(now / 1000000));
    context.reply.bulk(std::to_string(now % 1000000));
}

}  // namespace backplane::commands
