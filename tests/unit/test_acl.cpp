// ACL users: rule parsing (ACL SETUSER words), the ACL LIST description, and the permission
// checks dispatch runs. Texts and descriptions were checked against redis-server 7.0.15.

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/acl.hpp"
#include "server/command_table.hpp"
#include "server/password.hpp"

using namespace backplane;

namespace {

/// A new user (resetchannels by default) with `rules` applied; fails the test on an error.
AclUser user_with(std::vector<std::string_view> rules) {
    AclUser user = make_acl_user("u", false);
    for (std::string_view rule : rules) {
        CAPTURE(rule);
        REQUIRE(apply_acl_rule(user, rule, false) == std::nullopt);
    }
    return user;
}

std::string error_of(std::vector<std::string_view> rules) {
    AclUser user = make_acl_user("u", false);
    for (std::string_view rule : rules) {
        if (auto error = apply_acl_rule(user, rule, false)) return *error;
    }
    return "";
}

AclDenial denial(const AclUser& user, std::vector<std::string_view> args) {
    const CommandSpec* spec = find_command(args[0]);
    REQUIRE(spec);
    if (!spec->subcommands.empty()) spec = find_subcommand(*spec, args[1]);
    REQUIRE(spec);
    return check_acl(user, *spec, args).denial;
}

}  // namespace

TEST_CASE("acl: a new user is off and may do nothing") {
    const AclUser user = make_acl_user("u", false);
    CHECK(describe_acl_user(user) == "user u off resetchannels -@all");
    CHECK(denial(user, {"ping"}) == AclDenial::command);
    CHECK(describe_acl_user(make_acl_user("u", true)) == "user u off &* -@all");
}

TEST_CASE("acl: the default user") {
    AclUsers users;
    const AclUser& user = *users.default_user();
    CHECK(describe_acl_user(user) == "user default on nopass ~* &* +@all");
    CHECK(user.all_commands);
    CHECK_FALSE(users.auth_required());
    users.set_default_password("s3cret");
    CHECK(users.auth_required());
    CHECK(describe_acl_user(user) ==
          "user default on #" + password_hash("s3cret") + " ~* &* +@all");
    CHECK(users.authenticate("default", "s3cret") == users.default_user());
    CHECK(users.authenticate("default", "wrong") == nullptr);
    users.set_default_password("");
    CHECK_FALSE(users.auth_required());
    CHECK(users.authenticate("default", "anything") == users.default_user());
}

TEST_CASE("acl: passwords") {
    CHECK(password_hash("pw") ==
          "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4");
    AclUser user = user_with({"on", ">a", ">b", ">a", "<b"});
    CHECK(user.password_hashes == std::vector<std::string>{password_hash("a")});
    user = user_with({"nopass"});
    CHECK(user.nopass);
    user = user_with({"nopass", ">x"});
    CHECK_FALSE(user.nopass);
    user = user_with({">x", "resetpass"});
    CHECK(user.password_hashes.empty());
    CHECK_FALSE(user.nopass);
    const std::string hash(64, 'a');
    user = user_with({"#" + hash, "!" + hash});
    CHECK(user.password_hashes.empty());
    CHECK(error_of({"<nope"}) ==
          "The password you are trying to remove from the user does not exist");
    CHECK(error_of({"#ABC"}) ==
          "The password hash must be exactly 64 characters and contain only lowercase "
          "hexadecimal characters");
    CHECK(error_of({"!" + std::string(64, 'A')}) == error_of({"#ABC"}));
}

TEST_CASE("acl: logging in") {
    AclUsers users;
    AclUser app = make_acl_user("app", false);
    apply_acl_rule(app, ">pw", false);
    users.add(app);
    CHECK(users.authenticate("app", "pw") == nullptr);  // off
    apply_acl_rule(*users.find("app"), "on", false);
    CHECK(users.authenticate("app", "pw") == users.find("app"));
    CHECK(users.authenticate("app", "PW") == nullptr);
    CHECK(users.authenticate("nosuch", "pw") == nullptr);
}

TEST_CASE("acl: key patterns") {
    AclUser user = user_with({"~k*", "%R~r*", "%W~w*", "%rw~x*", "%R~k*"});
    CHECK(describe_keys(user) == "~k* %R~r* %W~w* ~x*");
    CHECK(describe_keys(user_with({"~a", "allkeys"})) == "~*");
    CHECK(describe_keys(user_with({"%RW~*"})) == "~*");
    CHECK(describe_keys(user_with({"%R~*"})) == "%R~*");
    CHECK(describe_keys(user_with({"allkeys", "resetkeys", "~a"})) == "~a");
    CHECK(error_of({"~*", "~x"})
              .starts_with("Adding a pattern after the * pattern (or the "
                           "'allkeys' flag)"));
    CHECK(error_of({"%X~a"}) == "Syntax error");
    CHECK(error_of({"%~a"}) == "Syntax error");
    CHECK(error_of({"%RR~a"}) == "Syntax error");
}

