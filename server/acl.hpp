#pragma once
// ACL users, as Redis 7.0's acl.c defines them: who may log in with which passwords, and which
// commands, keys and pub/sub channels each user may touch. Rules are Redis's ACL SETUSER words
// (`on >secret ~cache:* &app1:* -@all +@pubsub`); categories come from each command's
// `acl_categories` in the command table, never from a list kept here.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace backplane {

struct CommandSpec;

/// Redis 7.0's category names, in ACL CAT's order.
std::span<const std::string_view> acl_category_names();
/// True when `spec`'s acl_categories hold `@category`.
bool command_in_category(const CommandSpec& spec, std::string_view category);
/// Every command and subcommand, in table order; a command's position is its ACL id.
std::span<const CommandSpec* const> acl_commands();

struct KeyPattern {
    std::string pattern;
    bool read = true;
    bool write = true;
};

struct AclUser {
    std::string name;
    bool enabled = false;
    bool nopass = false;
    enum class Sanitize { unset, sanitize, skip } sanitize = Sanitize::unset;
    std::vector<std::string> password_hashes;  ///< in the order they were added
    bool all_keys = false;
    std::vector<KeyPattern> key_patterns;
    bool all_channels = false;
    std::vector<std::string> channel_patterns;
    std::vector<bool> allowed_commands;  ///< by acl_commands() position
    bool future_commands = false;        ///< set by +@all: commands added later are allowed too
    /// First arguments allowed for a command otherwise denied (`+select|0`), by command id.
    std::unordered_map<size_t, std::vector<std::string>> first_args;
    /// The command rules as given, minus those a later rule made moot (ACL LIST's tail).
    std::vector<std::string> command_rules;
    /// Every command is allowed: the check costs one test for users like `default`.
    bool all_commands = false;
};

/// Why a command was refused, and the argument that caused it (a key or a channel).
enum class AclDenial { none, command, key, channel };
struct AclVerdict {
    AclDenial denial = AclDenial::none;
    size_t arg_index = 0;
};

/// A new user as Redis creates one: off, no passwords, keys or commands; all channels only
/// when acl-pubsub-default is allchannels.
AclUser make_acl_user(std::string name, bool pubsub_default_allchannels);
/// Applies one ACL SETUSER rule; returns Redis's error text (without the
/// `Error in ACL SETUSER modifier` prefix) when the rule is invalid. An empty rule is a no-op.
std::optional<std::string> apply_acl_rule(AclUser& user, std::string_view rule,
                                          bool pubsub_default_allchannels);
/// The user's ACL LIST line: `user default on nopass ~* &* +@all`.
std::string describe_acl_user(const AclUser& user);
/// GETUSER's `keys` and `channels` strings: `~a* %R~b*`, `&chat:*`.
std::string describe_keys(const AclUser& user);
std::string describe_channels(const AclUser& user);
/// GETUSER's `commands` string: `+@all -flushall`.
std::string describe_commands(const AclUser& user);
/// GETUSER's flags, in Redis's order.
std::vector<std::string_view> acl_flags(const AclUser& user);

/// Checks `user` may run `spec` with `args` (args[0] the command name), in Redis's order:
/// the command, then its keys, then its channels.
AclVerdict check_acl(const AclUser& user, const CommandSpec& spec,
                     std::span<const std::string_view> args);
/// True when `channel` (or, for a pattern subscription, the pattern itself, compared
/// literally) is allowed by `patterns`.
bool channel_allowed(const std::vector<std::string>& patterns, std::string_view channel,
                     bool is_pattern);

/// One ACL LOG entry.
struct AclLogEntry {
    uint64_t count = 1;
    std::string reason;   ///< auth, command, key, channel
    std::string context;  ///< toplevel, multi or lua
    std::string object;
    std::string username;
    std::chrono::system_clock::time_point created;
    std::string client_info;
};

/// The users of one server, sorted by name as Redis lists them, and the ACL log.
class AclUsers {
  public:
    AclUsers();

    const std::shared_ptr<AclUser>& default_user() const { return default_user_; }
    /// The user called `name`, or null.
    std::shared_ptr<AclUser> find(std::string_view name) const;
    const std::map<std::string, std::shared_ptr<AclUser>, std::less<>>& users() const {
        return users_;
    }
    /// Adds a new user (the name must be free).
    std::shared_ptr<AclUser> add(AclUser user);
    void remove(std::string_view name);

    /// requirepass sets the default user's only password; an empty one makes it nopass.
    void set_default_password(std::string_view password);
    /// True while a client must AUTH before running commands (the default user needs a
    /// password or is off); cached, as sessions ask on every request.
    bool auth_required() const { return auth_required_; }
    /// Recomputes auth_required() after the default user changed.
    void default_user_changed();

    /// The user logging in as `name` with `password` authenticates as, or null.
    std::shared_ptr<AclUser> authenticate(std::string_view name, std::string_view password) const;

    bool pubsub_default_allchannels = false;  ///< acl-pubsub-default allchannels

    /// Records a denial, merged into a recent identical entry as Redis does.
    /// `context` is where the command ran: toplevel, multi or lua.
    void log(std::string_view reason, std::string_view context, std::string_view object,
             std::string_view username, std::string client_info);
    const std::vector<AclLogEntry>& log_entries() const { return log_; }  ///< newest first
    void reset_log() { log_.clear(); }

  private:
    std::map<std::string, std::shared_ptr<AclUser>, std::less<>> users_;
    std::shared_ptr<AclUser> default_user_;
    bool auth_required_ = false;
    std::vector<AclLogEntry> log_;
};

/// Checks one config-file `user <name> <rule> ...` line (its words, `user` included) against
/// the `earlier` ones: Redis's syntax and duplicate errors, as the fatal config error text.
std::optional<std::string> check_config_user(const std::vector<std::string>& words,
                                             const std::vector<std::vector<std::string>>& earlier);
/// Creates (or, for `default`, resets and redefines) the users of checked config lines; the
/// error for a rule naming an unknown command, which Redis reports only at this point.
std::optional<std::string> load_config_users(AclUsers& users,
                                             const std::vector<std::vector<std::string>>& lines);

}  // namespace backplane
