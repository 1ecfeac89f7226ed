// MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis's multi.c). The queueing itself happens in
// dispatch(), which asks the session's Transaction whether to run or queue each command.

#include "server/transaction.hpp"

#include <string_view>
#include <vector>

#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {

/// MULTI: `+OK\r\n`; later commands reply `+QUEUED\r\n` until EXEC or DISCARD.
void multi(CommandContext& context) {
    Transaction& transaction = context.session.transaction();
    if (transaction.in_multi()) {
        context.reply.error("ERR MULTI calls can not be nested");
        return;
    }
    transaction.begin();
    context.reply.simple("OK");
}

/// EXEC: runs the queued commands and replies an array of their replies (`*2\r\n:1\r\n:0\r\n`
/// for INCR + PUBLISH); a null array (`*-1\r\n`, RESP3 `_\r\n`) when a WATCHed key changed;
/// `-EXECABORT Transaction discarded because of previous errors.` when queueing failed.
void exec(CommandContext& context) {
    Transaction& transaction = context.session.transaction();
    if (!transaction.in_multi()) {
        context.reply.error("ERR EXEC without MULTI");
        return;
    }
    if (transaction.has_errors()) {
        context.reply.error("EXECABORT Transaction discarded because of previous errors.");
        transaction.discard();
        return;
    }
    if (transaction.watched_key_changed()) {
        context.reply.null_array();
        transaction.discard();
        return;
    }
    const std::vector<Transaction::QueuedCommand> commands = transaction.take_queue();
    const CommandSpec* exec_spec = find_command("exec");
    context.reply.array(commands.size());
    transaction.set_executing(true);
    std::vector<std::string_view> views;
    for (const Transaction::QueuedCommand& command : commands) {
        views.assign(command.args.begin(), command.args.end());
        CommandContext inner{context.server, context.session, views, context.reply};
        context.session.set_last_command(command.spec);
        command.spec->handler(inner);
        ++context.server.stats().total_commands_processed;
    }
    transaction.set_executing(false);
    context.session.set_last_command(exec_spec);
}

/// DISCARD: drops the queued commands and every WATCH; `+OK\r\n`.
void discard(CommandContext& context) {
    Transaction& transaction = context.session.transaction();
    if (!transaction.in_multi()) {
        context.reply.error("ERR DISCARD without MULTI");
        return;
    }
    transaction.discard();
    context.reply.simple("OK");
}

/// WATCH key [key ...]: `+OK\r\n`; EXEC will fail if any of them changes before it.
void watch(CommandContext& context) {
    Transaction& transaction = context.session.transaction();
    if (transaction.in_multi()) {
        context.reply.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    const auto db = static_cast<size_t>(context.session.db());
    for (size_t i = 1; i < context.args.size(); ++i) transaction.watch(db, context.args[i]);
    context.reply.simple("OK");
}

/// UNWATCH: forgets every watched key; `+OK\r\n`.
void unwatch(CommandContext& context) {
    context.session.transaction().unwatch_all();
    context.reply.simple("OK");
}

}  // namespace backplane::commands
