// ACL SETUSER rules separated by NUL bytes, applied one by one to a user (a rejected rule is
// skipped, as a failed SETUSER leaves nothing behind). Then: the ACL LIST description, read
// back as rules, must rebuild a user with the same description and the same permissions; and
// checking a few commands against the user must not fail.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/acl.hpp"
#include "server/command_table.hpp"

namespace {

using namespace backplane;

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        const size_t end = text.find(separator);
        parts.push_back(text.substr(0, end));
        if (end == std::string_view::npos) return parts;
        text.remove_prefix(end + 1);
    }
}

/// The description's words after `user <name>` rebuild the user, unless a pattern or first
/// argument holds a space, or a merged `*` key pattern reads as allkeys (Redis's ACL LIST
/// cannot tell those apart either).
bool has_space(std::string_view text) { return text.find(' ') != std::string_view::npos; }

void check_round_trip(const AclUser& user) {
    for (const KeyPattern& pattern : user.key_patterns) {
        if (has_space(pattern.pattern)) return;
        // `%R~*` then `%W~*` merge into `~*`, listed like allkeys, as in Redis.
        if (pattern.pattern == "*" && pattern.read && pattern.write) return;
    }
    for (const std::string& pattern : user.channel_patterns) {
        if (has_space(pattern)) return;
    }
    for (const std::string& rule : user.command_rules) {
        if (has_space(rule)) return;  // a first argument with a space
    }
    const std::string description = describe_acl_user(user);
    const std::vector<std::string_view> words = split(description, ' ');
    AclUser rebuilt = make_acl_user(user.name, false);
    for (size_t i = 2; i < words.size(); ++i) {
        if (apply_acl_rule(rebuilt, words[i], false)) __builtin_trap();
    }
    if (describe_acl_user(rebuilt) != description) __builtin_trap();
    if (rebuilt.allowed_commands != user.allowed_commands) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    AclUser user = make_acl_user("fuzz", size % 2 == 0);
    for (std::string_view rule : split(text, '\0')) {
        AclUser attempt = user;
        if (!apply_acl_rule(attempt, rule, size % 2 == 0)) user = std::move(attempt);
    }
    check_round_trip(user);
    const std::vector<std::string_view> channel{"publish", text.substr(0, 16), "m"};
    check_acl(user, *find_command("publish"), channel);
    const std::vector<std::string_view> patterns{"psubscribe", text.substr(0, 8), "a*"};
    check_acl(user, *find_command("psubscribe"), patterns);
    const CommandSpec& client = *find_command("client");
    const std::vector<std::string_view> list{"client", "list"};
    check_acl(user, *find_subcommand(client, "list"), list);
    return 0;
}
