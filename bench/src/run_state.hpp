#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

#include "histogram.hpp"

namespace bench {

/// Run phases, advanced only by the main thread. Publishers send during kRun; during kDrain
/// they only collect outstanding replies while subscribers receive what is still in flight.
enum class Phase { kSetup, kRun, kDrain, kStop };

/// State shared between the main thread and the workers. Only these fields cross threads
/// while messages flow; everything per message stays in the worker that owns the connection.
struct Control {
    static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

    std::atomic<Phase> phase{Phase::kSetup};
    /// Measurement window, CLOCK_MONOTONIC ns. Publishes whose send time and deliveries whose
    /// arrival time fall inside it are counted; latency is recorded for messages sent inside.
    std::atomic<int64_t> measure_start{kNever};
    std::atomic<int64_t> measure_end{kNever};
    std::atomic<int> publishers_finished{0};  ///< stopped sending (share used up, or kDrain)
    std::atomic<int> publishers_drained{0};   ///< stopped and got every reply back
};

/// Per-worker counters, written by one thread only and summed after the workers stopped.
struct WorkerStats {
    Histogram latency;
    uint64_t published = 0;        ///< sent inside the window
    uint64_t delivered = 0;        ///< arrived at a checked subscriber inside the window
    uint64_t delivered_bytes = 0;  ///< payload bytes of `delivered`
    uint64_t delivered_all = 0;    ///< every valid arrival at a checked subscriber
    uint64_t publish_errors = 0;   ///< error replies to PUBLISH
    uint64_t corrupt = 0;          ///< unexpected or undecodable messages
    uint64_t churn_cycles = 0;     ///< completed SUBSCRIBE + UNSUBSCRIBE rounds
    std::string first_error;

    void note_error(std::string_view error) {
        if (first_error.empty()) first_error = error;
    }
};

/// Snapshot of a worker's counters for the once-a-second progress line and the drain wait;
/// the worker stores it once per event-loop iteration, not once per message.
struct WorkerProgress {
    std::atomic<uint64_t> published{0};
    std::atomic<uint64_t> delivered{0};
    std::atomic<uint64_t> delivered_all{0};
    /// Time spent blocked in epoll: a worker that is never idle is what limits the run.
    std::atomic<int64_t> idle_ns{0};
};

/// What an endpoint sees when the worker calls it.
struct Tick {
    int64_t now;
    Phase phase;
    int64_t measure_start;
    int64_t measure_end;
    WorkerStats& stats;
    Control& control;

    bool in_window(int64_t t) const { return t >= measure_start && t < measure_end; }
};

}  // namespace bench
