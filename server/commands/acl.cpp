// ACL CAT / DELUSER / DRYRUN / GETUSER / GENPASS / LIST / LOAD / LOG / SAVE / SETUSER / USERS /
// WHOAMI / HELP, and the permission check dispatch runs before every command of a restricted
// user.

#include "server/acl.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <strings.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "protocol/number.hpp"
#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {
namespace {

constexpr std::string_view no_acl_file =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users "
    "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
    "configuration file set) in order to store users in the Redis configuration.";

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/// Closes `victims`; the calling client, if among them, after this reply.
void close_sessions(CommandContext& context, const std::vector<Session*>& victims) {
    for (Session* victim : victims) {
        if (victim == &context.session) {
            context.session.close_after_reply();
        } else {
            victim->stop();
        }
    }
}

std::vector<Session*> sessions_of(CommandContext& context, const AclUser& user) {
    std::vector<Session*> found;
    for (const auto& entry : context.server.sessions()) {
        if (&entry.second->user() == &user) found.push_back(entry.second);
    }
    return found;
}

/// True when `session` is subscribed to something `updated` no longer allows.
bool lost_channel_access(const Session& session, const AclUser& updated) {
    const auto& allowed = updated.channel_patterns;
    for (const std::string& pattern : session.pattern_names()) {
        if (!channel_allowed(allowed, pattern, true)) return true;
    }
    for (const std::string& channel : session.channel_names()) {
        if (!channel_allowed(allowed, channel, false)) return true;
    }
    for (const std::string& channel : session.shard_channel_names()) {
        if (!channel_allowed(allowed, channel, false)) return true;
    }
    return false;
}

/// Redis 7.0's ACLKillPubsubClientsIfNeeded(): when `updated` takes channels away from
/// `original`, the user's subscribers to a channel or pattern it no longer allows are closed.
void close_subscribers_losing_access(CommandContext& context, const AclUser& original,
                                     const AclUser& updated) {
    if (updated.all_channels) return;
    if (!original.all_channels) {
        const auto& kept = updated.channel_patterns;
        const bool superset =
            std::all_of(original.channel_patterns.begin(), original.channel_patterns.end(),
                        [&](const std::string& p) {
                            return std::find(kept.begin(), kept.end(), p) != kept.end();
                        });
        if (superset) return;
    }
    std::vector<Session*> victims;
    for (Session* session : sessions_of(context, original)) {
        if (session->is_pubsub_client() && lost_channel_access(*session, updated))
            victims.push_back(session);
    }
    close_sessions(context, victims);
}

/// ACL CAT [category]: the category names, or the commands (and subcommands) in one.
void cat(CommandContext& context) {
    if (context.args.size() > 3) {
        reply_subcommand_syntax_error(context);
        return;
    }
    if (context.args.size() == 2) {
        const auto names = acl_category_names();
        context.reply.array(names.size());
        for (std::string_view name : names) context.reply.bulk(name);
        return;
    }
    const auto names = acl_category_names();
    const auto found = std::find_if(names.begin(), names.end(), [&](std::string_view name) {
        return equals_ignoring_case(name, context.args[2]);
    });
    if (found == names.end()) {
        context.reply.error(fmt::format("ERR Unknown category '{}'", context.args[2]));
        return;
    }
    std::vector<std::string_view> members;
    for (const CommandSpec* spec : acl_commands()) {
        if (command_in_category(*spec, *found)) members.push_back(spec->full_name);
    }
    context.reply.array(members.size());
    for (std::string_view name : members) context.reply.bulk(name);
}

/// ACL DELUSER name [name ...]: `:<deleted>\r\n`; the deleted users' clients are closed.
void deluser(CommandContext& context) {
    const auto names = context.args.subspan(2);
    for (std::string_view name : names) {
        if (name == "default") {
            context.reply.error("ERR The 'default' user cannot be removed");
            return;
        }
    }
    AclUsers& users = context.server.acl();
    int64_t deleted = 0;
    for (std::string_view name : names) {
        const std::shared_ptr<AclUser> user = users.find(name);
        if (!user) continue;
        users.remove(name);
        ++deleted;
        close_sessions(context, sessions_of(context, *user));
    }
    context.reply.integer(deleted);
}

/// The resolved command for `args` (a subcommand when the command has them), or null.
const CommandSpec* resolve(std::span<const std::string_view> args) {
    const CommandSpec* spec = find_command(args[0]);
    if (spec && !spec->subcommands.empty() && args.size() >= 2)
        return find_subcommand(*spec, args[1]);
    return spec;
}

bool arity_ok(const CommandSpec& spec, size_t argc) {
    const auto count = static_cast<int>(std::min<size_t>(argc, 1 << 30));
    return spec.arity > 0 ? count == spec.arity : count >= -spec.arity;
}

/// ACL DRYRUN user command [arg ...]: `+OK\r\n`, or why the user may not run it as a bulk
/// string (`This user has no permissions to run the 'get' command`).
void dryrun(CommandContext& context) {
    const std::shared_ptr<AclUser> user = context.server.acl().find(context.args[2]);
    if (!user) {
        context.reply.error(fmt::format("ERR User '{}' not found", context.args[2]));
        return;
    }
    const auto command = context.args.subspan(3);
    const CommandSpec* spec = resolve(command);
    if (!spec) {
        context.reply.error(fmt::format("ERR Command '{}' not found", command[0]));
        return;
    }
    if (!arity_ok(*spec, command.size())) {
        context.reply.error(
            fmt::format("ERR wrong number of arguments for '{}' command", spec->full_name));
        return;
    }
    const AclVerdict verdict = check_acl(*user, *spec, command);
    switch (verdict.denial) {
        case AclDenial::none:
            context.reply.simple("OK");
            break;
        case AclDenial::command:
            context.reply.bulk(fmt::format("This user has no permissions to run the '{}' command",
                                           spec->full_name));
            break;
        case AclDenial::key:
            context.reply.bulk(fmt::format("This user has no permissions to access the '{}' key",
                                           command[verdict.arg_index]));
            break;
        case AclDenial::channel:
            context.reply.bulk(
                fmt::format("This user has no permissions to access the '{}' channel",
                            command[verdict.arg_index]));
            break;
    }
}

/// ACL GENPASS [bits]: random hex, 4 bits a character (256 bits by default).
void genpass(CommandContext& context) {
    if (context.args.size() > 3) {
        reply_subcommand_syntax_error(context);
        return;
    }
    int64_t bits = 256;
    if (context.args.size() == 3) {
        const auto parsed = protocol::parse_int64(context.args[2]);
        if (!parsed) {
            context.reply.error("ERR value is not an integer or out of range");
            return;
        }
        bits = *parsed;
        if (bits <= 0 || bits > 4096) {
            context.reply.error(
                "ERR ACL GENPASS argument must be the number of bits for the output password, a "
                "positive number up to 4096");
            return;
        }
    }
    const size_t chars = static_cast<size_t>(bits + 3) / 4;
    std::vector<unsigned char> random((chars + 1) / 2);
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
        context.reply.error("ERR Failed to generate a random password");
        return;
    }
    static constexpr char hex_digits[] = "0123456789abcdef";
    std::string password;
    for (unsigned char byte : random) {
        password += hex_digits[byte >> 4];
        password += hex_digits[byte & 0xf];
    }
    password.resize(chars);
    context.reply.bulk(password);
}

