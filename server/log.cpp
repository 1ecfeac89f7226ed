#include "server/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace backplane::log {
namespace {

std::atomic<LogLevel> current_level{LogLevel::notice};
std::mutex output_mutex;
FILE* output = stdout;

}  // namespace

void open(const std::string& path) {
    std::lock_guard lock(output_mutex);
    if (path.empty()) {
        output = stdout;
        return;
    }
    if (FILE* file = std::fopen(path.c_str(), "a")) output = file;
}

void set_level(LogLevel level) { current_level = level; }

bool enabled(LogLevel level) { return level >= current_level.load(std::memory_order_relaxed); }

void write(LogLevel level, std::string_view message) {
    static constexpr char marks[] = {'.', '-', '*', '#'};
    timeval now{};
    gettimeofday(&now, nullptr);
    tm local{};
    localtime_r(&now.tv_sec, &local);
    char stamp[64];
    const size_t length = std::strftime(stamp, sizeof stamp, "%d %b %Y %H:%M:%S", &local);
    std::lock_guard lock(output_mutex);
    fmt::print(output, "{}:M {}.{:03} {} {}\n", getpid(), std::string_view(stamp, length),
               now.tv_usec / 1000, marks[static_cast<int>(level)], message);
    std::fflush(output);
}

}  // namespace backplane::log
