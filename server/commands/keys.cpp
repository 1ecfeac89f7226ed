// Generic keyspace commands: EXISTS, DEL, UNLINK, TYPE, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT,
// TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, DBSIZE, FLUSHDB, FLUSHALL, KEYS.

#include <fmt/format.h>
#include <strings.h>

#include <climits>
#include <string>
#include <vector>

#include "protocol/number.hpp"
#include "server/commands/commands.hpp"
#include "server/commands/keyspace_access.hpp"
#include "server/glob.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {

Database& database(CommandContext& context) {
    return context.server.keyspace().db(static_cast<size_t>(context.session.db()));
}

const Database::Entry* lookup_read(CommandContext& context, std::string_view key) {
    Keyspace& keyspace = context.server.keyspace();
    const Database::Entry* entry = database(context).find(key, unix_time_ms());
    ++(entry ? keyspace.hits : keyspace.misses);
    return entry;
}

namespace {

bool is_option(std::string_view word, std::string_view option) {
    return word.size() == option.size() &&
           strncasecmp(word.data(), option.data(), word.size()) == 0;
}

enum ExpireCondition : unsigned { nx = 1, xx = 2, gt = 4, lt = 8 };

/// The NX/XX/GT/LT options after EXPIRE's time, or nothing after replying Redis's error.
std::optional<unsigned> parse_expire_conditions(CommandContext& context) {
    unsigned conditions = 0;
    for (size_t i = 3; i < context.args.size(); ++i) {
        const std::string_view word = context.args[i];
        if (is_option(word, "nx")) {
            conditions |= nx;
        } else if (is_option(word, "xx")) {
            conditions |= xx;
        } else if (is_option(word, "gt")) {
            conditions |= gt;
        } else if (is_option(word, "lt")) {
            conditions |= lt;
        } else {
            context.reply.error(fmt::format("ERR Unsupported option {}", word));
            return std::nullopt;
        }
    }
    if ((conditions & nx) && (conditions & (xx | gt | lt))) {
        context.reply.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return std::nullopt;
    }
    if ((conditions & gt) && (conditions & lt)) {
        context.reply.error("ERR GT and LT options at the same time are not compatible");
        return std::nullopt;
    }
    return conditions;
}

/// True when `conditions` allow replacing expiry `current` (0: none) with `wanted`. A key
/// without expiry counts as an infinite TTL for GT and LT.
bool conditions_hold(unsigned conditions, int64_t current, int64_t wanted) {
    if ((conditions & nx) && current != 0) return false;
    if ((conditions & xx) && current == 0) return false;
    if ((conditions & gt) && (current == 0 || wanted <= current)) return false;
    if ((conditions & lt) && current != 0 && wanted >= current) return false;
    return true;
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT] (Redis's expireGenericCommand):
/// `:1\r\n` when the expiry was set (a time already past deletes the key), `:0\r\n` when the
/// key is missing or a condition failed.
void expire_generic(CommandContext& context, bool seconds, bool relative) {
    const auto conditions = parse_expire_conditions(context);
    if (!conditions) return;
    const auto value = protocol::parse_int64(context.args[2]);
    if (!value) {
        context.reply.error("ERR value is not an integer or out of range");
        return;
    }
    int64_t when = *value;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_invalid_expire_time(context);
            return;
        }
        when *= 1000;
    }
    const int64_t now = unix_time_ms();
    const int64_t base = relative ? now : 0;
    if (when > LLONG_MAX - base) {
        reply_invalid_expire_time(context);
        return;
    }
    when += base;
    Database& db = database(context);
    const std::string_view key = context.args[1];
    Database::Entry* entry = db.find(key, now);
    if (!entry || !conditions_hold(*conditions, entry->expires_at, when)) {
        context.reply.integer(0);
        return;
    }
    if (when <= now) {
        db.erase(key, now);
    } else {
        db.set_expiry(*entry, key, when);
    }
    context.reply.integer(1);
}

/// What TTL, PTTL, EXPIRETIME and PEXPIRETIME report of a key's expiry.
enum class ExpiryView { seconds_left, milliseconds_left, unix_seconds, unix_milliseconds };

/// TTL/PTTL/EXPIRETIME/PEXPIRETIME: -2 for a missing key, -1 without expiry, else the time left
/// or the absolute expiry. Seconds are rounded to nearest as Redis does, in unsigned arithmetic
/// so that EXPIRETIME of a key expiring at INT64_MAX ms gives Redis's `:9223372036854776`.
void reply_expiry(CommandContext& context, ExpiryView view) {
    const int64_t now = unix_time_ms();
    const Database::Entry* entry = lookup_read(context, context.args[1]);
    if (!entry) {
        context.reply.integer(-2);
        return;
    }
    if (entry->expires_at == 0) {
        context.reply.integer(-1);
        return;
    }
    const bool absolute = view == ExpiryView::unix_seconds || view == ExpiryView::unix_milliseconds;
    const int64_t ms = absolute ? entry->expires_at : std::max<int64_t>(entry->expires_at - now, 0);
    if (view == ExpiryView::milliseconds_left || view == ExpiryView::unix_milliseconds) {
        context.reply.integer(ms);
        return;
    }
    context.reply.integer(static_cast<int64_t>((static_cast<uint64_t>(ms) + 500) / 1000));
}

