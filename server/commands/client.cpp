// CLIENT ID / SETNAME / GETNAME / SETINFO / LIST / INFO / KILL / HELP.

#include <fmt/format.h>
#include <strings.h>

#include <string>
#include <vector>

#include "protocol/number.hpp"
#include "server/commands/client_name.hpp"
#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/// Redis's validateClientAttr(): only printable ASCII without spaces.
bool printable_without_spaces(std::string_view value) {
    for (unsigned char c : value) {
        if (c < '!' || c > '~') return false;
    }
    return true;
}

enum class ClientType { normal, pubsub, replica, master, unknown };

ClientType client_type(std::string_view name) {
    if (equals_ignoring_case(name, "normal")) return ClientType::normal;
    if (equals_ignoring_case(name, "pubsub")) return ClientType::pubsub;
    if (equals_ignoring_case(name, "replica") || equals_ignoring_case(name, "slave"))
        return ClientType::replica;
    if (equals_ignoring_case(name, "master")) return ClientType::master;
    return ClientType::unknown;
}

ClientType type_of(const Session& session) {
    return session.is_pubsub_client() ? ClientType::pubsub : ClientType::normal;
}

/// CLIENT ID: `:<id>\r\n`.
void id(CommandContext& context) {
    context.reply.integer(static_cast<int64_t>(context.session.id()));
}

/// CLIENT SETNAME name: `+OK\r\n`.
void setname(CommandContext& context) {
    if (set_client_name(context, context.args[2])) context.reply.simple("OK");
}

/// CLIENT GETNAME: the name as a bulk string, or null.
void getname(CommandContext& context) {
    if (context.session.name().empty()) {
        context.reply.null();
    } else {
        context.reply.bulk(context.session.name());
    }
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2): recorded and shown by CLIENT LIST.
void setinfo(CommandContext& context) {
    const std::string_view attribute = context.args[2];
    const std::string_view value = context.args[3];
    const bool name = equals_ignoring_case(attribute, "lib-name");
    if (!name && !equals_ignoring_case(attribute, "lib-ver")) {
        context.reply.error(fmt::format("ERR Unrecognized option '{}'", attribute.substr(0, 128)));
        return;
    }
    if (!printable_without_spaces(value)) {
        context.reply.error(fmt::format(
            "ERR {} cannot contain spaces, newlines or special characters.", attribute));
        return;
    }
    if (name) {
        context.session.set_lib_name(std::string(value));
    } else {
        context.session.set_lib_version(std::string(value));
    }
    context.reply.simple("OK");
}

/// CLIENT LIST [TYPE type] [ID id ...]: one `id=... addr=...` line per client, each ending in
/// "\n", as one bulk string (verbatim text in RESP3).
void list(CommandContext& context) {
    const auto args = context.args;
    std::optional<ClientType> type;
    std::vector<uint64_t> ids;
    bool by_id = false;
    if (args.size() == 4 && equals_ignoring_case(args[2], "type")) {
        type = client_type(args[3]);
        if (*type == ClientType::unknown) {
            context.reply.error(fmt::format("ERR Unknown client type '{}'", args[3]));
            return;
        }
    } else if (args.size() >= 4 && equals_ignoring_case(args[2], "id")) {
        by_id = true;
        for (size_t i = 3; i < args.size(); ++i) {
            const auto value = protocol::parse_int64(args[i]);
            if (!value) {
                context.reply.error("ERR Invalid client ID");
                return;
            }
            if (*value > 0) ids.push_back(static_cast<uint64_t>(*value));
        }
    } else if (args.size() != 2) {
        context.reply.error("ERR syntax error");
        return;
    }
    std::string text;
    for (const auto& [client_id, session] : context.server.sessions()) {
        if (type && type_of(*session) != *type) continue;
        if (by_id && std::find(ids.begin(), ids.end(), client_id) == ids.end()) continue;
        text += session->describe();
        text += '\n';
    }
    context.reply.verbatim(text);
}

/// CLIENT INFO: this client's CLIENT LIST line.
void info(CommandContext& context) { context.reply.verbatim(context.session.describe() + "\n"); }

struct KillFilter {
    std::optional<uint64_t> id;
    std::optional<ClientType> type;
    std::optional<std::string_view> address;
    std::optional<std::string_view> local_address;
    const AclUser* user = nullptr;
    bool skip_me = true;

    bool matches(const Session& session, const Session& caller) const {
        if (skip_me && &session == &caller) return false;
        if (id && session.id() != *id) return false;
        if (type && type_of(session) != *type) return false;
        if (address && session.peer_address() != *address) return false;
        if (local_address && session.local_address() != *local_address) return false;
        if (user && &session.user() != user) return false;
        return true;
    }
};

