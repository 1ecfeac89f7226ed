#include "proc_stats.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace bench {

int64_t self_cpu_ns() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto ns = [](const timeval& tv) {
        return int64_t{tv.tv_sec} * 1'000'000'000 + int64_t{tv.tv_usec} * 1000;
    };
    return ns(usage.ru_utime) + ns(usage.ru_stime);
}

std::optional<int64_t> process_cpu_ns(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    // Field 2 (comm) may contain spaces; the fields after its closing parenthesis start at
    // field 3 (state), so utime and stime (fields 14 and 15) are the 12th and 13th after it.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string skip;
    for (int i = 0; i < 11; ++i) fields >> skip;
    int64_t utime = 0;
    int64_t stime = 0;
    if (!(fields >> utime >> stime)) return std::nullopt;
    return (utime + stime) * (1'000'000'000 / sysconf(_SC_CLK_TCK));
}

std::optional<int64_t> process_rss_bytes(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6)) * 1024;  // in kB
    }
    return std::nullopt;
}

int default_thread_count(int server_pid) {
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) return 1;
    cpu_set_t server;
    if (server_pid != 0 && sched_getaffinity(server_pid, sizeof server, &server) == 0) {
        CPU_XOR(&server, &server, &mine);  // CPUs in exactly one of the two sets...
        CPU_AND(&mine, &mine, &server);    // ...that are mine: mine minus the server's
    }
    return std::max(1, CPU_COUNT(&mine));
}

void raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace bench