/// ACL GETUSER name: a map of flags (a set), passwords (hashes), commands, keys, channels and
/// selectors (always empty here); null for an unknown user.
void getuser(CommandContext& context) {
    const std::shared_ptr<AclUser> user = context.server.acl().find(context.args[2]);
    if (!user) {
        context.reply.null();
        return;
    }
    auto& reply = context.reply;
    reply.map(6);
    reply.bulk("flags");
    const auto flags = acl_flags(*user);
    reply.set(flags.size());
    for (std::string_view flag : flags) reply.bulk(flag);
    reply.bulk("passwords");
    reply.array(user->password_hashes.size());
    for (const std::string& hash : user->password_hashes) reply.bulk(hash);
    reply.bulk("commands");
    reply.bulk(describe_commands(*user));
    reply.bulk("keys");
    reply.bulk(describe_keys(*user));
    reply.bulk("channels");
    reply.bulk(describe_channels(*user));
    reply.bulk("selectors");
    reply.array(0);
}

/// ACL LIST: one `user <name> <rules>` line per user, sorted by name.
void list(CommandContext& context) {
    const auto& users = context.server.acl().users();
    context.reply.array(users.size());
    for (const auto& entry : users) context.reply.bulk(describe_acl_user(*entry.second));
}

/// ACL LOAD and ACL SAVE: there is no ACL file, so both refuse as Redis does without one.
void load(CommandContext& context) { context.reply.error(no_acl_file); }
void save(CommandContext& context) { context.reply.error(no_acl_file); }