/// DEL and UNLINK: the number of keys removed (a repeated key counts once).
void delete_keys(CommandContext& context) {
    Database& db = database(context);
    const int64_t now = unix_time_ms();
    int64_t removed = 0;
    for (size_t i = 1; i < context.args.size(); ++i) removed += db.erase(context.args[i], now);
    context.reply.integer(removed);
}

/// FLUSHDB/FLUSHALL's optional ASYNC or SYNC; false after replying `-ERR syntax error`.
bool flush_mode_ok(CommandContext& context) {
    const auto args = context.args;
    if (args.size() > 2 ||
        (args.size() == 2 && !is_option(args[1], "sync") && !is_option(args[1], "async"))) {
        context.reply.error("ERR syntax error");
        return false;
    }
    return true;
}

}  // namespace

/// EXISTS key [key ...]: how many of the keys exist, repeats counted each time.
void exists(CommandContext& context) {
    Database& db = database(context);
    const int64_t now = unix_time_ms();
    int64_t found = 0;
    for (size_t i = 1; i < context.args.size(); ++i)
        found += db.find(context.args[i], now) != nullptr;
    context.reply.integer(found);
}

/// DEL key [key ...]: `:<removed>\r\n`.
void del(CommandContext& context) { delete_keys(context); }

/// UNLINK key [key ...]: as DEL (values are freed at once; they are small strings).
void unlink(CommandContext& context) { delete_keys(context); }

/// TYPE key: `+string\r\n`, or `+none\r\n` for a missing key.
void type(CommandContext& context) {
    const bool found = database(context).find(context.args[1], unix_time_ms()) != nullptr;
    context.reply.simple(found ? "string" : "none");
}

void expire(CommandContext& context) { expire_generic(context, true, true); }
void pexpire(CommandContext& context) { expire_generic(context, false, true); }
void expireat(CommandContext& context) { expire_generic(context, true, false); }
void pexpireat(CommandContext& context) { expire_generic(context, false, false); }

void ttl(CommandContext& context) { reply_expiry(context, ExpiryView::seconds_left); }
void pttl(CommandContext& context) { reply_expiry(context, ExpiryView::milliseconds_left); }
void expiretime(CommandContext& context) { reply_expiry(context, ExpiryView::unix_seconds); }
void pexpiretime(CommandContext& context) { reply_expiry(context, ExpiryView::unix_milliseconds); }

/// PERSIST key: `:1\r\n` when an expiry was removed, else `:0\r\n`.
void persist(CommandContext& context) {
    Database& db = database(context);
    Database::Entry* entry = db.find(context.args[1], unix_time_ms());
    if (!entry || entry->expires_at == 0) {
        context.reply.integer(0);
        return;
    }
    db.set_expiry(*entry, context.args[1], 0);
    context.reply.integer(1);
}

/// DBSIZE: `:<keys>\r\n` in the selected database (expired keys not yet reclaimed included,
/// as in Redis).
void dbsize(CommandContext& context) {
    context.reply.integer(static_cast<int64_t>(database(context).size()));
}

/// FLUSHDB [ASYNC|SYNC]: empties the selected database; `+OK\r\n`.
void flushdb(CommandContext& context) {
    if (!flush_mode_ok(context)) return;
    context.server.keyspace().flush(static_cast<size_t>(context.session.db()));
    context.reply.simple("OK");
}

/// FLUSHALL [ASYNC|SYNC]: empties every database; `+OK\r\n`.
void flushall(CommandContext& context) {
    if (!flush_mode_ok(context)) return;
    context.server.keyspace().flush_all();
    context.reply.simple("OK");
}

/// KEYS pattern: an array of the live keys matching the glob pattern, in no particular order.
void keys(CommandContext& context) {
    const std::string_view pattern = context.args[1];
    const bool all = pattern == "*";
    std::vector<std::string_view> matched;
    database(context).for_each_live_key(unix_time_ms(), [&](const std::string& key) {
        if (all || glob_match(pattern, key)) matched.push_back(key);
    });
    context.reply.array(matched.size());
    for (std::string_view key : matched) context.reply.bulk(key);
}

}  // namespace backplane::commands
