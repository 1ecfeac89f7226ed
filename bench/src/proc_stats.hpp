#pragma once

#include <cstdint>
#include <optional>

namespace bench {

/// CPU time (user + system) this process used so far, from getrusage.
int64_t self_cpu_ns();

/// utime + stime of process `pid` from /proc/PID/stat (clock-tick resolution, usually 10 ms,
/// but it includes threads that already exited, unlike per-thread schedstat).
std::optional<int64_t> process_cpu_ns(int pid);

/// Resident set size of process `pid` from the VmRSS line of /proc/PID/status.
std::optional<int64_t> process_rss_bytes(int pid);

/// Default --threads: the CPUs this process may run on that `server_pid` (when non-zero) is
/// not pinned to, so generator and server do not compete for a core; at least 1.
int default_thread_count(int server_pid);

/// Raises the soft open-file limit to the hard limit (idle mode opens thousands of sockets).
void raise_fd_limit();

}  // namespace bench
