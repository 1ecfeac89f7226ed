#include "server/config.hpp"

#include <fmt/format.h>
#include <limits.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocol/number.hpp"
#include "protocol/split_args.hpp"
#include "server/acl.hpp"
#include "server/glob.hpp"

namespace backplane {
namespace {

using Error = std::optional<std::string>;

std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

Error parse_integer(std::string_view value, int64_t min, int64_t max, int64_t& out) {
    const auto number = protocol::parse_int64(value);
    if (!number) return "argument couldn't be parsed into an integer";
    if (*number < min || *number > max)
        return fmt::format("argument must be between {} and {} inclusive", min, max);
    out = *number;
    return std::nullopt;
}

/// Redis's memtoull(): digits with an optional unit b, k, kb, m, mb, g, gb (any case).
std::optional<uint64_t> parse_memory(std::string_view value) {
    const size_t digits = value.find_first_not_of("0123456789");
    const std::string_view number = value.substr(0, digits);
    const std::string unit =
        lowercase(digits == std::string_view::npos ? "" : value.substr(digits));
    uint64_t multiplier = 1;
    if (unit.empty() || unit == "b") {
        multiplier = 1;
    } else if (unit == "k") {
        multiplier = 1000;
    } else if (unit == "kb") {
        multiplier = 1024;
    } else if (unit == "m") {
        multiplier = 1000 * 1000;
    } else if (unit == "mb") {
        multiplier = 1024 * 1024;
    } else if (unit == "g") {
        multiplier = 1000ULL * 1000 * 1000;
    } else if (unit == "gb") {
        multiplier = 1024ULL * 1024 * 1024;
    } else {
        return std::nullopt;
    }
    if (number.empty() || number.size() > 19) return std::nullopt;
    uint64_t amount = 0;
    for (char c : number) amount = amount * 10 + static_cast<uint64_t>(c - '0');
    if (amount > UINT64_MAX / multiplier) return std::nullopt;
    return amount * multiplier;
}

Error parse_memory_in(std::string_view value, int64_t min, int64_t& out) {
    const auto bytes = parse_memory(value);
    if (!bytes) return "argument must be a memory value";
    if (*bytes < static_cast<uint64_t>(min) || *bytes > static_cast<uint64_t>(LLONG_MAX))
        return fmt::format("argument must be between {} and {} inclusive", min, LLONG_MAX);
    out = static_cast<int64_t>(*bytes);
    return std::nullopt;
}

Error parse_bool(std::string_view value, bool& out) {
    const std::string word = lowercase(value);
    if (word != "yes" && word != "no") return "argument must be 'yes' or 'no'";
    out = word == "yes";
    return std::nullopt;
}

std::vector<std::string> split_words(std::string_view value) {
    std::vector<std::string> words;
    std::istringstream stream{std::string(value)};
    for (std::string word; stream >> word;) words.push_back(word);
    return words;
}

/// `<class> <hard> <soft> <seconds>` groups, e.g. "pubsub 32mb 8mb 60 normal 0 0 0".
Error parse_buffer_limits(Config& config, std::string_view value) {
    const std::vector<std::string> words = split_words(value);
    if (words.empty()) return std::nullopt;  // as in Redis: nothing to change
    if (words.size() % 4 != 0) return "Wrong number of arguments in buffer limit configuration.";
    Config updated = config;
    for (size_t i = 0; i < words.size(); i += 4) {
        const std::string name = lowercase(words[i]);
        BufferLimit* target = nullptr;
        if (name == "normal") {
            target = &updated.normal_limit;
        } else if (name == "slave" || name == "replica") {
            target = &updated.replica_limit;
        } else if (name == "pubsub") {
            target = &updated.pubsub_limit;
        } else {
            return "Invalid client class specified in buffer limit configuration.";
        }
        const auto hard = parse_memory(words[i + 1]);
        const auto soft = parse_memory(words[i + 2]);
        // Redis reads the seconds with strtoll(), so "03" is 3.
        const std::string& digits = words[i + 3];
        const bool numeric = !digits.empty() && digits.size() <= 18 &&
                             digits.find_first_not_of("0123456789") == std::string::npos;
        const std::optional<int64_t> seconds =
            numeric ? std::optional<int64_t>(std::stoll(digits)) : std::nullopt;
        if (!hard || !soft || !seconds)
            return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        *target = BufferLimit{*hard, *soft, *seconds};
    }
    config = updated;
    return std::nullopt;
}

std::string format_buffer_limits(const Config& config) {
    auto group = [](std::string_view name, const BufferLimit& limit) {
        return fmt::format("{} {} {} {}", name, limit.hard_bytes, limit.soft_bytes,
                           limit.soft_seconds);
    };
    return fmt::format("{} {} {}", group("normal", config.normal_limit),
                       group("slave", config.replica_limit), group("pubsub", config.pubsub_limit));
}

constexpr std::string_view log_level_names[] = {"debug", "verbose", "notice", "warning"};

struct Directive {
    std::string_view name;
    bool runtime_settable;
    bool multi_word;  // several words on a config line are joined into one value
    Error (*set)(Config&, std::string_view);
    std::string (*get)(const Config&);
};

// A run-time settable string directive; `tls-protocols "TLSv1.2 TLSv1.3"` is one quoted word.
#define TEXT_DIRECTIVE(NAME, FIELD)                      \
    Directive {                                          \
        NAME, true, false,                               \
            [](Config& c, std::string_view v) -> Error { \
                c.FIELD = v;                             \
                return std::nullopt;                     \
            },                                           \
            [](const Config& c) { return c.FIELD; }      \
    }
#define BOOL_DIRECTIVE(NAME, FIELD)                                                              \
    Directive {                                                                                  \
        NAME, true, false, [](Config& c, std::string_view v) { return parse_bool(v, c.FIELD); }, \
            [](const Config& c) { return std::string(c.FIELD ? "yes" : "no"); }                  \
    }

const Directive directives[] = {
    {"port", true, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 0, 65535, c.port); },
     [](const Config& c) { return std::to_string(c.port); }},
    {"bind", true, true,
     [](Config& c, std::string_view v) -> Error {
         c.bind = split_words(v);
         return std::nullopt;
     },
     [](const Config& c) { return fmt::format("{}", fmt::join(c.bind, " ")); }},
    {"unixsocket", false, false,
     [](Config& c, std::string_view v) -> Error {
         c.unixsocket = v;
         return std::nullopt;
     },
     [](const Config& c) { return c.unixsocket; }},
    {"unixsocketperm", false, false,
     [](Config& c, std::string_view v) -> Error {
         if (v.empty() || v.size() > 4 || v.find_first_not_of("01234567") != std::string_view::npos)
             return "argument couldn't be parsed as an octal number";
         c.unixsocketperm = static_cast<unsigned>(std::stoul(std::string(v), nullptr, 8));
         return std::nullopt;
     },
     [](const Config& c) { return fmt::format("{:o}", c.unixsocketperm); }},
    {"requirepass", true, false,
     [](Config& c, std::string_view v) -> Error {
         c.requirepass = v;
         return std::nullopt;
     },
     [](const Config& c) { return c.requirepass; }},
    {"protected-mode", true, false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.protected_mode); },
     [](const Config& c) { return std::string(c.protected_mode ? "yes" : "no"); }},
    {"maxclients", true, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 1, UINT_MAX, c.maxclients); },
     [](const Config& c) { return std::to_string(c.maxclients); }},
    {"timeout", true, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 0, INT_MAX, c.timeout); },
     [](const Config& c) { return std::to_string(c.timeout); }},
    {"tcp-keepalive", true, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 0, INT_MAX, c.tcp_keepalive); },
     [](const Config& c) { return std::to_string(c.tcp_keepalive); }},
    {"tcp-backlog", false, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 0, INT_MAX, c.tcp_backlog); },
     [](const Config& c) { return std::to_string(c.tcp_backlog); }},
    {"databases", false, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 1, INT_MAX, c.databases); },
     [](const Config& c) { return std::to_string(c.databases); }},
    {"proto-max-bulk-len", true, false,
     [](Config& c, std::string_view v) {
         return parse_memory_in(v, 1024 * 1024, c.proto_max_bulk_len);
     },
     [](const Config& c) { return std::to_string(c.proto_max_bulk_len); }},
    {"client-query-buffer-limit", true, false,
     [](Config& c, std::string_view v) {
         return parse_memory_in(v, 1024 * 1024, c.client_query_buffer_limit);
     },
     [](const Config& c) { return std::to_string(c.client_query_buffer_limit); }},
    {"client-output-buffer-limit", true, true, parse_buffer_limits, format_buffer_limits},
    {"loglevel", true, false,
     [](Config& c, std::string_view v) -> Error {
         const std::string word = lowercase(v);
         for (size_t i = 0; i < std::size(log_level_names); ++i) {
             if (word == log_level_names[i]) {
                 c.loglevel = static_cast<LogLevel>(i);
                 return std::nullopt;
             }
         }
         return "argument(s) must be one of the following: debug, verbose, notice, warning";
     },
     [](const Config& c) { return std::string(log_level_names[static_cast<size_t>(c.loglevel)]); }},
    {"logfile", false, false,
     [](Config& c, std::string_view v) -> Error {
         c.logfile = v;
         return std::nullopt;
     },
     [](const Config& c) { return c.logfile; }},
    {"pidfile", false, false,
     [](Config& c, std::string_view v) -> Error {
         c.pidfile = v;
         return std::nullopt;
     },
     [](const Config& c) { return c.pidfile; }},
    {"tls-port", true, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 0, 65535, c.tls_port); },
     [](const Config& c) { return std::to_string(c.tls_port); }},
    TEXT_DIRECTIVE("tls-cert-file", tls_cert_file),
    TEXT_DIRECTIVE("tls-key-file", tls_key_file),
    TEXT_DIRECTIVE("tls-key-file-pass", tls_key_file_pass),
    TEXT_DIRECTIVE("tls-ca-cert-file", tls_ca_cert_file),
    TEXT_DIRECTIVE("tls-ca-cert-dir", tls_ca_cert_dir),
    {"tls-auth-clients", true, false,
     [](Config& c, std::string_view v) -> Error {
         const std::string word = lowercase(v);
         if (word == "no") {
             c.tls_auth_clients = TlsAuthClients::no;
         } else if (word == "yes") {
             c.tls_auth_clients = TlsAuthClients::yes;
         } else if (word == "optional") {
             c.tls_auth_clients = TlsAuthClients::optional;
         } else {
             return "argument(s) must be one of the following: no, yes, optional";
         }
         return std::nullopt;
     },
     [](const Config& c) {
         constexpr std::string_view names[] = {"no", "yes", "optional"};
         return std::string(names[static_cast<size_t>(c.tls_auth_clients)]);
     }},
    TEXT_DIRECTIVE("tls-protocols", tls_protocols),
    TEXT_DIRECTIVE("tls-ciphers", tls_ciphers),
    TEXT_DIRECTIVE("tls-ciphersuites", tls_ciphersuites),
    BOOL_DIRECTIVE("tls-prefer-server-ciphers", tls_prefer_server_ciphers),
    BOOL_DIRECTIVE("tls-session-caching", tls_session_caching),
    {"tls-session-cache-size", true, false,
     [](Config& c, std::string_view v) {
         return parse_integer(v, 0, INT_MAX, c.tls_session_cache_size);
     },
     [](const Config& c) { return std::to_string(c.tls_session_cache_size); }},
    {"tls-session-cache-timeout", true, false,
     [](Config& c, std::string_view v) {
         return parse_integer(v, 0, INT_MAX, c.tls_session_cache_timeout);
     },
     [](const Config& c) { return std::to_string(c.tls_session_cache_timeout); }},
    TEXT_DIRECTIVE("tls-dh-params-file", tls_dh_params_file),
    BOOL_DIRECTIVE("tls-replication", tls_replication),
    BOOL_DIRECTIVE("tls-cluster", tls_cluster),
    TEXT_DIRECTIVE("tls-client-cert-file", tls_client_cert_file),
    TEXT_DIRECTIVE("tls-client-key-file", tls_client_key_file),
    TEXT_DIRECTIVE("tls-client-key-file-pass", tls_client_key_file_pass),
    {"replica-read-only", true, false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.replica_read_only); },
     [](const Config& c) { return std::string(c.replica_read_only ? "yes" : "no"); }},
    {"acl-pubsub-default", true, false,
     [](Config& c, std::string_view v) -> Error {
         const std::string word = lowercase(v);
         if (word != "allchannels" && word != "resetchannels")
             return "argument(s) must be one of the following: allchannels, resetchannels";
         c.acl_pubsub_default_allchannels = word == "allchannels";
         return std::nullopt;
     },
     [](const Config& c) {
         return std::string(c.acl_pubsub_default_allchannels ? "allchannels" : "resetchannels");
     }},
    {"slave-read-only", true, false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.replica_read_only); },
     [](const Config& c) { return std::string(c.replica_read_only ? "yes" : "no"); }},
    {"busy-reply-threshold", true, false,
     [](Config& c, std::string_view v) {
         return parse_integer(v, 0, LONG_MAX, c.busy_reply_threshold);
     },
     [](const Config& c) { return std::to_string(c.busy_reply_threshold); }},
    {"lua-time-limit", true, false,
     [](Config& c, std::string_view v) {
         return parse_integer(v, 0, LONG_MAX, c.busy_reply_threshold);
     },
     [](const Config& c) { return std::to_string(c.busy_reply_threshold); }},
    {"io-threads", false, false,
     [](Config& c, std::string_view v) { return parse_integer(v, 1, 128, c.io_threads); },
     [](const Config& c) { return std::to_string(c.io_threads); }},
    {"io-threads-do-reads", false, false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.io_threads_do_reads); },
     [](const Config& c) { return std::string(c.io_threads_do_reads ? "yes" : "no"); }},
};
#undef TEXT_DIRECTIVE
#undef BOOL_DIRECTIVE