TEST_CASE("acl: channel patterns") {
    const AclUser user = user_with({"&app1:*", "&news", "&app1:*"});
    CHECK(describe_channels(user) == "&app1:* &news");
    CHECK(describe_channels(user_with({"allchannels"})) == "&*");
    CHECK(describe_channels(user_with({"&*", "resetchannels"})) == "");
    CHECK(error_of({"&*", "&x"})
              .starts_with("Adding a pattern after the * pattern (or the 'allchannels' flag)"));
    CHECK(channel_allowed(user.channel_patterns, "app1:x", false));
    CHECK(channel_allowed(user.channel_patterns, "news", false));
    CHECK_FALSE(channel_allowed(user.channel_patterns, "app2:x", false));
    // A pattern subscription must name one of the user's patterns exactly.
    CHECK(channel_allowed(user.channel_patterns, "app1:*", true));
    CHECK_FALSE(channel_allowed(user.channel_patterns, "app1:x*", true));
    CHECK_FALSE(channel_allowed(user.channel_patterns, "*", true));
}

TEST_CASE("acl: command rules and their description") {
    CHECK(describe_commands(user_with({"+@all"})) == "+@all");
    CHECK(describe_commands(user_with({"allcommands", "nocommands"})) == "-@all");
    CHECK(describe_commands(user_with({"+@all", "-@pubsub", "+publish"})) ==
          "+@all -@pubsub +publish");
    CHECK(describe_commands(user_with({"-@all", "+PING", "+ping"})) == "-@all +ping");
    CHECK(describe_commands(user_with({"+config|get", "+config"})) == "-@all +config");
    CHECK(describe_commands(user_with({"+select|0", "-select"})) == "-@all -select");
    CHECK(describe_commands(user_with({"+Client|LIST"})) == "-@all +client|list");
    CHECK(error_of({"+nosuch"}) == "Unknown command or category name in ACL");
    CHECK(error_of({"+@nosuch"}) == "Unknown command or category name in ACL");
    CHECK(error_of({"-select|0"}) == "Unknown command or category name in ACL");
    CHECK(error_of({"+client|"}) == "Syntax error");
    CHECK(error_of({"+client|list|x"}) == "Allowing first-arg of a subcommand is not supported");
    CHECK(error_of({"bogus"}) == "Syntax error");
    CHECK(error_of({""}) == "");
}

TEST_CASE("acl: reset and flags") {
    const AclUser user = user_with({"on", "nopass", "~*", "&*", "+@all", "reset"});
    CHECK(describe_acl_user(user) == "user u off sanitize-payload resetchannels -@all");
    CHECK(acl_flags(user_with({"on", "skip-sanitize-payload"})) ==
          std::vector<std::string_view>{"on", "skip-sanitize-payload"});
}

TEST_CASE("acl: checks follow Redis's order: command, keys, channels") {
    const AclUser app = user_with({"on", "&app1:*", "-@all", "+@pubsub", "+ping"});
    CHECK(denial(app, {"ping"}) == AclDenial::none);
    CHECK(denial(app, {"echo", "x"}) == AclDenial::command);
    CHECK(denial(app, {"client", "list"}) == AclDenial::command);
    CHECK(denial(app, {"auth", "x"}) == AclDenial::none);  // no-auth commands always run
    CHECK(denial(app, {"publish", "app1:a", "m"}) == AclDenial::none);
    CHECK(denial(app, {"publish", "app2:a", "m"}) == AclDenial::channel);
    CHECK(denial(app, {"spublish", "app2:a", "m"}) == AclDenial::channel);
    CHECK(denial(app, {"subscribe", "app1:a", "app1:b"}) == AclDenial::none);
    CHECK(denial(app, {"subscribe", "app1:a", "app2:b"}) == AclDenial::channel);
    CHECK(denial(app, {"ssubscribe", "app2:b"}) == AclDenial::channel);
    CHECK(denial(app, {"psubscribe", "app1:*"}) == AclDenial::none);
    CHECK(denial(app, {"psubscribe", "app1:a*"}) == AclDenial::channel);
    CHECK(denial(app, {"unsubscribe", "app2:b"}) == AclDenial::none);  // leaving is free
    CHECK(check_acl(app, *find_command("subscribe"),
                    std::vector<std::string_view>{"subscribe", "app1:a", "app2:b"})
              .arg_index == 2);

    const AclUser first_arg = user_with({"on", "-@all", "+select|0"});
    CHECK(denial(first_arg, {"select", "0"}) == AclDenial::none);
    CHECK(denial(first_arg, {"select", "1"}) == AclDenial::command);

    const AclUser container = user_with({"on", "-@all", "+client", "-client|kill"});
    CHECK(denial(container, {"client", "list"}) == AclDenial::none);
    CHECK(denial(container, {"client", "kill", "x", "y"}) == AclDenial::command);
}

