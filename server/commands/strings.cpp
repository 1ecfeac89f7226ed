// String commands: GET, SET, SETNX, SETEX, PSETEX, MGET, MSET, INCR, INCRBY, DECR, DECRBY,
// APPEND, STRLEN. Values are byte strings; a counter is a string that string2ll() accepts, as
// in Redis, so `SET k 007` then `INCR k` is an error while `SET k 7` then `INCR k` gives 8.

#include <fmt/format.h>
#include <strings.h>

#include <cctype>
#include <climits>
#include <optional>
#include <string>

#include "protocol/number.hpp"
#include "server/commands/commands.hpp"
#include "server/commands/keyspace_access.hpp"
#include "server/server.hpp"
#include "server/session.hpp"

namespace backplane::commands {
namespace {

constexpr std::string_view not_an_integer = "ERR value is not an integer or out of range";

bool is_option(std::string_view word, std::string_view option) {
    return word.size() == option.size() &&
           strncasecmp(word.data(), option.data(), word.size()) == 0;
}

struct SetOptions {
    bool nx = false;
    bool xx = false;
    bool get = false;
    bool keep_ttl = false;
    enum class Expiry { none, ex, px, exat, pxat } expiry = Expiry::none;
    std::string_view expire_argument;
};

/// Parses SET's options from args[3] on, with the conflicts Redis 7.0 rejects (`-ERR syntax
/// error`): NX with XX, KEEPTTL with an expiry, two different expiry kinds. Repeating the same
/// option is accepted; the last expiry value wins.
std::optional<SetOptions> parse_set_options(std::span<const std::string_view> args) {
    using Expiry = SetOptions::Expiry;
    SetOptions options;
    for (size_t i = 3; i < args.size(); ++i) {
        const std::string_view word = args[i];
        const bool has_next = i + 1 < args.size();
        const auto expiry_allowed = [&](Expiry kind) {
            return !options.keep_ttl &&
                   (options.expiry == Expiry::none || options.expiry == kind) && has_next;
        };
        if (is_option(word, "nx") && !options.xx) {
            options.nx = true;
        } else if (is_option(word, "xx") && !options.nx) {
            options.xx = true;
        } else if (is_option(word, "get")) {
            options.get = true;
        } else if (is_option(word, "keepttl") && options.expiry == Expiry::none) {
            options.keep_ttl = true;
        } else {
            Expiry kind = Expiry::none;
            if (is_option(word, "ex")) kind = Expiry::ex;
            if (is_option(word, "px")) kind = Expiry::px;
            if (is_option(word, "exat")) kind = Expiry::exat;
            if (is_option(word, "pxat")) kind = Expiry::pxat;
            if (kind == Expiry::none || !expiry_allowed(kind)) return std::nullopt;
            options.expiry = kind;
            options.expire_argument = args[++i];
        }
    }
    return options;
}

/// Redis's getExpireMillisecondsOrReply(): the absolute expiry in Unix ms for `argument` in
/// seconds or milliseconds, relative to now or absolute; replies the error and returns nothing
/// when it is not an integer, not positive, or overflows.
std::optional<int64_t> expire_time(CommandContext& context, std::string_view argument, bool seconds,
                                   bool relative) {
    const auto value = protocol::parse_int64(argument);
    if (!value) {
        context.reply.error(not_an_integer);
        return std::nullopt;
    }
    const auto invalid = [&] {
        reply_invalid_expire_time(context);
        return std::nullopt;
    };
    int64_t ms = *value;
    if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) return invalid();
    if (seconds) ms *= 1000;
    if (relative) {
        const int64_t now = unix_time_ms();
        if (ms > LLONG_MAX - now) return invalid();  // Redis's sum wraps negative
        ms += now;
    }
    return ms;
}

/// The shared body of SET, SETNX, SETEX and PSETEX (Redis's setGenericCommand()).
void set_generic(CommandContext& context, const SetOptions& options, std::string_view ok_integer) {
    using Expiry = SetOptions::Expiry;
    std::optional<int64_t> expires_at;
    if (options.expiry != Expiry::none) {
        const bool seconds = options.expiry == Expiry::ex || options.expiry == Expiry::exat;
        const bool relative = options.expiry == Expiry::ex || options.expiry == Expiry::px;
        expires_at = expire_time(context, options.expire_argument, seconds, relative);
        if (!expires_at) return;
    }
    Database& db = database(context);
    const int64_t now = unix_time_ms();
    const std::string_view key = context.args[1];
    Database::Entry* entry = db.find(key, now);
    if (options.get) {
        if (entry) {
            context.reply.bulk(entry->value);
        } else {
            context.reply.null();
        }
    }
    if ((options.nx && entry) || (options.xx && !entry)) {
        if (options.get) return;
        if (ok_integer.empty()) {
            context.reply.null();
        } else {
            context.reply.integer(0);
        }
        return;
    }
    Database::Entry& stored = db.set(key, std::string(context.args[2]), options.keep_ttl);
    if (expires_at) db.set_expiry(stored, key, *expires_at);
    if (options.get) return;
    if (ok_integer.empty()) {
        context.reply.simple("OK");
    } else {
        context.reply.integer(1);
    }
}

/// INCR/DECR/INCRBY/DECRBY on `key`: replies the new value (`:<n>\r\n`).
void increment(CommandContext& context, int64_t by) {
    Database& db = database(context);
    const std::string_view key = context.args[1];
    Database::Entry* entry = db.find(key, unix_time_ms());
    int64_t value = 0;
    if (entry) {
        const auto current = protocol::parse_int64(entry->value);
        if (!current) {
            context.reply.error(not_an_integer);
            return;
        }
        value = *current;
    }
    if ((by < 0 && value < 0 && by < LLONG_MIN - value) ||
        (by > 0 && value > 0 && by > LLONG_MAX - value)) {
        context.reply.error("ERR increment or decrement would overflow");
        return;
    }
    value += by;
    db.set(key, std::to_string(value), true);
    context.reply.integer(value);
}

}  // namespace