/// Parses the `<option> <value>` pairs of CLIENT KILL; replies with the error on failure.
std::optional<KillFilter> parse_kill_filter(CommandContext& context) {
    const auto args = context.args;
    KillFilter filter;
    if (args.size() % 2 != 0) {
        context.reply.error("ERR syntax error");
        return std::nullopt;
    }
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
        const std::string_view option = args[i];
        const std::string_view value = args[i + 1];
        if (equals_ignoring_case(option, "id")) {
            const auto number = protocol::parse_int64(value);
            if (!number || *number <= 0) {
                context.reply.error("ERR client-id should be greater than 0");
                return std::nullopt;
            }
            filter.id = static_cast<uint64_t>(*number);
        } else if (equals_ignoring_case(option, "type")) {
            filter.type = client_type(value);
            if (*filter.type == ClientType::unknown) {
                context.reply.error(fmt::format("ERR Unknown client type '{}'", value));
                return std::nullopt;
            }
        } else if (equals_ignoring_case(option, "addr")) {
            filter.address = value;
        } else if (equals_ignoring_case(option, "laddr")) {
            filter.local_address = value;
        } else if (equals_ignoring_case(option, "user")) {
            filter.user = context.server.acl().find(value).get();
            if (!filter.user) {
                context.reply.error(fmt::format("ERR No such user '{}'", value));
                return std::nullopt;
            }
        } else if (equals_ignoring_case(option, "skipme")) {
            if (equals_ignoring_case(value, "yes")) {
                filter.skip_me = true;
            } else if (equals_ignoring_case(value, "no")) {
                filter.skip_me = false;
            } else {
                context.reply.error("ERR syntax error");
                return std::nullopt;
            }
        } else {
            context.reply.error("ERR syntax error");
            return std::nullopt;
        }
    }
    return filter;
}

/// Closes `victims`; the calling client, if among them, is closed after this reply.
void kill_all(CommandContext& context, const std::vector<Session*>& victims) {
    for (Session* victim : victims) {
        if (victim == &context.session) {
            context.session.close_after_reply();
        } else {
            victim->stop();
        }
    }
}

/// CLIENT KILL ip:port (`+OK\r\n` or `-ERR No such client`), or CLIENT KILL <filter> <value>
/// ... (`:<clients killed>\r\n`).
void kill(CommandContext& context) {
    std::vector<Session*> victims;
    if (context.args.size() == 3) {
        for (const auto& [client_id, session] : context.server.sessions()) {
            if (session->peer_address() == context.args[2]) victims.push_back(session);
        }
        if (victims.empty()) {
            context.reply.error("ERR No such client");
            return;
        }
        context.reply.simple("OK");
        kill_all(context, victims);
        return;
    }
    const auto filter = parse_kill_filter(context);
    if (!filter) return;
    for (const auto& [client_id, session] : context.server.sessions()) {
        if (filter->matches(*session, context.session)) victims.push_back(session);
    }
    context.reply.integer(static_cast<int64_t>(victims.size()));
    kill_all(context, victims);
}

void help(CommandContext& context) {
    static constexpr std::string_view lines[] = {
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
    };
    reply_help(context, "CLIENT", lines);
}

constexpr uint32_t none = 0;

const CommandSpec subcommands[] = {
    {"id",
     "client|id",
     2,
     none,
     id,
     {},
     "noscript loading stale",
     "@slow @connection",
     "Returns the client ID for the current connection",
     "5.0.0",
     "connection"},
    {"setname",
     "client|setname",
     3,
     none,
     setname,
     {},
     "noscript loading stale",
     "@slow @connection",
     "Set the current connection name",
     "2.6.9",
     "connection"},
    {"getname",
     "client|getname",
     2,
     none,
     getname,
     {},
     "noscript loading stale",
     "@slow @connection",
     "Get the current connection name",
     "2.6.9",
     "connection"},
    {"setinfo",
     "client|setinfo",
     4,
     none,
     setinfo,
     {},
     "noscript loading stale",
     "@slow @connection",
     "Set client or connection specific info",
     "7.2.0",
     "connection"},
    {"list",
     "client|list",
     -2,
     none,
     list,
     {},
     "admin noscript loading stale",
     "@admin @slow @dangerous @connection",
     "Get the list of client connections",
     "2.4.0",
     "connection"},
    {"info",
     "client|info",
     2,
     none,
     info,
     {},
     "noscript loading stale",
     "@slow @connection",
     "Returns information about the current client connection.",
     "6.2.0",
     "connection"},
    {"kill",
     "client|kill",
     -3,
     none,
     kill,
     {},
     "admin noscript loading stale",
     "@admin @slow @dangerous @connection",
     "Kill the connection of a client",
     "2.4.0",
     "connection"},
    {"help",
     "client|help",
     2,
     none,
     help,
     {},
     "loading stale",
     "@slow @connection",
     "Show helpful text about the different subcommands",
     "5.0.0",
     "connection"},
};

}  // namespace

bool valid_client_name(std::string_view name) { return printable_without_spaces(name); }

void reply_invalid_client_name(CommandContext& context) {
    context.reply.error("ERR Client names cannot contain spaces, newlines or special characters.");
}

bool set_client_name(CommandContext& context, std::string_view name) {
    if (!valid_client_name(name)) {
        reply_invalid_client_name(context);
        return false;
    }
    context.session.set_name(std::string(name));
    return true;
}

std::span<const CommandSpec> client_subcommands() { return subcommands; }

}  // namespace backplane::commands
