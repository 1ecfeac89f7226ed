// Config: redis.conf parsing (apply_config_text, include, load_config with argv) and the
// CONFIG SET / CONFIG GET helpers. Error texts were checked against redis-server 7.0.15 (config
// files, command-line directives and CONFIG SET replies).

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/config.hpp"

using backplane::apply_config_text;
using backplane::BufferLimit;
using backplane::Config;
using backplane::config_get;
using backplane::config_set;
using backplane::ConfigError;
using backplane::load_config;
using backplane::LogLevel;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

/// A file in the temporary directory, removed when the object goes.
class TempFile {
public:
    explicit TempFile(std::string_view contents) {
        static std::atomic<int> counter{0};
        path_ = (std::filesystem::temp_directory_path() /
                 (fmt::format("backplane-test-config-{}-", ::getpid()) +
                  std::to_string(counter++) + ".conf"))
                    .string();
        write(contents);
    }
    ~TempFile() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    void write(std::string_view contents) const {
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

Config parse(std::string_view text) {
    Config config;
    apply_config_text(config, text, "the test config");
    return config;
}

/// The ConfigError text for `text`, or "no error".
std::string parse_error(std::string_view text, const std::string& source = "the test config") {
    Config config;
    try {
        apply_config_text(config, text, source);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

/// The last line of a ConfigError text: the reason alone.
std::string reason(std::string_view text) {
    const std::string message = parse_error(text);
    std::string_view view = message;
    if (view.ends_with('\n')) view.remove_suffix(1);
    return std::string(view.substr(view.rfind('\n') + 1));
}

std::string load_error(std::vector<std::string_view> argv) {
    try {
        load_config(argv);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

/// CONFIG SET's outcome: "OK" or the error reply text.
std::string set(Config& config, std::vector<std::string_view> pairs) {
    return config_set(config, pairs).value_or("OK");
}

std::map<std::string, std::string> get(const Config& config, std::vector<std::string_view> patterns) {
    const auto pairs = config_get(config, patterns);
    std::map<std::string, std::string> out(pairs.begin(), pairs.end());
    if (out.size() != pairs.size()) out["<a name listed twice>"] = "";
    return out;
}

std::string get_one(const Config& config, std::string_view name) {
    const std::vector<std::string_view> patterns{name};
    const auto pairs = config_get(config, patterns);
    if (pairs.size() != 1) return fmt::format("<{} results>", pairs.size());
    if (pairs[0].first != name) return "<named " + pairs[0].first + ">";
    return pairs[0].second;
}

bool same(const BufferLimit& a, const BufferLimit& b) {
    return a.hard_bytes == b.hard_bytes && a.soft_bytes == b.soft_bytes &&
           a.soft_seconds == b.soft_seconds;
}

std::string set_error_prefix(std::string_view name) {
    return "ERR CONFIG SET failed (possibly related to argument '" + std::string(name) + "') - ";
}

}  // namespace

TEST_CASE("config: defaults") {
    const Config c;
    CHECK(c.port == 6379);
    CHECK(c.bind == std::vector<std::string>{"*", "-::*"});
    CHECK(c.protected_mode);
    CHECK(c.maxclients == 10000);
    CHECK(c.timeout == 0);
    CHECK(c.tcp_keepalive == 300);
    CHECK(c.proto_max_bulk_len == 536870912);
    CHECK(c.client_query_buffer_limit == 1073741824);
    CHECK(same(c.normal_limit, BufferLimit{0, 0, 0}));
    CHECK(same(c.replica_limit, BufferLimit{268435456, 67108864, 60}));
    CHECK(same(c.pubsub_limit, BufferLimit{33554432, 8388608, 60}));
    CHECK(c.loglevel == LogLevel::notice);
    CHECK(c.requirepass.empty());
    CHECK(c.config_file.empty());
}

TEST_CASE("config: comments, blank lines, quoting and later lines winning") {
    const Config c = parse(
        "# a comment\n"
        "\n"
        "   # an indented comment\n"
        "\t\n"
        "port 7001\n"
        "PORT 7002\n"                      // names are case-insensitive; the last one wins
        "  timeout   30  \r\n"             // blanks around words and a CRLF line end
        "requirepass \"pass word\"\n"
        "logfile '/tmp/a b.log'\n"
        "pidfile \"/run/\\x41\\\\b\\n\"\n"  // double quotes understand \xHH, \\ and \n
        "protected-mode NO\n"
        "bind 127.0.0.1 ::1\n"
        "loglevel WARNING\n"
        "maxclients 4294967295\n"
        "unixsocketperm 770\n"
        "replica-read-only no\n"
        "# port 9999\n");
    CHECK(c.port == 7002);
    CHECK(c.timeout == 30);
    CHECK(c.requirepass == "pass word");
    CHECK(c.logfile == "/tmp/a b.log");
    CHECK(c.pidfile == "/run/A\\b\n");
    CHECK_FALSE(c.protected_mode);
    CHECK(c.bind == std::vector<std::string>{"127.0.0.1", "::1"});
    CHECK(c.loglevel == LogLevel::warning);
    CHECK(c.maxclients == 4294967295LL);
    CHECK(c.unixsocketperm == 0770);
    CHECK_FALSE(c.replica_read_only);
    // Untouched settings keep their defaults.
    CHECK(c.tcp_keepalive == 300);
    CHECK(c.databases == 16);

    CHECK(parse("").port == 6379);
    CHECK(parse("\n\n# only comments\n").port == 6379);
    CHECK(parse("port 1234").port == 1234);  // no final newline
    CHECK(parse("requirepass \"\"\n").requirepass.empty());
    CHECK(parse("requirepass x\nrequirepass \"\"\n").requirepass.empty());
}

TEST_CASE("config: an unknown directive names the source, the line and the reason") {
    const std::string message = parse_error("port 1\n# comment\n\nfoo bar\nport 2\n");
    CHECK(message.find("the test config") != std::string::npos);
    CHECK(message.find("at line 4") != std::string::npos);
    CHECK(message.find(">>> 'foo") != std::string::npos);
    CHECK(message.find("Bad directive or wrong number of arguments") != std::string::npos);
    CHECK(message.starts_with("\n*** FATAL CONFIG FILE ERROR (Backplane) ***\nReading the test config, at line 4\n>>> 'foo"));
    CHECK(message.ends_with("'\nBad directive or wrong number of arguments\n"));

    CHECK(reason("nosuchdirective 1\n") == "Bad directive or wrong number of arguments");
    CHECK(parse_error("port\n").find("Reading the test config, at line 1\n") != std::string::npos);
    CHECK(parse_error("include\n").find("Bad directive or wrong number of arguments") != std::string::npos);
    CHECK(parse_error("include a b\n").find("Bad directive or wrong number of arguments") != std::string::npos);
    // The first bad line is reported, and the source name is the one given.
    CHECK(parse_error("timeout 1\nport x\nfoo\n", "the file 'x.conf'")
              .starts_with("\n*** FATAL CONFIG FILE ERROR (Backplane) ***\nReading the file 'x.conf', at line 2\n"));
    CHECK(reason("requirepass \"unterminated\n") == "Unbalanced quotes in configuration line");
    CHECK(reason("requirepass 'a'b\n") == "Unbalanced quotes in configuration line");
}

TEST_CASE("config: integer values and Redis's error texts") {
    CHECK(parse("port 0\n").port == 0);
    CHECK(parse("port 65535\n").port == 65535);
    CHECK(reason("port abc\n") == "argument couldn't be parsed into an integer");
    CHECK(reason("port 007\n") == "argument couldn't be parsed into an integer");
    CHECK(reason("port +5\n") == "argument couldn't be parsed into an integer");
    CHECK(reason("port ''\n") == "argument couldn't be parsed into an integer");
    CHECK(reason("port 1.5\n") == "argument couldn't be parsed into an integer");
    CHECK(reason("port 65536\n") == "argument must be between 0 and 65535 inclusive");
    CHECK(reason("port -1\n") == "argument must be between 0 and 65535 inclusive");
    CHECK(reason("port 99999999999999999999\n") == "argument couldn't be parsed into an integer");
    CHECK(reason("maxclients 0\n") == "argument must be between 1 and 4294967295 inclusive");
    CHECK(reason("timeout -1\n") == "argument must be between 0 and 2147483647 inclusive");
    CHECK(reason("databases 0\n") == "argument must be between 1 and 2147483647 inclusive");
    CHECK(reason("unixsocketperm 999\n") == "argument couldn't be parsed as an octal number");
    const std::string message = parse_error("\n\nport 70000\n");
    CHECK(message.starts_with("\n*** FATAL CONFIG FILE ERROR (Backplane) ***\nReading the test config, at line 3\n>>> 'port"));
    CHECK(message.ends_with("\nargument must be between 0 and 65535 inclusive\n"));
}

TEST_CASE("config: yes/no values and log levels") {
    CHECK(parse("protected-mode yes\n").protected_mode);
    CHECK_FALSE(parse("protected-mode no\n").protected_mode);
    CHECK(parse("protected-mode YeS\n").protected_mode);
    CHECK(reason("protected-mode 1\n") == "argument must be 'yes' or 'no'");
    CHECK(reason("protected-mode maybe\n") == "argument must be 'yes' or 'no'");
    CHECK(reason("protected-mode ''\n") == "argument must be 'yes' or 'no'");
    CHECK_FALSE(parse("slave-read-only no\n").replica_read_only);
    CHECK(parse("loglevel debug\n").loglevel == LogLevel::debug);
    CHECK(parse("loglevel verbose\n").loglevel == LogLevel::verbose);
    CHECK(parse("loglevel notice\n").loglevel == LogLevel::notice);
    CHECK(reason("loglevel loud\n") ==
          "argument(s) must be one of the following: debug, verbose, notice, warning");
}

TEST_CASE("config: memory values with units") {
    CHECK(parse("proto-max-bulk-len 32mb\n").proto_max_bulk_len == 33554432);
    CHECK(parse("proto-max-bulk-len 1gb\n").proto_max_bulk_len == 1073741824);
    CHECK(parse("proto-max-bulk-len 2g\n").proto_max_bulk_len == 2000000000);
    CHECK(parse("proto-max-bulk-len 5MB\n").proto_max_bulk_len == 5242880);
    CHECK(parse("proto-max-bulk-len 2m\n").proto_max_bulk_len == 2000000);
    CHECK(parse("proto-max-bulk-len 1048576\n").proto_max_bulk_len == 1048576);
    CHECK(parse("proto-max-bulk-len 1048576b\n").proto_max_bulk_len == 1048576);
    CHECK(parse("proto-max-bulk-len 1024kb\n").proto_max_bulk_len == 1048576);
    CHECK(parse("client-query-buffer-limit 3000k\n").client_query_buffer_limit == 3000000);
    CHECK(reason("proto-max-bulk-len 100kb\n") ==
          "argument must be between 1048576 and 9223372036854775807 inclusive");
    CHECK(reason("proto-max-bulk-len 1k\n") ==
          "argument must be between 1048576 and 9223372036854775807 inclusive");
    CHECK(reason("proto-max-bulk-len 1.5mb\n") == "argument must be a memory value");
    CHECK(reason("proto-max-bulk-len -5\n") == "argument must be a memory value");
    CHECK(reason("proto-max-bulk-len 5tb\n") == "argument must be a memory value");
    CHECK(reason("proto-max-bulk-len mb\n") == "argument must be a memory value");
    CHECK(reason("proto-max-bulk-len 99999999999gb\n") == "argument must be a memory value");
    // Units in client-output-buffer-limit: k is 1000, kb is 1024.
    const Config c = parse("client-output-buffer-limit pubsub 1k 100kb 5\n");
    CHECK(same(c.pubsub_limit, BufferLimit{1000, 102400, 5}));
}

TEST_CASE("config: client-output-buffer-limit groups and its three errors") {
    Config c = parse(
        "client-output-buffer-limit normal 1mb 512kb 10\n"
        "client-output-buffer-limit replica 64mb 16mb 30 pubsub 0 0 0\n");
    CHECK(same(c.normal_limit, BufferLimit{1048576, 524288, 10}));
    CHECK(same(c.replica_limit, BufferLimit{67108864, 16777216, 30}));
    CHECK(same(c.pubsub_limit, BufferLimit{0, 0, 0}));
    c = parse("client-output-buffer-limit SLAVE 1 2 3\n");
    CHECK(same(c.replica_limit, BufferLimit{1, 2, 3}));
    CHECK(same(c.pubsub_limit, BufferLimit{33554432, 8388608, 60}));  // other classes untouched
    c = parse("client-output-buffer-limit PUBSUB 1MB 1Kb 5\n");
    CHECK(same(c.pubsub_limit, BufferLimit{1048576, 1024, 5}));

    const std::string wrong = "Wrong number of arguments in buffer limit configuration.";
    const std::string invalid = "Invalid client class specified in buffer limit configuration.";
    const std::string error = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
    CHECK(reason("client-output-buffer-limit pubsub 1 2\n") == wrong);
    CHECK(reason("client-output-buffer-limit pubsub 1k 100kb 5 normal 1\n") == wrong);
    CHECK(reason("client-output-buffer-limit bogus 1 2 3\n") == invalid);
    CHECK(reason("client-output-buffer-limit pubsub 1 2 3 bogus 1 2 3\n") == invalid);
    CHECK(reason("client-output-buffer-limit pubsub 1x 2 3\n") == error);
    CHECK(reason("client-output-buffer-limit pubsub 1 -2 3\n") == error);
    CHECK(reason("client-output-buffer-limit pubsub 1mb 1mb abc\n") == error);
    CHECK(reason("client-output-buffer-limit pubsub 1mb 1mb -1\n") == error);
    CHECK(reason("client-output-buffer-limit pubsub 1 2 3x\n") == error);

    // A failing line changes nothing, not even the groups before the bad one.
    Config unchanged;
    const std::vector<std::string_view> bad{"client-output-buffer-limit", "pubsub 1 2 3 bogus 1 2 3"};
    CHECK(config_set(unchanged, bad).value_or("OK") ==
          set_error_prefix("client-output-buffer-limit") + invalid);
    CHECK(same(unchanged.pubsub_limit, BufferLimit{33554432, 8388608, 60}));
}

TEST_CASE("config: include reads another file in place") {
    const TempFile included("timeout 42\nrequirepass from-include\nport 1111\n");
    const Config c = parse("port 1\ninclude " + included.path() + "\nport 2\n");
    CHECK(c.timeout == 42);
    CHECK(c.requirepass == "from-include");
    CHECK(c.port == 2);  // the line after the include wins
    CHECK(parse("include " + included.path() + "\n").port == 1111);
    CHECK(parse("INCLUDE \"" + included.path() + "\"\n").timeout == 42);

    // Errors inside the included file name that file and its own line number.
    const TempFile broken("# first\n\nbogus 1\n");
    const std::string message = parse_error("port 1\ninclude " + broken.path() + "\n");
    CHECK(message.find("the configuration file '" + broken.path() + "'") != std::string::npos);
    CHECK(message.find("at line 3") != std::string::npos);
    CHECK(message.find("Bad directive or wrong number of arguments") != std::string::npos);

    // A missing file.
    const std::string missing = included.path() + ".missing";
    CHECK(parse_error("include " + missing + "\n") ==
          "Fatal error, can't open config file '" + missing + "': No such file or directory");

    // A file including itself stops instead of recursing forever.
    const TempFile loop("timeout 1\n");
    loop.write("timeout 1\ninclude " + loop.path() + "\n");
    const std::string loop_message = parse_error("include " + loop.path() + "\n");
    CHECK(loop_message.find("Too many nested includes") != std::string::npos);
    CHECK(loop_message.find(loop.path()) != std::string::npos);
}

TEST_CASE("config: load_config with command-line directives") {
    {
        const std::vector<std::string_view> argv{"--port", "7000", "--requirepass", "x"};
        const Config c = load_config(argv);
        CHECK(c.port == 7000);
        CHECK(c.requirepass == "x");
        CHECK(c.config_file.empty());
        CHECK(c.timeout == 0);
    }
    {
        const Config c = load_config(std::vector<std::string_view>{});
        CHECK(c.port == 6379);
        CHECK(c.config_file.empty());
    }
    {
        // Several words after a --name form its value; quotes and backslashes survive.
        const std::vector<std::string_view> argv{"--bind", "127.0.0.1", "::1", "--requirepass",
                                                 "a \"b\" \\c'd", "--logfile", "two\nlines"};
        const Config c = load_config(argv);
        CHECK(c.bind == std::vector<std::string>{"127.0.0.1", "::1"});
        CHECK(c.requirepass == "a \"b\" \\c'd");
        CHECK(c.logfile == "two\nlines");
    }
    {
        const std::vector<std::string_view> argv{"--client-output-buffer-limit", "pubsub", "1mb",
                                                 "2mb", "3", "--PROTECTED-MODE", "no"};
        const Config c = load_config(argv);
        CHECK(same(c.pubsub_limit, BufferLimit{1048576, 2097152, 3}));
        CHECK_FALSE(c.protected_mode);
    }
    {
        const std::vector<std::string_view> argv{"--requirepass", ""};
        CHECK(load_config(argv).requirepass.empty());
    }
}

TEST_CASE("config: load_config with a config file first") {
    const TempFile file("port 7100\ntimeout 5\nrequirepass file\n");
    {
        const std::vector<std::string_view> argv{file.path()};
        const Config c = load_config(argv);
        CHECK(c.port == 7100);
        CHECK(c.timeout == 5);
        CHECK(c.requirepass == "file");
        CHECK(c.config_file == std::filesystem::absolute(file.path()).string());
    }
    {
        // Command-line directives come after the file and override it.
        const std::vector<std::string_view> argv{file.path(), "--port", "7200", "--requirepass", "cli"};
        const Config c = load_config(argv);
        CHECK(c.port == 7200);
        CHECK(c.timeout == 5);
        CHECK(c.requirepass == "cli");
    }
    {
        const std::string missing = file.path() + ".missing";
        const std::vector<std::string_view> argv{missing, "--port", "1"};
        CHECK(load_error(argv) ==
              "Fatal error, can't open config file '" + missing + "': No such file or directory");
    }
    {
        const TempFile bad("\nport 1\nport nope\n");
        const std::vector<std::string_view> argv{bad.path()};
        const std::string message = load_error(argv);
        CHECK(message.find("the configuration file '" + bad.path() + "'") != std::string::npos);
        CHECK(message.find("at line 3") != std::string::npos);
        CHECK(message.ends_with("\nargument couldn't be parsed into an integer\n"));
    }
}

TEST_CASE("config: load_config errors name the command line and the directive's position") {
    {
        const std::vector<std::string_view> argv{"--port", "abc"};
        const std::string message = load_error(argv);
        CHECK(message.find("the command-line directives") != std::string::npos);
        CHECK(message.find("at line 1") != std::string::npos);
        CHECK(message.ends_with("\nargument couldn't be parsed into an integer\n"));
    }
    {
        const std::vector<std::string_view> argv{"--timeout", "5", "--foo", "1"};
        const std::string message = load_error(argv);
        CHECK(message.find("the command-line directives, at line 2") != std::string::npos);
        CHECK(message.find(">>> 'foo") != std::string::npos);
        CHECK(message.ends_with("\nBad directive or wrong number of arguments\n"));
    }
    {
        // The file is read first, so its error is reported even when the command line is bad too.
        const TempFile file("foo 1\n");
        const std::vector<std::string_view> argv{file.path(), "--port", "abc"};
        CHECK(load_error(argv).find("the configuration file '" + file.path() + "', at line 1") !=
              std::string::npos);
    }
}

TEST_CASE("config: CONFIG SET applies valid pairs") {
    Config c;
    CHECK(set(c, {"timeout", "30", "protected-mode", "no", "requirepass", "secret"}) == "OK");
    CHECK(c.timeout == 30);
    CHECK_FALSE(c.protected_mode);
    CHECK(c.requirepass == "secret");
    CHECK(set(c, {"TIMEOUT", "7"}) == "OK");  // names are case-insensitive
    CHECK(c.timeout == 7);
    CHECK(set(c, {"maxclients", "1"}) == "OK");
    CHECK(c.maxclients == 1);
    CHECK(set(c, {"proto-max-bulk-len", "32mb", "client-query-buffer-limit", "2gb"}) == "OK");
    CHECK(c.proto_max_bulk_len == 33554432);
    CHECK(c.client_query_buffer_limit == 2147483648LL);
    CHECK(set(c, {"client-output-buffer-limit", "pubsub 1k 100kb 5"}) == "OK");
    CHECK(same(c.pubsub_limit, BufferLimit{1000, 102400, 5}));
    CHECK(same(c.replica_limit, BufferLimit{268435456, 67108864, 60}));
    CHECK(set(c, {"client-output-buffer-limit", "normal 1 2 3 replica 4 5 6"}) == "OK");
    CHECK(same(c.normal_limit, BufferLimit{1, 2, 3}));
    CHECK(same(c.replica_limit, BufferLimit{4, 5, 6}));
    CHECK(set(c, {"slave-read-only", "no"}) == "OK");
    CHECK_FALSE(c.replica_read_only);
    CHECK(set(c, {"replica-read-only", "yes"}) == "OK");
    CHECK(c.replica_read_only);
    CHECK(set(c, {"loglevel", "debug"}) == "OK");
    CHECK(c.loglevel == LogLevel::debug);
    CHECK(set(c, {"requirepass", ""}) == "OK");
    CHECK(c.requirepass.empty());
}

TEST_CASE("config: CONFIG SET is all or nothing") {
    Config c;
    CHECK(set(c, {"timeout", "30", "maxclients", "0"}) ==
          set_error_prefix("maxclients") + "argument must be between 1 and 4294967295 inclusive");
    CHECK(c.timeout == 0);  // the good first pair was not applied
    CHECK(c.maxclients == 10000);
    CHECK(set(c, {"requirepass", "new", "protected-mode", "maybe"}) ==
          set_error_prefix("protected-mode") + "argument must be 'yes' or 'no'");
    CHECK(c.requirepass.empty());
    CHECK(c.protected_mode);
    CHECK(set(c, {"client-output-buffer-limit", "pubsub 1 2 3", "timeout", "x"}) ==
          set_error_prefix("timeout") + "argument couldn't be parsed into an integer");
    CHECK(same(c.pubsub_limit, BufferLimit{33554432, 8388608, 60}));
    CHECK(set(c, {"timeout", "5", "nosuch", "1"}) ==
          "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'");
    CHECK(c.timeout == 0);
    CHECK(set(c, {"timeout", "5", "databases", "4"}) ==
          set_error_prefix("databases") + "can't set immutable config");
    CHECK(c.timeout == 0);
    CHECK(c.databases == 16);
}

TEST_CASE("config: CONFIG SET error texts") {
    Config c;
    CHECK(set(c, {"nosuch", "1"}) == "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'");
    CHECK(set(c, {"timeout", "5", "timeout", "6"}) == set_error_prefix("timeout") + "duplicate parameter");
    CHECK(set(c, {"Timeout", "5", "TIMEOUT", "6"}) == set_error_prefix("TIMEOUT") + "duplicate parameter");
    CHECK(set(c, {"timeout", "5", "timeout", "x"}) == set_error_prefix("timeout") + "duplicate parameter");
    CHECK(c.timeout == 0);
    for (std::string_view immutable : {"databases", "logfile", "pidfile", "unixsocket",
                                       "tcp-backlog"}) {
        CAPTURE(immutable);
        CHECK(set(c, {immutable, "1"}) == set_error_prefix(immutable) + "can't set immutable config");
    }
    CHECK(set(c, {"protected-mode", "maybe"}) == set_error_prefix("protected-mode") + "argument must be 'yes' or 'no'");
    CHECK(set(c, {"slave-read-only", "maybe"}) == set_error_prefix("slave-read-only") + "argument must be 'yes' or 'no'");
    CHECK(set(c, {"timeout", "-1"}) == set_error_prefix("timeout") + "argument must be between 0 and 2147483647 inclusive");
    CHECK(set(c, {"timeout", "01"}) == set_error_prefix("timeout") + "argument couldn't be parsed into an integer");
    CHECK(set(c, {"proto-max-bulk-len", "1k"}) ==
          set_error_prefix("proto-max-bulk-len") + "argument must be between 1048576 and 9223372036854775807 inclusive");
    CHECK(set(c, {"proto-max-bulk-len", "abc"}) == set_error_prefix("proto-max-bulk-len") + "argument must be a memory value");
    CHECK(set(c, {"proto-max-bulk-len", "-5"}) == set_error_prefix("proto-max-bulk-len") + "argument must be a memory value");
    CHECK(set(c, {"loglevel", "loud"}) ==
          set_error_prefix("loglevel") + "argument(s) must be one of the following: debug, verbose, notice, warning");
    const std::string_view cobl = "client-output-buffer-limit";
    CHECK(set(c, {cobl, "bogus"}) == set_error_prefix(cobl) + "Wrong number of arguments in buffer limit configuration.");
    CHECK(set(c, {cobl, "pubsub 1 2"}) == set_error_prefix(cobl) + "Wrong number of arguments in buffer limit configuration.");
    CHECK(set(c, {cobl, "foo 1 1 1"}) == set_error_prefix(cobl) + "Invalid client class specified in buffer limit configuration.");
    CHECK(set(c, {cobl, "pubsub 1x 1 1"}) ==
          set_error_prefix(cobl) + "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    CHECK(set(c, {cobl, "pubsub 1mb 1mb -1"}) ==
          set_error_prefix(cobl) + "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    CHECK(set(c, {cobl, "pubsub -1 1 1"}) ==
          set_error_prefix(cobl) + "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    // Nothing above changed anything.
    const Config defaults;
    CHECK(c.timeout == defaults.timeout);
    CHECK(c.protected_mode == defaults.protected_mode);
    CHECK(c.proto_max_bulk_len == defaults.proto_max_bulk_len);
    CHECK(c.loglevel == defaults.loglevel);
    CHECK(same(c.pubsub_limit, defaults.pubsub_limit));
}

TEST_CASE("config: CONFIG GET formats values as Redis does") {
    const Config c;
    CHECK(get_one(c, "port") == "6379");
    CHECK(get_one(c, "bind") == "* -::*");
    CHECK(get_one(c, "timeout") == "0");
    CHECK(get_one(c, "protected-mode") == "yes");
    CHECK(get_one(c, "replica-read-only") == "yes");
    CHECK(get_one(c, "proto-max-bulk-len") == "536870912");
    CHECK(get_one(c, "client-query-buffer-limit") == "1073741824");
    CHECK(get_one(c, "client-output-buffer-limit") ==
          "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    CHECK(get_one(c, "loglevel") == "notice");
    CHECK(get_one(c, "requirepass") == "");
    CHECK(get_one(c, "unixsocketperm") == "0");
    CHECK(get_one(c, "maxclients") == "10000");
    CHECK(get_one(c, "databases") == "16");

    Config changed = parse(
        "proto-max-bulk-len 32mb\n"
        "protected-mode no\n"
        "unixsocketperm 770\n"
        "loglevel warning\n"
        "bind 10.0.0.1\n"
        "client-output-buffer-limit pubsub 1k 100kb 5 replica 1gb 0 0\n");
    CHECK(get_one(changed, "proto-max-bulk-len") == "33554432");  // bytes, not "32mb"
    CHECK(get_one(changed, "protected-mode") == "no");
    CHECK(get_one(changed, "unixsocketperm") == "770");
    CHECK(get_one(changed, "loglevel") == "warning");
    CHECK(get_one(changed, "bind") == "10.0.0.1");
    CHECK(get_one(changed, "client-output-buffer-limit") ==
          "normal 0 0 0 slave 1073741824 0 0 pubsub 1000 102400 5");
}

TEST_CASE("config: CONFIG GET with glob patterns and several patterns") {
    const Config c;
    CHECK(get(c, {"*read-only*"}) ==
          std::map<std::string, std::string>{{"replica-read-only", "yes"}, {"slave-read-only", "yes"}});
    CHECK(get(c, {"*max*"}) ==
          std::map<std::string, std::string>{{"maxclients", "10000"}, {"proto-max-bulk-len", "536870912"}});
    CHECK(get(c, {"TIME*"}) == std::map<std::string, std::string>{{"timeout", "0"}});
    CHECK(get(c, {"port", "timeout"}) ==
          std::map<std::string, std::string>{{"port", "6379"}, {"timeout", "0"}});
    // Overlapping patterns list each parameter once.
    CHECK(get(c, {"*buffer*", "client-*", "client-output-buffer-limit"}) ==
          std::map<std::string, std::string>{
              {"client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
              {"client-query-buffer-limit", "1073741824"}});
    CHECK(get(c, {"unix*"}) ==
          std::map<std::string, std::string>{{"unixsocket", ""}, {"unixsocketperm", "0"}});
    CHECK(get(c, {"?ort"}) == std::map<std::string, std::string>{{"port", "6379"}});
    CHECK(get(c, {"[pt][^l]*"}) == std::map<std::string, std::string>{{"pidfile", ""},
                                                                  {"port", "6379"},
                                                                  {"protected-mode", "yes"},
                                                                  {"proto-max-bulk-len", "536870912"},
                                                                  {"tcp-backlog", "511"},
                                                                  {"tcp-keepalive", "300"},
                                                                  {"timeout", "0"}});
    CHECK(get(c, {"nosuch"}).empty());
    CHECK(get(c, {"nosuch*", "port"}) == std::map<std::string, std::string>{{"port", "6379"}});
    CHECK(get(c, {}).empty());
    // "*" lists every parameter once, and includes these.
    const auto all = get(c, {"*"});
    CHECK(all.size() == config_get(c, std::vector<std::string_view>{"*", "*"}).size());
    for (const char* name : {"port", "bind", "requirepass", "protected-mode", "maxclients", "timeout",
                             "tcp-keepalive", "client-output-buffer-limit", "loglevel",
                             "replica-read-only", "slave-read-only"}) {
        CAPTURE(name);
        CHECK(all.contains(name));
    }
}

TEST_CASE("config: CONFIG SET then CONFIG GET round trip") {
    Config c;
    CHECK(set(c, {"client-output-buffer-limit", "PUBSUB 1MB 1Kb 5", "maxclients", "123"}) == "OK");
    CHECK(get(c, {"client-output-buffer-limit", "maxclients"}) ==
          std::map<std::string, std::string>{
              {"client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 1024 5"},
              {"maxclients", "123"}});
    // The value CONFIG GET prints is accepted back by CONFIG SET.
    const std::string limits = get_one(c, "client-output-buffer-limit");
    Config other;
    CHECK(set(other, {"client-output-buffer-limit", limits}) == "OK");
    CHECK(get_one(other, "client-output-buffer-limit") == limits);
}

// ---- Known differences from Redis 7.0.15 --------------------------------------------------
// Each case below asserts what redis-server 7.0.15 does where an early version of the config
// code differed.

TEST_CASE("config: a known directive with a wrong word count") {
    // redis-server 7.0.15 with "timeout 1 2" or "timeout" in a config file:
    //   "wrong number of arguments" (only unknown directives get "Bad directive or ...").
    CHECK(reason("timeout 1 2\n") == "wrong number of arguments");
}

TEST_CASE("config: CONFIG SET checks every name before any value") {
    // redis-server 7.0.15: CONFIG SET timeout abc foo 1
    //   -> ERR Unknown option or number of arguments for CONFIG SET - 'foo'
    // and CONFIG SET timeout x databases 4
    //   -> ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config
    Config c;
    CHECK(set(c, {"timeout", "abc", "foo", "1"}) ==
          "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    CHECK(set(c, {"timeout", "x", "databases", "4"}) ==
          set_error_prefix("databases") + "can't set immutable config");
}

TEST_CASE("config: CONFIG SET value errors name the parameter in lower case") {
    // redis-server 7.0.15: CONFIG SET TIMEOUT abc
    //   -> ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer
    Config c;
    CHECK(set(c, {"TIMEOUT", "abc"}) == set_error_prefix("timeout") + "argument couldn't be parsed into an integer");
}

TEST_CASE("config: soft_seconds accepts leading zeros") {
    // redis-server 7.0.15: CONFIG SET client-output-buffer-limit "pubsub 1 2 03" -> OK (strtoll),
    // then CONFIG GET shows "... pubsub 1 2 3".
    Config c;
    CHECK(set(c, {"client-output-buffer-limit", "pubsub 1 2 03"}) == "OK");
    CHECK(same(c.pubsub_limit, BufferLimit{1, 2, 3}));
}

TEST_CASE("config: the error echoes the config line as written") {
    // redis-server 7.0.15 echoes the trimmed line of the file: >>> 'port abc'
    CHECK(parse_error("port abc\n").find(">>> 'port abc'\n") != std::string::npos);
}

TEST_CASE("config: tls directives have Redis's defaults and checks") {
    Config c;
    CHECK(get(c, {"tls-port"}) == std::map<std::string, std::string>{{"tls-port", "0"}});
    CHECK(get(c, {"tls-auth-clients"}) ==
          std::map<std::string, std::string>{{"tls-auth-clients", "yes"}});
    CHECK(get(c, {"tls-session-cache-size"}) ==
          std::map<std::string, std::string>{{"tls-session-cache-size", "20480"}});
    CHECK(get(c, {"tls-*"}).size() == 20);
    std::vector<std::string_view> args{"tls-auth-clients", "OPTIONAL", "tls-protocols",
                                       "TLSv1.2 TLSv1.3"};
    CHECK_FALSE(config_set(c, args));
    CHECK(c.tls_auth_clients == backplane::TlsAuthClients::optional);
    CHECK(c.tls_protocols == "TLSv1.2 TLSv1.3");
    std::vector<std::string_view> bad{"tls-port", "65536"};
    CHECK(config_set(c, bad) ==
          "ERR CONFIG SET failed (possibly related to argument 'tls-port') - argument must be "
          "between 0 and 65535 inclusive");
    Config from_file;
    apply_config_text(from_file, "tls-protocols \"TLSv1.3\"\ntls-auth-clients no\n", "test");
    CHECK(from_file.tls_protocols == "TLSv1.3");
    CHECK(from_file.tls_auth_clients == backplane::TlsAuthClients::no);
}