void reply_invalid_expire_time(CommandContext& context) {
    std::string name(context.args[0]);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    context.reply.error(fmt::format("ERR invalid expire time in '{}' command", name));
}

/// GET key: `$<n>\r\n<value>\r\n`, or `$-1\r\n` (RESP3 `_\r\n`) when the key does not exist.
/// StackExchange.Redis's tie-breaker `GET __Booksleeve_TieBreak` expects exactly that null.
void get(CommandContext& context) {
    const Database::Entry* entry = lookup_read(context, context.args[1]);
    if (entry) {
        context.reply.bulk(entry->value);
    } else {
        context.reply.null();
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]: `+OK\r\n`, or a
/// null when NX/XX prevented it; with GET, the old value (or null) instead of OK.
void set(CommandContext& context) {
    const auto options = parse_set_options(context.args);
    if (!options) {
        context.reply.error("ERR syntax error");
        return;
    }
    set_generic(context, *options, {});
}

/// SETNX key value: `:1\r\n` when set, `:0\r\n` when the key existed.
void setnx(CommandContext& context) {
    SetOptions options;
    options.nx = true;
    set_generic(context, options, "integer");
}

namespace {

/// SETEX/PSETEX key time value: SET key value EX/PX time, arguments in that order.
void set_with_expiry(CommandContext& context, SetOptions::Expiry kind) {
    SetOptions options;
    options.expiry = kind;
    options.expire_argument = context.args[2];
    const std::string_view reordered[] = {context.args[0], context.args[1], context.args[3]};
    CommandContext inner{context.server, context.session, reordered, context.reply};
    set_generic(inner, options, {});
}

}  // namespace

/// SETEX key seconds value: `+OK\r\n`.
void setex(CommandContext& context) { set_with_expiry(context, SetOptions::Expiry::ex); }

/// PSETEX key milliseconds value: `+OK\r\n`.
void psetex(CommandContext& context) { set_with_expiry(context, SetOptions::Expiry::px); }

/// MGET key [key ...]: an array of the values, a null for each missing key.
void mget(CommandContext& context) {
    context.reply.array(context.args.size() - 1);
    for (size_t i = 1; i < context.args.size(); ++i) {
        const Database::Entry* entry = lookup_read(context, context.args[i]);
        if (entry) {
            context.reply.bulk(entry->value);
        } else {
            context.reply.null();
        }
    }
}

/// MSET key value [key value ...]: `+OK\r\n`; expiries of overwritten keys are cleared.
void mset(CommandContext& context) {
    if (context.args.size() % 2 == 0) {
        context.reply.error("ERR wrong number of arguments for 'mset' command");
        return;
    }
    Database& db = database(context);
    for (size_t i = 1; i < context.args.size(); i += 2) {
        db.set(context.args[i], std::string(context.args[i + 1]), false);
    }
    context.reply.simple("OK");
}

/// INCR key: `:<new value>\r\n`; a missing key counts from 0.
void incr(CommandContext& context) { increment(context, 1); }

/// DECR key: `:<new value>\r\n`.
void decr(CommandContext& context) { increment(context, -1); }

/// INCRBY key increment: `:<new value>\r\n`.
void incrby(CommandContext& context) {
    const auto by = protocol::parse_int64(context.args[2]);
    if (!by) {
        context.reply.error(not_an_integer);
        return;
    }
    increment(context, *by);
}

/// DECRBY key decrement: `:<new value>\r\n`; LLONG_MIN cannot be negated: `-ERR decrement would
/// overflow`.
void decrby(CommandContext& context) {
    const auto by = protocol::parse_int64(context.args[2]);
    if (!by) {
        context.reply.error(not_an_integer);
        return;
    }
    if (*by == LLONG_MIN) {
        context.reply.error("ERR decrement would overflow");
        return;
    }
    increment(context, -*by);
}

/// APPEND key value: `:<new length>\r\n`; a missing key is created.
void append(CommandContext& context) {
    Database& db = database(context);
    const std::string_view key = context.args[1];
    const std::string_view tail = context.args[2];
    Database::Entry* entry = db.find(key, unix_time_ms());
    if (!entry) {
        db.set(key, std::string(tail), false);
        context.reply.integer(static_cast<int64_t>(tail.size()));
        return;
    }
    const size_t total = entry->value.size() + tail.size();
    if (total > static_cast<size_t>(context.server.config().proto_max_bulk_len)) {
        context.reply.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    std::string value = std::move(entry->value);
    value += tail;
    db.set(key, std::move(value), true);
    context.reply.integer(static_cast<int64_t>(total));
}

/// STRLEN key: `:<length>\r\n`, 0 for a missing key.
void strlen(CommandContext& context) {
    const Database::Entry* entry = lookup_read(context, context.args[1]);
    context.reply.integer(entry ? static_cast<int64_t>(entry->value.size()) : 0);
}

}  // namespace backplane::commands
