// AUTH and HELLO: authentication and protocol negotiation.

#include <fmt/format.h>
#include <strings.h>

#include <optional>

#include "protocol/number.hpp"
#include "server/commands/client_name.hpp"
#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"
#include "server/version.hpp"

namespace backplane::commands {
namespace {

constexpr std::string_view wrong_password =
    "WRONGPASS invalid username-password pair or user is disabled.";

/// Redis's ACLAuthenticateUser(): an enabled user with a matching password (or `nopass`)
/// becomes the session's user. A failure is written to the ACL log and leaves an earlier
/// login in place.
bool authenticate(CommandContext& context, std::string_view user, std::string_view password) {
    AclUsers& users = context.server.acl();
    std::shared_ptr<AclUser> found = users.authenticate(user, password);
    if (!found) {
        users.log("auth", context.session.transaction().in_multi() ? "multi" : "toplevel", "AUTH",
                  user, context.session.describe());
        return false;
    }
    context.session.set_user(std::move(found));
    context.session.set_authenticated(true);
    return true;
}

}  // namespace

/// AUTH [username] password: `+OK\r\n`, or `-WRONGPASS ...`. The one-argument form without a
/// configured password is an error, as in Redis, so clients notice a misconfiguration.
void auth(CommandContext& context) {
    const auto args = context.args;
    if (args.size() > 3) {
        context.reply.error("ERR syntax error");
        return;
    }
    if (args.size() == 2 && context.server.acl().default_user()->nopass) {
        context.reply.error(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?");
        return;
    }
    const std::string_view user = args.size() == 3 ? args[1] : "default";
    if (authenticate(context, user, args.back())) {
        context.reply.simple("OK");
    } else {
        context.reply.error(wrong_password);
    }
}

/// HELLO [protover [AUTH username password] [SETNAME name]]: authenticates, names the client
/// and switches protocol, then describes the server as a map (a flat array in RESP2):
/// server, version, proto, id, mode, role, modules.
void hello(CommandContext& context) {
    const auto args = context.args;
    int64_t version = 0;
    size_t next = 1;
    if (args.size() >= 2) {
        const auto parsed = protocol::parse_int64(args[next++]);
        if (!parsed) {
            context.reply.error("ERR Protocol version is not an integer or out of range");
            return;
        }
        version = *parsed;
        if (version < 2 || version > 3) {
            context.reply.error("NOPROTO unsupported protocol version");
            return;
        }
    }
    std::optional<std::string_view> user, password, name;
    for (size_t i = next; i < args.size(); ++i) {
        const size_t more = args.size() - 1 - i;
        if (strcasecmp(std::string(args[i]).c_str(), "auth") == 0 && more >= 2) {
            user = args[i + 1];
            password = args[i + 2];
            i += 2;
        } else if (strcasecmp(std::string(args[i]).c_str(), "setname") == 0 && more >= 1) {
            name = args[++i];
        } else {
            context.reply.error(
                fmt::format("ERR Syntax error in HELLO option '{}'", args[i].substr(0, 128)));
            return;
        }
    }
    if (user && !authenticate(context, *user, *password)) {
        context.reply.error(wrong_password);
        return;
    }
    if (name && !valid_client_name(*name)) {
        reply_invalid_client_name(context);
        return;
    }
    if (!context.session.authenticated()) {
        context.reply.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time");
        return;
    }
    if (name && !set_client_name(context, *name)) return;
    if (version) {
        context.session.set_resp(static_cast<protocol::RespVersion>(version));
        context.reply.set_version(context.session.resp());
    }
    auto& reply = context.reply;
    reply.map(7);
    reply.bulk("server");
    reply.bulk("redis");
    reply.bulk("version");
    reply.bulk(redis_compatible_version);
    reply.bulk("proto");
    reply.integer(static_cast<int64_t>(context.session.resp()));
    reply.bulk("id");
    reply.integer(static_cast<int64_t>(context.session.id()));
    reply.bulk("mode");
    reply.bulk("standalone");
    reply.bulk("role");
    reply.bulk("master");
    reply.bulk("modules");
    reply.array(0);
}

}  // namespace backplane::commands
