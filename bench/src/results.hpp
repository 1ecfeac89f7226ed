#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "sequence_tracker.hpp"

namespace bench {

struct SubscriberAnomalies {
    int subscriber;
    Anomalies anomalies;
};

/// Everything one run measured, ready for the text or JSON report.
struct Results {
    int threads = 0;
    double seconds = 0;  ///< length of the measurement window
    uint64_t published = 0;
    uint64_t delivered = 0;
    uint64_t delivered_bytes = 0;
    Histogram latency;

    /// Summed over the subscribers the server did not disconnect.
    Anomalies anomalies;
    std::vector<SubscriberAnomalies> affected;  ///< those subscribers with any anomaly
    int publishers = 0;
    int subscribers = 0;  ///< checked subscriber connections
    int cut_off = 0;      ///< subscribers the server disconnected (e.g. output buffer limit)
    uint64_t corrupt = 0;
    uint64_t publish_errors = 0;
    uint64_t churn_cycles = 0;
    std::string error;  ///< first error any connection saw

    double generator_cpu_seconds = 0;
    /// Share of the window the workers were not waiting in epoll. Unlike CPU time it includes
    /// the loopback network processing the kernel does in softirq, which no process is charged.
    double generator_busy = 0;
    /// CPU use or busy share above 90 % of the generator's threads: the server may be faster.
    bool generator_bound = false;

    std::optional<double> server_cpu_seconds;  ///< inside the measurement window
    std::optional<int64_t> server_rss_end;
    std::optional<int64_t> rss_before_idle;
    std::optional<int64_t> rss_after_idle;

    double generator_utilization() const {
        return seconds > 0 ? generator_cpu_seconds / (seconds * threads) : 0;
    }
    /// The checks the smoke test relies on: nothing lost, duplicated, reordered or corrupt, no
    /// PUBLISH errors, and messages arrived when there were publishers and subscribers.
    bool passed() const {
        return anomalies.total() == 0 && corrupt == 0 && publish_errors == 0 &&
               (publishers == 0 || subscribers == 0 || delivered > 0);
    }
};

}  // namespace bench
