// INFO [section ...]: `key:value\r\n` lines under `# Section` headers, the fields clients parse
// (redis_version, redis_mode, role, loading, connected_clients, ...) where Redis has them.

#include <fmt/format.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "server/commands/commands.hpp"
#include "server/server.hpp"
#include "server/version.hpp"

namespace backplane::commands {
namespace {

using Section = void (*)(Server&, std::string&);

template <typename... Args>
void field(std::string& out, fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
    out += "\r\n";
}

size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

std::string human_bytes(double bytes) {
    static constexpr const char* units[] = {"B", "K", "M", "G", "T"};
    size_t unit = 0;
    while (bytes >= 1024 && unit + 1 < std::size(units)) {
        bytes /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{}B", static_cast<uint64_t>(bytes))
                     : fmt::format("{:.2f}{}", bytes, units[unit]);
}

void server_section(Server& server, std::string& out) {
    using namespace std::chrono;
    utsname system{};
    uname(&system);
    const auto uptime = duration_cast<seconds>(Clock::now() - server.started()).count();
    const auto now_us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    char executable[4096] = {};
    const ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
    field(out, "redis_version:{}", redis_compatible_version);
    field(out, "redis_git_sha1:00000000");
    field(out, "redis_git_dirty:0");
    field(out, "redis_build_id:0");
    field(out, "redis_mode:standalone");
    field(out, "os:{} {} {}", system.sysname, system.release, system.machine);
    field(out, "arch_bits:{}", sizeof(void*) * 8);
    field(out, "monotonic_clock:POSIX clock_gettime");
    field(out, "multiplexing_api:epoll");
    field(out, "atomicvar_api:c11-builtin");
    field(out, "gcc_version:{}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
    field(out, "process_id:{}", getpid());
    field(out, "process_supervised:no");
    field(out, "run_id:{}", server.run_id());
    field(out, "tcp_port:{}", server.config().port);
    field(out, "server_time_usec:{}", now_us);
    field(out, "uptime_in_seconds:{}", uptime);
    field(out, "uptime_in_days:{}", uptime / 86400);
    field(out, "hz:10");
    field(out, "configured_hz:10");
    field(out, "executable:{}", length > 0 ? executable : "");
    field(out, "config_file:{}", server.config().config_file);
    field(out, "io_threads_active:{}", server.threaded() ? 1 : 0);
    field(out, "backplane_version:{}", backplane_version);
}

void clients_section(Server& server, std::string& out) {
    const auto& sessions = server.sessions();
    const auto pubsub = std::count_if(sessions.begin(), sessions.end(), [](const auto& entry) {
        return entry.second->is_pubsub_client();
    });
    field(out, "connected_clients:{}", sessions.size());
    field(out, "cluster_connections:0");
    field(out, "maxclients:{}", server.config().maxclients);
    field(out, "blocked_clients:0");
    field(out, "tracking_clients:0");
    field(out, "clients_in_timeout_table:0");
    field(out, "pubsub_clients:{}", pubsub);
}

void memory_section(Server&, std::string& out) {
    const size_t rss = resident_bytes();
    field(out, "used_memory:{}", rss);
    field(out, "used_memory_human:{}", human_bytes(static_cast<double>(rss)));
    field(out, "used_memory_rss:{}", rss);
    field(out, "used_memory_rss_human:{}", human_bytes(static_cast<double>(rss)));
    field(out, "maxmemory:0");
    field(out, "maxmemory_human:0B");
    field(out, "maxmemory_policy:noeviction");
    field(out, "mem_allocator:libc");
}

void persistence_section(Server&, std::string& out) {
    field(out, "loading:0");
    field(out, "async_loading:0");
    field(out, "rdb_changes_since_last_save:0");
    field(out, "rdb_bgsave_in_progress:0");
    field(out, "aof_enabled:0");
    field(out, "aof_rewrite_in_progress:0");
}

void stats_section(Server& server, std::string& out) {
    const ServerStats& stats = server.stats();
    const ChannelRegistry& registry = server.registry();
    field(out, "total_connections_received:{}", stats.total_connections_received);
    field(out, "total_commands_processed:{}", stats.total_commands_processed);
    field(out, "instantaneous_ops_per_sec:0");
    field(out, "total_net_input_bytes:{}", stats.total_net_input_bytes);
    field(out, "total_net_output_bytes:{}", stats.total_net_output_bytes);
    field(out, "rejected_connections:{}", stats.rejected_connections);
    field(out, "expired_keys:{}", server.keyspace().expired_keys);
    field(out, "evicted_keys:0");
    field(out, "keyspace_hits:{}", server.keyspace().hits);
    field(out, "keyspace_misses:{}", server.keyspace().misses);
    field(out, "pubsub_channels:{}", registry.channel_count());
    field(out, "pubsub_patterns:{}", registry.pattern_count());
    field(out, "pubsubshard_channels:{}", registry.shard_channel_count());
    field(out, "pubsub_messages_published:{}", stats.pubsub_messages_published);
    field(out, "client_output_buffer_limit_disconnections:{}",
          stats.output_buffer_limit_disconnections);
}

void replication_section(Server& server, std::string& out) {
    field(out, "role:master");
    field(out, "connected_slaves:0");
    field(out, "master_failover_state:no-failover");
    field(out, "master_replid:{}", server.run_id());
    field(out, "master_replid2:0000000000000000000000000000000000000000");
    field(out, "master_repl_offset:0");
    field(out, "second_repl_offset:-1");
    field(out, "repl_backlog_active:0");
    field(out, "repl_backlog_size:1048576");
    field(out, "repl_backlog_first_byte_offset:0");
    field(out, "repl_backlog_histlen:0");
}

void cpu_section(Server&, std::string& out) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    field(out, "used_cpu_sys:{:.6f}", seconds(usage.ru_stime));
    field(out, "used_cpu_user:{:.6f}", seconds(usage.ru_utime));
    field(out, "used_cpu_sys_children:0.000000");
    field(out, "used_cpu_user_children:0.000000");
}

void empty_section(Server&, std::string&) {}

/// `db0:keys=1,expires=0,avg_ttl=0` for every database holding keys.
void keyspace_section(Server& server, std::string& out) {
    const int64_t now = unix_time_ms();
    for (const auto& [index, db] : server.keyspace().used_databases()) {
        if (db.size() == 0) continue;
        field(out, "db{}:keys={},expires={},avg_ttl={}", index, db.size(), db.expires(),
              db.average_ttl(now));
    }
}

void cluster_section(Server&, std::string& out) { field(out, "cluster_enabled:0"); }

struct SectionSpec {
    std::string_view name;
    std::string_view title;
    Section write;
    bool in_default;
};

constexpr SectionSpec sections[] = {
    {"server", "Server", server_section, true},
    {"clients", "Clients", clients_section, true},
    {"memory", "Memory", memory_section, true},
    {"persistence", "Persistence", persistence_section, true},
    {"stats", "Stats", stats_section, true},
    {"replication", "Replication", replication_section, true},
    {"cpu", "CPU", cpu_section, true},
    {"modules", "Modules", empty_section, true},
    {"errorstats", "Errorstats", empty_section, true},
    {"cluster", "Cluster", cluster_section, true},
    {"keyspace", "Keyspace", keyspace_section, true},
};

bool named(std::string_view word, std::string_view name) {
    return word.size() == name.size() && strncasecmp(word.data(), name.data(), name.size()) == 0;
}

}  // namespace

/// INFO [section ...]: the named sections, or the default ones for none, "default", "all" or
/// "everything". Unknown section names add nothing. A bulk string (verbatim text in RESP3).
void info(CommandContext& context) {
    const auto args = context.args.subspan(1);
    const bool defaults =
        args.empty() || std::any_of(args.begin(), args.end(), [](auto word) {
            return named(word, "default") || named(word, "all") || named(word, "everything");
        });
    std::string text;
    for (const SectionSpec& section : sections) {
        const bool wanted = (defaults && section.in_default) ||
                            std::any_of(args.begin(), args.end(),
                                        [&](auto word) { return named(word, section.name); });
        if (!wanted) continue;
        if (!text.empty()) text += "\r\n";
        text += fmt::format("# {}\r\n", section.title);
        section.write(context.server, text);
    }
    context.reply.verbatim(text);
}

}  // namespace backplane::commands