TEST_CASE("acl: key patterns are checked on a command's keys") {
    // A keyed command shaped like Redis's SET and GET (the table may not have them yet).
    const CommandSpec set{"set",           "set",          -3, 0,  nullptr,  {},
                          "write denyoom", "@write @slow", "", "", "string", {1, 1, 1}};
    const CommandSpec get{"get",           "get",         2,  0,  nullptr,  {},
                          "readonly fast", "@read @fast", "", "", "string", {1, 1, 1}};
    const AclUser user = user_with({"on", "+@all", "~a*", "%R~r*", "%W~w*"});
    using Args = std::vector<std::string_view>;
    CHECK(check_acl(user, get, Args{"get", "a1"}).denial == AclDenial::none);
    CHECK(check_acl(user, set, Args{"set", "a1", "v"}).denial == AclDenial::none);
    CHECK(check_acl(user, get, Args{"get", "r1"}).denial == AclDenial::none);
    CHECK(check_acl(user, set, Args{"set", "r1", "v"}).denial == AclDenial::key);
    CHECK(check_acl(user, set, Args{"set", "w1", "v"}).denial == AclDenial::none);
    CHECK(check_acl(user, get, Args{"get", "w1"}).denial == AclDenial::key);
    const AclVerdict verdict = check_acl(user, get, Args{"get", "b"});
    CHECK(verdict.denial == AclDenial::key);
    CHECK(verdict.arg_index == 1);
    CHECK(check_acl(user_with({"+@all", "allkeys"}), set, Args{"set", "b", "v"}).denial ==
          AclDenial::none);
}

TEST_CASE("acl: categories come from the command table") {
    CHECK(acl_category_names().size() == 21);
    for (const CommandSpec* spec : acl_commands()) {
        CAPTURE(spec->full_name);
        const AclUser user = user_with({"on", "allchannels", "allkeys", "-@all", "+@pubsub"});
        const bool in_pubsub = command_in_category(*spec, "pubsub");
        if (!(spec->flags & allowed_before_auth) && spec->handler) {
            std::vector<std::string_view> args{spec->full_name};
            if (const size_t bar = spec->full_name.find('|'); bar != std::string_view::npos)
                args = {spec->full_name.substr(0, bar), spec->full_name.substr(bar + 1)};
            CHECK((check_acl(user, *spec, args).denial == AclDenial::none) == in_pubsub);
        }
    }
    CHECK(command_in_category(*find_command("publish"), "pubsub"));
    CHECK_FALSE(command_in_category(*find_command("publish"), "pub"));
}

TEST_CASE("acl: config-file user lines") {
    using Lines = std::vector<std::vector<std::string>>;
    const std::vector<std::string> good{"user", "app1", "on", ">pw", "&app1:*", "+@pubsub"};
    CHECK(check_config_user(good, {}) == std::nullopt);
    CHECK(check_config_user(good, Lines{{"user", "app1", "off"}}) ==
          "Error in user declaration 'app1': Duplicate user found. A user can only be defined "
          "once in config files");
    CHECK(check_config_user({"user", "app1", "bogus"}, {}) ==
          "Error in user declaration 'user': Syntax error");
    CHECK(check_config_user({"user", "app1", "on", "bogus"}, {}) ==
          "Error in user declaration 'app1': Syntax error");
    // Unknown commands are only reported when the users are created.
    CHECK(check_config_user({"user", "app1", "+nosuch"}, {}) == std::nullopt);
    AclUsers users;
    CHECK(load_config_users(users, Lines{{"user", "app1", "+nosuch"}}) ==
          "Error loading ACL rule '+nosuch' for the user named 'app1': Unknown command or "
          "category name in ACL");

    AclUsers loaded;
    const auto original_default = loaded.default_user();
    CHECK(load_config_users(loaded, Lines{good, {"user", "default", "on", ">pw", "+@all"}}) ==
          std::nullopt);
    CHECK(describe_acl_user(*loaded.find("app1")) ==
          "user app1 on #" + password_hash("pw") + " resetchannels &app1:* -@all +@pubsub");
    // The default user keeps its identity (sessions point at it) and is reset first.
    CHECK(loaded.default_user() == original_default);
    CHECK(describe_acl_user(*loaded.default_user()) ==
          "user default on sanitize-payload #" + password_hash("pw") + " resetchannels +@all");
    CHECK(loaded.auth_required());
}