/// ACL LOG [count | RESET]: the newest `count` (10) denials, each a map of count, reason,
/// context, object, username, age-seconds and client-info.
void log(CommandContext& context) {
    if (context.args.size() > 3) {
        reply_subcommand_syntax_error(context);
        return;
    }
    AclUsers& users = context.server.acl();
    int64_t count = 10;
    if (context.args.size() == 3) {
        if (equals_ignoring_case(context.args[2], "reset")) {
            users.reset_log();
            context.reply.simple("OK");
            return;
        }
        const auto parsed = protocol::parse_int64(context.args[2]);
        if (!parsed) {
            context.reply.error("ERR value is not an integer or out of range");
            return;
        }
        count = std::max<int64_t>(*parsed, 0);
    }
    const auto& entries = users.log_entries();
    const size_t shown = std::min(entries.size(), static_cast<size_t>(count));
    const auto now = std::chrono::system_clock::now();
    auto& reply = context.reply;
    reply.array(shown);
    for (size_t i = 0; i < shown; ++i) {
        const AclLogEntry& entry = entries[i];
        reply.map(7);
        reply.bulk("count");
        reply.integer(static_cast<int64_t>(entry.count));
        reply.bulk("reason");
        reply.bulk(entry.reason);
        reply.bulk("context");
        reply.bulk(entry.context);
        reply.bulk("object");
        reply.bulk(entry.object);
        reply.bulk("username");
        reply.bulk(entry.username);
        reply.bulk("age-seconds");
        const auto age_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - entry.created).count();
        reply.double_value(static_cast<double>(age_ms) / 1000);
        reply.bulk("client-info");
        reply.bulk(entry.client_info);
    }
}

