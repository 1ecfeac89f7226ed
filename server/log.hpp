#pragma once
// Log lines in redis-server's format: `<pid>:M 28 Nov 2026 12:00:00.123 * message`, where the
// mark is `.` debug, `-` verbose, `*` notice, `#` warning.

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "server/config.hpp"

namespace backplane::log {

/// Sends log lines to `path` (appending), or to standard output when it is empty.
void open(const std::string& path);
void set_level(LogLevel level);
bool enabled(LogLevel level);
void write(LogLevel level, std::string_view message);

template <typename... Args>
void at(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (enabled(level)) write(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace backplane::log