const Directive* find_directive(std::string_view name) {
    const std::string lower = lowercase(name);
    for (const Directive& d : directives) {
        if (d.name == lower) return &d;
    }
    return nullptr;
}

[[noreturn]] void fail(const std::string& source, size_t line_number, std::string_view line,
                       std::string_view reason) {
    throw ConfigError(fmt::format(
        "\n*** FATAL CONFIG FILE ERROR (Backplane) ***\nReading {}, at line {}\n>>> '{}'\n{}\n",
        source, line_number, line, reason));
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError(fmt::format("Fatal error, can't open config file '{}': {}", path,
                                      std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

void apply_config_text(Config& config, std::string_view text, const std::string& source,
                       int include_depth) {
    size_t line_number = 0;
    std::string storage;
    std::vector<std::string_view> words;
    while (!text.empty()) {
        const size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++line_number;
        const size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos || line[first] == '#') continue;
        if (!protocol::split_args(line, storage, words))
            fail(source, line_number, line, "Unbalanced quotes in configuration line");
        if (words.empty()) continue;
        if (lowercase(words[0]) == "include" && words.size() == 2) {
            if (include_depth >= 16) fail(source, line_number, line, "Too many nested includes");
            const std::string path(words[1]);
            apply_config_text(config, read_file(path),
                              fmt::format("the configuration file '{}'", path), include_depth + 1);
            continue;
        }
        const std::string_view trimmed =
            line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
        if (lowercase(words[0]) == "user" && words.size() >= 2) {
            std::vector<std::string> user_line(words.begin(), words.end());
            if (auto error = check_config_user(user_line, config.users))
                fail(source, line_number, trimmed, *error);
            config.users.push_back(std::move(user_line));
            continue;
        }
        const Directive* directive = find_directive(words[0]);
        if (!directive)
            fail(source, line_number, trimmed, "Bad directive or wrong number of arguments");
        if (words.size() < 2 || (words.size() > 2 && !directive->multi_word))
            fail(source, line_number, trimmed, "wrong number of arguments");
        std::string value(words[1]);
        for (size_t i = 2; i < words.size(); ++i) value += fmt::format(" {}", words[i]);
        if (Error error = directive->set(config, value)) fail(source, line_number, trimmed, *error);
    }
}

Config load_config(std::span<const std::string_view> argv) {
    Config config;
    size_t next = 0;
    if (!argv.empty() && !argv[0].starts_with("--")) {
        const std::filesystem::path path(argv[0]);
        config.config_file = std::filesystem::absolute(path).string();
        apply_config_text(config, read_file(std::string(argv[0])),
                          fmt::format("the configuration file '{}'", argv[0]));
        next = 1;
    }
    // Like redis-server: each `--name` starts a directive and the words after it are its value.
    std::string lines;
    for (size_t i = next; i < argv.size(); ++i) {
        const std::string_view word = argv[i];
        if (word.starts_with("--") && word.size() > 2) {
            if (!lines.empty()) lines += '\n';
            lines += word.substr(2);
        } else {
            if (lines.empty()) {
                throw ConfigError(
                    fmt::format("Invalid argument '{}': directives on the command "
                                "line start with --name",
                                word));
            }
            std::string escaped;
            for (char c : word) {
                if (c == '"' || c == '\\') escaped += '\\';
                if (c == '\n') {
                    escaped += "\\n";
                    continue;
                }
                escaped += c;
            }
            lines += fmt::format(" \"{}\"", escaped);
        }
    }
    apply_config_text(config, lines, "the command-line directives");
    return config;
}

std::optional<std::string> config_set(Config& config,
                                      std::span<const std::string_view> name_value_pairs) {
    const auto related = [](std::string_view name, std::string_view why) {
        return fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - {}", name,
                           why);
    };
    // As in Redis: every name is checked (known, settable, not repeated) before any value.
    std::vector<const Directive*> targets;
    for (size_t i = 0; i + 1 < name_value_pairs.size(); i += 2) {
        const std::string_view name = name_value_pairs[i];
        const Directive* directive = find_directive(name);
        if (!directive) {
            return fmt::format("ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                               name);
        }
        if (!directive->runtime_settable) return related(name, "can't set immutable config");
        if (std::find(targets.begin(), targets.end(), directive) != targets.end())
            return related(name, "duplicate parameter");
        targets.push_back(directive);
    }
    Config updated = config;
    for (size_t i = 0; i < targets.size(); ++i) {
        if (Error error = targets[i]->set(updated, name_value_pairs[2 * i + 1]))
            return related(targets[i]->name, *error);
    }
    config = updated;
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> config_get(
    const Config& config, std::span<const std::string_view> patterns) {
    std::vector<std::pair<std::string, std::string>> matches;
    std::vector<const Directive*> reported;
    const auto report = [&](const Directive& directive, std::string_view name) {
        if (std::find(reported.begin(), reported.end(), &directive) != reported.end()) return;
        reported.push_back(&directive);
        matches.emplace_back(name, directive.get(config));
    };
    for (std::string_view pattern : patterns) {
        // Like Redis: a plain name is looked up and echoed as typed; a glob is matched, without
        // regard to case, against every name.
        if (pattern.find_first_of("[*?") == std::string_view::npos) {
            if (const Directive* directive = find_directive(pattern)) report(*directive, pattern);
            continue;
        }
        for (const Directive& directive : directives) {
            if (glob_match(lowercase(pattern), directive.name)) report(directive, directive.name);
        }
    }
    return matches;
}

}  // namespace backplane