/// Joins the words of a `(...)` selector into one rule, as Redis does before applying them;
/// replies with Redis's error and returns nothing for a selector left open.
std::optional<std::vector<std::string>> merge_selectors(CommandContext& context,
                                                        std::span<const std::string_view> words) {
    std::vector<std::string> rules;
    std::optional<size_t> open;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string_view word = words[i];
        if (open) {
            rules.back() += fmt::format(" {}", word);
            if (word.ends_with(')')) open.reset();
            continue;
        }
        rules.emplace_back(word);
        if (word.starts_with('(') && !word.ends_with(')')) open = i;
    }
    if (open) {
        context.reply.error(fmt::format(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.", words[*open]));
        return std::nullopt;
    }
    return rules;
}

/// ACL SETUSER name [rule ...]: applies every rule or none; `+OK\r\n`. Subscribers of the user
/// that lose access to one of their channels are closed.
void setuser(CommandContext& context) {
    const std::string_view name = context.args[2];
    if (name.find_first_of(std::string_view(" \0", 2)) != std::string_view::npos) {
        context.reply.error("ERR Usernames can't contain spaces or null characters");
        return;
    }
    AclUsers& users = context.server.acl();
    const bool allchannels = context.server.config().acl_pubsub_default_allchannels;
    std::optional<std::vector<std::string>> rules =
        merge_selectors(context, context.args.subspan(3));
    if (!rules) return;
    std::shared_ptr<AclUser> user = users.find(name);
    AclUser updated = user ? *user : make_acl_user(std::string(name), allchannels);
    for (std::string_view rule : *rules) {
        if (auto error = apply_acl_rule(updated, rule, allchannels)) {
            context.reply.error(
                fmt::format("ERR Error in ACL SETUSER modifier '{}': {}", rule, *error));
            return;
        }
    }
    if (user) {
        close_subscribers_losing_access(context, *user, updated);
        *user = std::move(updated);
        if (user == users.default_user()) users.default_user_changed();
    } else {
        users.add(std::move(updated));
    }
    context.reply.simple("OK");
}

/// ACL USERS: the user names, sorted.
void users(CommandContext& context) {
    const auto& all = context.server.acl().users();
    context.reply.array(all.size());
    for (const auto& entry : all) context.reply.bulk(entry.first);
}

/// ACL WHOAMI: this client's user name.
void whoami(CommandContext& context) { context.reply.bulk(context.session.user().name); }

void help(CommandContext& context) {
    static constexpr std::string_view lines[] = {
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the "
        "command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
    };
    reply_help(context, "ACL", lines);
}

constexpr uint32_t none = 0;
constexpr std::string_view admin_flags = "admin noscript loading stale";
constexpr std::string_view admin_categories = "@admin @slow @dangerous";

const CommandSpec subcommands[] = {
    {"cat",
     "acl|cat",
     -2,
     none,
     cat,
     {},
     "noscript loading stale",
     "@slow",
     "List the ACL categories or the commands inside a category",
     "6.0.0",
     "server"},
    {"deluser",
     "acl|deluser",
     -3,
     none,
     deluser,
     {},
     admin_flags,
     admin_categories,
     "Remove the specified ACL users and the associated rules",
     "6.0.0",
     "server"},
    {"dryrun",
     "acl|dryrun",
     -4,
     none,
     dryrun,
     {},
     admin_flags,
     admin_categories,
     "Returns whether the user can execute the given command without executing the command.",
     "7.0.0",
     "server"},
    {"genpass",
     "acl|genpass",
     -2,
     none,
     genpass,
     {},
     "noscript loading stale",
     "@slow",
     "Generate a pseudorandom secure password to use for ACL users",
     "6.0.0",
     "server"},
    {"getuser",
     "acl|getuser",
     3,
     none,
     getuser,
     {},
     admin_flags,
     admin_categories,
     "Get the rules for a specific ACL user",
     "6.0.0",
     "server"},
    {"list",
     "acl|list",
     2,
     none,
     list,
     {},
     admin_flags,
     admin_categories,
     "List the current ACL rules in ACL config file format",
     "6.0.0",
     "server"},
    {"load",
     "acl|load",
     2,
     none,
     load,
     {},
     admin_flags,
     admin_categories,
     "Reload the ACLs from the configured ACL file",
     "6.0.0",
     "server"},
    {"log",
     "acl|log",
     -2,
     none,
     log,
     {},
     admin_flags,
     admin_categories,
     "List latest events denied because of ACLs in place",
     "6.0.0",
     "server"},
    {"save",
     "acl|save",
     2,
     none,
     save,
     {},
     admin_flags,
     admin_categories,
     "Save the current ACL rules in the configured ACL file",
     "6.0.0",
     "server"},
    {"setuser",
     "acl|setuser",
     -3,
     none,
     setuser,
     {},
     admin_flags,
     admin_categories,
     "Modify or create the rules for a specific ACL user",
     "6.0.0",
     "server"},
    {"users",
     "acl|users",
     2,
     none,
     users,
     {},
     admin_flags,
     admin_categories,
     "List the username of all the configured ACL rules",
     "6.0.0",
     "server"},
    {"whoami",
     "acl|whoami",
     2,
     none,
     whoami,
     {},
     "noscript loading stale",
     "@slow",
     "Return the name of the user associated to the current connection",
     "6.0.0",
     "server"},
    {"help",
     "acl|help",
     2,
     none,
     help,
     {},
     "loading stale",
     "@slow",
     "Show helpful text about the different subcommands",
     "6.0.0",
     "server"},
};

}  // namespace

std::span<const CommandSpec> acl_subcommands() { return subcommands; }

std::optional<std::string> acl_denial(CommandContext& context, const CommandSpec& spec) {
    const AclUser& user = context.session.user();
    const AclVerdict verdict = check_acl(user, spec, context.args);
    if (verdict.denial == AclDenial::none) return std::nullopt;
    const std::string_view log_context =
        context.session.transaction().in_multi() ? "multi" : "toplevel";
    std::string_view reason, object;
    std::string error;
    switch (verdict.denial) {
        case AclDenial::none:
        case AclDenial::command:
            reason = "command";
            object = spec.full_name;
            error = fmt::format("NOPERM this user has no permissions to run the '{}' command",
                                spec.full_name);
            break;
        case AclDenial::key:
            reason = "key";
            object = context.args[verdict.arg_index];
            error = "NOPERM this user has no permissions to access one of the keys used as "
                    "arguments";
            break;
        case AclDenial::channel:
            reason = "channel";
            object = context.args[verdict.arg_index];
            error = "NOPERM this user has no permissions to access one of the channels used as "
                    "arguments";
            break;
    }
    context.server.acl().log(reason, log_context, object, user.name, context.session.describe());
    return error;
}

}  // namespace backplane::commands
