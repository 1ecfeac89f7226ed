#pragma once

#include <cstdint>
#include <ctime>

namespace bench {

/// CLOCK_MONOTONIC in nanoseconds. Payload timestamps use this clock, so latency is only
/// meaningful when publisher and subscriber run on the same host (they run in one process).
inline int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace bench
