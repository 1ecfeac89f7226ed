#include "server/acl.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <strings.h>

#include <algorithm>
#include <unordered_map>

#include "server/command_table.hpp"
#include "server/glob.hpp"
#include "server/password.hpp"

namespace backplane {
namespace {

constexpr std::string_view category_names[] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
};

constexpr std::string_view syntax_error = "Syntax error";
constexpr std::string_view unknown_name = "Unknown command or category name in ACL";
constexpr std::string_view key_after_all =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
    "any effect. Try 'resetkeys' to start with an empty list of patterns";
constexpr std::string_view channel_after_all =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
    "have any effect. Try 'resetchannels' to start with an empty list of channels";
constexpr std::string_view no_such_password =
    "The password you are trying to remove from the user does not exist";
constexpr std::string_view bad_hash =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters";
constexpr std::string_view subcommand_first_arg =
    "Allowing first-arg of a subcommand is not supported";
constexpr std::string_view duplicate_user =
    "Duplicate user found. A user can only be defined once in config files";

/// Entries within this long of an identical one are merged into it (Redis's grouping delta).
constexpr auto log_grouping_window = std::chrono::seconds(60);
/// acllog-max-len's default.
constexpr size_t log_max_entries = 128;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

struct CommandIndex {
    std::vector<const CommandSpec*> specs;
    std::unordered_map<const CommandSpec*, size_t> ids;
};

/// Every command followed by its subcommands; built once, after the table is complete.
const CommandIndex& command_index() {
    static const CommandIndex index = [] {
        CommandIndex built;
        for (const CommandSpec& spec : all_commands()) {
            built.ids.emplace(&spec, built.specs.size());
            built.specs.push_back(&spec);
            for (const CommandSpec& sub : spec.subcommands) {
                built.ids.emplace(&sub, built.specs.size());
                built.specs.push_back(&sub);
            }
        }
        return built;
    }();
    return index;
}

size_t command_id(const CommandSpec& spec) { return command_index().ids.at(&spec); }

/// Redis's ACLLookupCommand(): `name` or `container|sub`, any case.
const CommandSpec* lookup(std::string_view name) {
    const size_t bar = name.find('|');
    if (bar == std::string_view::npos) return find_command(name);
    const std::string_view sub = name.substr(bar + 1);
    if (sub.find('|') != std::string_view::npos) return nullptr;
    const CommandSpec* container = find_command(name.substr(0, bar));
    return container ? find_subcommand(*container, sub) : nullptr;
}

bool is_subcommand(const CommandSpec& spec) {
    return spec.full_name.find('|') != std::string_view::npos;
}

bool is_category(std::string_view name) {
    return std::find(std::begin(category_names), std::end(category_names), name) !=
           std::end(category_names);
}

void refresh_all_commands(AclUser& user) {
    user.all_commands = std::all_of(user.allowed_commands.begin(), user.allowed_commands.end(),
                                    [](bool allowed) { return allowed; });
}

/// Allows or denies one command and, for a container, each of its subcommands.
void change_permission(AclUser& user, const CommandSpec& spec, bool allow) {
    const size_t id = command_id(spec);
    user.allowed_commands[id] = allow;
    user.first_args.erase(id);
    for (const CommandSpec& sub : spec.subcommands) change_permission(user, sub, allow);
}

void set_all_commands(AclUser& user, bool allow) {
    std::fill(user.allowed_commands.begin(), user.allowed_commands.end(), allow);
    user.first_args.clear();
    user.future_commands = allow;
    user.command_rules.clear();
}

/// Drops earlier rules that `name` (lowercase, without its sign) supersedes: the same command
/// or category, or a subcommand or first argument of that command.
void remove_command_rule(AclUser& user, std::string_view name) {
    std::erase_if(user.command_rules, [name](const std::string& rule) {
        const std::string_view existing = std::string_view(rule).substr(1);
        return existing == name || (existing.starts_with(name) && existing.size() > name.size() &&
                                    existing[name.size()] == '|');
    });
}

void update_command_rules(AclUser& user, std::string_view name, bool allow) {
    const std::string lower = lowercase(name);
    remove_command_rule(user, lower);
    user.command_rules.push_back((allow ? "+" : "-") + lower);
}

std::optional<std::string> apply_category(AclUser& user, std::string_view category, bool allow) {
    if (equals_ignoring_case(category, "all")) {
        set_all_commands(user, allow);
        return std::nullopt;
    }
    const std::string lower = lowercase(category);
    if (!is_category(lower)) return std::string(unknown_name);
    for (const CommandSpec* spec : command_index().specs) {
        if (command_in_category(*spec, lower)) change_permission(user, *spec, allow);
    }
    update_command_rules(user, "@" + lower, allow);
    return std::nullopt;
}

/// `+name` or `+command|first-arg`.
std::optional<std::string> allow_command(AclUser& user, std::string_view name) {
    const size_t bar = name.rfind('|');
    if (bar == std::string_view::npos) {
        const CommandSpec* spec = lookup(name);
        if (!spec) return std::string(unknown_name);
        change_permission(user, *spec, true);
        update_command_rules(user, spec->full_name, true);
        return std::nullopt;
    }
    const CommandSpec* spec = lookup(name.substr(0, bar));
    if (!spec) return std::string(unknown_name);
    if (is_subcommand(*spec)) return std::string(subcommand_first_arg);
    const std::string_view argument = name.substr(bar + 1);
    if (argument.empty()) return std::string(syntax_error);
    if (!spec->subcommands.empty()) {
        const CommandSpec* sub = find_subcommand(*spec, argument);
        if (!sub) return std::string(unknown_name);
        change_permission(user, *sub, true);
    } else {
        std::vector<std::string>& allowed = user.first_args[command_id(*spec)];
        const std::string lower = lowercase(argument);
        if (std::find(allowed.begin(), allowed.end(), lower) == allowed.end())
            allowed.push_back(lower);
    }
    update_command_rules(user, name, true);
    return std::nullopt;
}

std::optional<std::string> deny_command(AclUser& user, std::string_view name) {
    const CommandSpec* spec = lookup(name);
    if (!spec) return std::string(unknown_name);
    change_permission(user, *spec, false);
    update_command_rules(user, spec->full_name, false);
    return std::nullopt;
}

bool valid_hash(std::string_view hash) {
    return hash.size() == 64 &&
           hash.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void add_password_hash(AclUser& user, std::string hash) {
    if (std::find(user.password_hashes.begin(), user.password_hashes.end(), hash) ==
        user.password_hashes.end())
        user.password_hashes.push_back(std::move(hash));
    user.nopass = false;
}

std::optional<std::string> remove_password_hash(AclUser& user, std::string_view hash) {
    const auto found = std::find(user.password_hashes.begin(), user.password_hashes.end(), hash);
    if (found == user.password_hashes.end()) return std::string(no_such_password);
    user.password_hashes.erase(found);
    return std::nullopt;
}

/// `~pattern`, or `%R~pattern` / `%W~pattern` / `%RW~pattern`.
std::optional<std::string> add_key_pattern(AclUser& user, std::string_view rule) {
    if (user.all_keys) return std::string(key_after_all);
    bool read = true, write = true;
    size_t offset = 1;
    if (rule[0] == '%') {
        read = write = false;
        for (; offset < rule.size(); ++offset) {
            const char c =
                static_cast<char>(std::toupper(static_cast<unsigned char>(rule[offset])));
            if (c == 'R' && !read) {
                read = true;
            } else if (c == 'W' && !write) {
                write = true;
            } else if (rule[offset] == '~') {
                ++offset;
                break;
            } else {
                return std::string(syntax_error);
            }
        }
        if (!read && !write) return std::string(syntax_error);
    }
    const std::string_view pattern = rule.substr(std::min(offset, rule.size()));
    if (pattern == "*" && read && write) {
        user.all_keys = true;
        user.key_patterns.clear();
        return std::nullopt;
    }
    for (KeyPattern& existing : user.key_patterns) {
        if (existing.pattern == pattern) {
            existing.read |= read;
            existing.write |= write;
            return std::nullopt;
        }
    }
    user.key_patterns.push_back({std::string(pattern), read, write});
    return std::nullopt;
}

std::optional<std::string> add_channel_pattern(AclUser& user, std::string_view pattern) {
    if (user.all_channels) return std::string(channel_after_all);
    if (std::find(user.channel_patterns.begin(), user.channel_patterns.end(), pattern) ==
        user.channel_patterns.end())
        user.channel_patterns.emplace_back(pattern);
    return std::nullopt;
}

void set_all_channels(AclUser& user, bool all) {
    user.all_channels = all;
    user.channel_patterns.clear();
}

void set_all_keys(AclUser& user, bool all) {
    user.all_keys = all;
    user.key_patterns.clear();
}

/// The channel arguments of a command that ACLs check, and whether they are patterns. SUBSCRIBE
/// and friends take channels from the first argument on; PUBLISH only the first.
struct ChannelArgs {
    size_t first = 0;
    size_t count = 0;  // 0: every argument from `first`
    bool patterns = false;
};

std::optional<ChannelArgs> channel_args(const CommandSpec& spec) {
    const std::string_view name = spec.full_name;
    if (name == "publish" || name == "spublish") return ChannelArgs{1, 1, false};
    if (name == "subscribe" || name == "ssubscribe") return ChannelArgs{1, 0, false};
    if (name == "psubscribe") return ChannelArgs{1, 0, true};
    return std::nullopt;
}

bool key_allowed(const AclUser& user, std::string_view key, bool write) {
    for (const KeyPattern& pattern : user.key_patterns) {
        if ((write ? pattern.write : pattern.read) && glob_match(pattern.pattern, key)) return true;
    }
    return false;
}

bool command_allowed(const AclUser& user, const CommandSpec& spec,
                     std::span<const std::string_view> args) {
    const size_t id = command_id(spec);
    if (user.allowed_commands[id]) return true;
    if (args.size() < 2 || is_subcommand(spec)) return false;
    const auto found = user.first_args.find(id);
    if (found == user.first_args.end()) return false;
    return std::any_of(found->second.begin(), found->second.end(),
                       [&](const std::string& arg) { return equals_ignoring_case(arg, args[1]); });
}

}  // namespace

std::span<const std::string_view> acl_category_names() { return category_names; }

bool command_in_category(const CommandSpec& spec, std::string_view category) {
    std::string_view rest = spec.acl_categories;
    while (!rest.empty()) {
        const size_t space = rest.find(' ');
        const std::string_view word = rest.substr(0, space);
        if (word.size() == category.size() + 1 && word[0] == '@' && word.substr(1) == category)
            return true;
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
    }
    return false;
}

std::span<const CommandSpec* const> acl_commands() { return command_index().specs; }

AclUser make_acl_user(std::string name, bool pubsub_default_allchannels) {
    AclUser user;
    user.name = std::move(name);
    user.allowed_commands.assign(command_index().specs.size(), false);
    user.all_channels = pubsub_default_allchannels;
    return user;
}

namespace {

std::optional<std::string> apply_rule(AclUser& user, std::string_view rule,
                                      bool pubsub_default_allchannels) {
    if (equals_ignoring_case(rule, "on")) {
        user.enabled = true;
    } else if (equals_ignoring_case(rule, "off")) {
        user.enabled = false;
    } else if (equals_ignoring_case(rule, "skip-sanitize-payload")) {
        user.sanitize = AclUser::Sanitize::skip;
    } else if (equals_ignoring_case(rule, "sanitize-payload")) {
        user.sanitize = AclUser::Sanitize::sanitize;
    } else if (equals_ignoring_case(rule, "nopass")) {
        user.nopass = true;
        user.password_hashes.clear();
    } else if (equals_ignoring_case(rule, "resetpass")) {
        user.nopass = false;
        user.password_hashes.clear();
    } else if (equals_ignoring_case(rule, "allkeys")) {
        set_all_keys(user, true);
    } else if (equals_ignoring_case(rule, "resetkeys")) {
        set_all_keys(user, false);
    } else if (equals_ignoring_case(rule, "allchannels")) {
        set_all_channels(user, true);
    } else if (equals_ignoring_case(rule, "resetchannels")) {
        set_all_channels(user, false);
    } else if (equals_ignoring_case(rule, "allcommands")) {
        set_all_commands(user, true);
    } else if (equals_ignoring_case(rule, "nocommands")) {
        set_all_commands(user, false);
    } else if (equals_ignoring_case(rule, "clearselectors")) {
        // Selectors are not supported; a user has none to clear.
    } else if (equals_ignoring_case(rule, "reset")) {
        for (std::string_view step : {"resetpass", "resetkeys", "resetchannels"})
            apply_rule(user, step, pubsub_default_allchannels);
        if (pubsub_default_allchannels) set_all_channels(user, true);
        user.enabled = false;
        user.sanitize = AclUser::Sanitize::sanitize;
        set_all_commands(user, false);
    } else if (rule[0] == '>') {
        add_password_hash(user, password_hash(rule.substr(1)));
    } else if (rule[0] == '#') {
        if (!valid_hash(rule.substr(1))) return std::string(bad_hash);
        add_password_hash(user, std::string(rule.substr(1)));
    } else if (rule[0] == '<') {
        return remove_password_hash(user, password_hash(rule.substr(1)));
    } else if (rule[0] == '!') {
        if (!valid_hash(rule.substr(1))) return std::string(bad_hash);
        return remove_password_hash(user, rule.substr(1));
    } else if (rule[0] == '~' || rule[0] == '%') {
        return add_key_pattern(user, rule);
    } else if (rule[0] == '&') {
        if (rule == "&*") {
            set_all_channels(user, true);
            return std::nullopt;
        }
        return add_channel_pattern(user, rule.substr(1));
    } else if (rule.size() > 1 && (rule[0] == '+' || rule[0] == '-') && rule[1] == '@') {
        return apply_category(user, rule.substr(2), rule[0] == '+');
    } else if (rule[0] == '+') {
        return allow_command(user, rule.substr(1));
    } else if (rule[0] == '-') {
        return deny_command(user, rule.substr(1));
    } else {
        return std::string(syntax_error);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> apply_acl_rule(AclUser& user, std::string_view rule,
                                          bool pubsub_default_allchannels) {
    if (rule.empty()) return std::nullopt;
    auto error = apply_rule(user, rule, pubsub_default_allchannels);
    refresh_all_commands(user);
    return error;
}

std::vector<std::string_view> acl_flags(const AclUser& user) {
    std::vector<std::string_view> flags{user.enabled ? "on" : "off"};
    if (user.nopass) flags.push_back("nopass");
    if (user.sanitize == AclUser::Sanitize::skip) flags.push_back("skip-sanitize-payload");
    if (user.sanitize == AclUser::Sanitize::sanitize) flags.push_back("sanitize-payload");
    return flags;
}

std::string describe_keys(const AclUser& user) {
    if (user.all_keys) return "~*";
    std::string out;
    for (const KeyPattern& pattern : user.key_patterns) {
        if (!out.empty()) out += ' ';
        if (!(pattern.read && pattern.write)) out += pattern.read ? "%R" : "%W";
        out += '~';
        out += pattern.pattern;
    }
    return out;
}

std::string describe_channels(const AclUser& user) {
    if (user.all_channels) return "&*";
    std::string out;
    for (const std::string& pattern : user.channel_patterns) {
        if (!out.empty()) out += ' ';
        out += '&';
        out += pattern;
    }
    return out;
}

std::string describe_commands(const AclUser& user) {
    std::string out = user.future_commands ? "+@all" : "-@all";
    for (const std::string& rule : user.command_rules) out += ' ' + rule;
    return out;
}

std::string describe_acl_user(const AclUser& user) {
    std::string out = "user " + user.name;
    for (std::string_view flag : acl_flags(user)) out += fmt::format(" {}", flag);
    for (const std::string& hash : user.password_hashes) out += " #" + hash;
    if (const std::string keys = describe_keys(user); !keys.empty()) out += ' ' + keys;
    if (!user.all_channels) out += " resetchannels";
    if (const std::string channels = describe_channels(user); !channels.empty())
        out += ' ' + channels;
    out += ' ' + describe_commands(user);
    return out;
}

bool channel_allowed(const std::vector<std::string>& patterns, std::string_view channel,
                     bool is_pattern) {
    for (const std::string& pattern : patterns) {
        if (is_pattern ? pattern == channel : glob_match(pattern, channel)) return true;
    }
    return false;
}

AclVerdict check_acl(const AclUser& user, const CommandSpec& spec,
                     std::span<const std::string_view> args) {
    // As in Redis, commands a client may run before AUTH (AUTH, HELLO, QUIT...) are never denied.
    if (!user.all_commands && !(spec.flags & allowed_before_auth) &&
        !command_allowed(user, spec, args))
        return {AclDenial::command, 0};
    if (!user.all_keys) {
        const bool write = has_redis_flag(spec, "write");
        for (size_t index : key_indexes(spec, args)) {
            if (!key_allowed(user, args[index], write)) return {AclDenial::key, index};
        }
    }
    if (!user.all_channels) {
        if (const auto channels = channel_args(spec)) {
            const size_t end = channels->count ? channels->first + channels->count : args.size();
            for (size_t i = channels->first; i < end && i < args.size(); ++i) {
                if (!channel_allowed(user.channel_patterns, args[i], channels->patterns))
                    return {AclDenial::channel, i};
            }
        }
    }
    return {};
}

AclUsers::AclUsers() {
    AclUser user = make_acl_user("default", true);
    user.enabled = true;
    user.nopass = true;
    user.all_keys = true;
    set_all_commands(user, true);
    refresh_all_commands(user);
    default_user_ = add(std::move(user));
    default_user_changed();
}

std::shared_ptr<AclUser> AclUsers::find(std::string_view name) const {
    const auto found = users_.find(name);
    return found == users_.end() ? nullptr : found->second;
}

std::shared_ptr<AclUser> AclUsers::add(AclUser user) {
    auto shared = std::make_shared<AclUser>(std::move(user));
    users_.emplace(shared->name, shared);
    return shared;
}

void AclUsers::remove(std::string_view name) {
    const auto found = users_.find(name);
    if (found != users_.end()) users_.erase(found);
}

void AclUsers::set_default_password(std::string_view password) {
    apply_acl_rule(*default_user_, "resetpass", pubsub_default_allchannels);
    if (password.empty()) {
        apply_acl_rule(*default_user_, "nopass", pubsub_default_allchannels);
    } else {
        add_password_hash(*default_user_, password_hash(password));
    }
    default_user_changed();
}

void AclUsers::default_user_changed() {
    auth_required_ = !default_user_->nopass || !default_user_->enabled;
}

std::shared_ptr<AclUser> AclUsers::authenticate(std::string_view name,
                                                std::string_view password) const {
    std::shared_ptr<AclUser> user = find(name);
    if (!user || !user->enabled) return nullptr;
    if (user->nopass) return user;
    // Every stored hash is compared, in time that depends on neither password.
    const std::string candidate = password_hash(password);
    bool matched = false;
    for (const std::string& hash : user->password_hashes) {
        matched |= CRYPTO_memcmp(hash.data(), candidate.data(), candidate.size()) == 0;
    }
    return matched ? user : nullptr;
}

void AclUsers::log(std::string_view reason, std::string_view context, std::string_view object,
                   std::string_view username, std::string client_info) {
    const auto now = std::chrono::system_clock::now();
    for (size_t i = 0; i < std::min<size_t>(log_.size(), 10); ++i) {
        AclLogEntry& entry = log_[i];
        if (entry.reason == reason && entry.context == context && entry.object == object &&
            entry.username == username &&
            now - entry.created <= log_grouping_window) {
            AclLogEntry merged = std::move(entry);
            log_.erase(log_.begin() + static_cast<long>(i));
            ++merged.count;
            merged.created = now;
            merged.client_info = std::move(client_info);
            log_.insert(log_.begin(), std::move(merged));
            return;
        }
    }
    log_.insert(log_.begin(), AclLogEntry{1, std::string(reason), std::string(context), std::string(object),
                                          std::string(username), now, std::move(client_info)});
    if (log_.size() > log_max_entries) log_.pop_back();
}

std::optional<std::string> check_config_user(const std::vector<std::string>& words,
                                             const std::vector<std::vector<std::string>>& earlier) {
    for (const auto& previous : earlier) {
        if (previous[1] == words[1])
            return fmt::format("Error in user declaration '{}': {}", words[1], duplicate_user);
    }
    // Like Redis, a bad rule at words[i] is reported under words[i - 2] (an off-by-two in
    // redis.conf parsing kept for exactness); unknown commands are only reported when the
    // users are created.
    AclUser scratch = make_acl_user(words[1], false);
    for (size_t i = 2; i < words.size(); ++i) {
        auto error = apply_acl_rule(scratch, words[i], false);
        if (error && *error != unknown_name)
            return fmt::format("Error in user declaration '{}': {}", words[i - 2], *error);
    }
    return std::nullopt;
}

std::optional<std::string> load_config_users(AclUsers& users,
                                             const std::vector<std::vector<std::string>>& lines) {
    for (const auto& words : lines) {
        if (words[1].find(' ') != std::string::npos) return "Spaces not allowed in ACL usernames";
        std::shared_ptr<AclUser> user = users.find(words[1]);
        AclUser updated = user ? *user : make_acl_user(words[1], users.pubsub_default_allchannels);
        // Only `default` exists already; like Redis, its line starts from `reset`.
        if (user) apply_acl_rule(updated, "reset", users.pubsub_default_allchannels);
        for (size_t i = 2; i < words.size(); ++i) {
            if (auto error = apply_acl_rule(updated, words[i], users.pubsub_default_allchannels))
                return fmt::format("Error loading ACL rule '{}' for the user named '{}': {}",
                                   words[i], words[1], *error);
        }
        if (user) {
            *user = std::move(updated);
        } else {
            users.add(std::move(updated));
        }
    }
    users.default_user_changed();
    return std::nullopt;
}

}  // namespace backplane
