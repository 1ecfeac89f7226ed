#include "report.hpp"

#include <fmt/core.h>

#include <string>

namespace bench {
namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9};
constexpr const char* kPercentileNames[] = {"p50", "p90", "p99", "p99_9"};

double per_second(uint64_t count, const Results& r) {
    return r.seconds > 0 ? static_cast<double>(count) / r.seconds : 0;
}

double micros(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

/// Server CPU per delivered message, or per publish when nothing was delivered (publish-only).
std::optional<double> server_ns_per_message(const Results& r) {
    const uint64_t messages = r.delivered > 0 ? r.delivered : r.published;
    if (!r.server_cpu_seconds || messages == 0) return std::nullopt;
    return *r.server_cpu_seconds * 1e9 / static_cast<double>(messages);
}

std::optional<double> idle_bytes_per_connection(const Options& o, const Results& r) {
    if (!r.rss_before_idle || !r.rss_after_idle || o.idle_connections == 0) return std::nullopt;
    return static_cast<double>(*r.rss_after_idle - *r.rss_before_idle) / o.idle_connections;
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", c);
        } else {
            out += c;
        }
    }
    return out + "\"";
}

template <typename T>
std::string json_optional(const std::optional<T>& value) {
    return value ? fmt::format("{}", *value) : "null";
}

std::string describe(const Options& o, const Results& r) {
    const std::string rate = o.rate > 0 ? fmt::format("{:.0f} msg/s", o.rate) : "flat out";
    return fmt::format(
        "{} publishers, {} subscribers ({} channels each), {} pattern subscribers, {} channels, "
        "{} B, pipeline {}, {}, {:.2f} s measured, {} thread(s)",
        o.publishers, o.subscribers, o.channels_per_subscriber, o.pattern_subscribers, o.channels,
        o.payload_size, o.pipeline, rate, r.seconds, r.threads);
}

}  // namespace

void print_text(const Options& o, const Results& r) {
    fmt::print("{}\n", describe(o, r));
    fmt::print("published   {:>12.0f} msg/s\n", per_second(r.published, r));
    fmt::print("delivered   {:>12.0f} msg/s  {:.1f} MB/s payload\n", per_second(r.delivered, r),
               per_second(r.delivered_bytes, r) / 1e6);
    if (r.latency.count() > 0) {
        fmt::print("latency us  ");
        for (size_t i = 0; i < std::size(kPercentiles); ++i) {
            fmt::print(" {} {:.1f}", kPercentileNames[i],
                       micros(r.latency.percentile(kPercentiles[i])));
        }
        fmt::print("  max {:.1f}  ({})\n", micros(r.latency.max()),
                   o.rate > 0 ? "from intended send time" : "flat out: from actual send time");
    }
    fmt::print(
        "anomalies   lost {} duplicated {} reordered {} corrupt {} publish errors {}"
        "  ({} of {} subscribers affected, {} cut off)\n",
        r.anomalies.lost, r.anomalies.duplicated, r.anomalies.reordered, r.corrupt,
        r.publish_errors, r.affected.size(), r.subscribers, r.cut_off);
    if (o.churn_clients > 0) {
        fmt::print("churn       {:.1f} subscribe+unsubscribe cycles/s of {} channels\n",
                   per_second(r.churn_cycles, r), o.churn_channels);
    }
    fmt::print("generator   {:.2f} CPU s, {:.0f}% of {} thread(s), busy {:.0f}%{}\n",
               r.generator_cpu_seconds, 100 * r.generator_utilization(), r.threads,
               100 * r.generator_busy,
               r.generator_bound ? "  GENERATOR-BOUND: the server may be faster than shown" : "");
    if (r.server_cpu_seconds) {
        fmt::print("server      {:.2f} CPU s, {:.0f} ns per {}\n", *r.server_cpu_seconds,
                   server_ns_per_message(r).value_or(0),
                   r.delivered > 0 ? "delivered message" : "publish");
    }
    if (const auto per_connection = idle_bytes_per_connection(o, r)) {
        fmt::print("idle        {} connections: server RSS {:.1f} MB -> {:.1f} MB, {:.0f} B each\n",
                   o.idle_connections, static_cast<double>(*r.rss_before_idle) / 1e6,
                   static_cast<double>(*r.rss_after_idle) / 1e6, *per_connection);
    }
    if (!r.error.empty()) fmt::print("first error: {}\n", r.error);
}

void print_json(const Options& o, const Results& r) {
    std::string latency;
    for (size_t i = 0; i < std::size(kPercentiles); ++i) {
        latency += fmt::format("\"{}\":{:.3f},", kPercentileNames[i],
                               micros(r.latency.percentile(kPercentiles[i])));
    }
    latency +=
        fmt::format("\"max\":{:.3f},\"count\":{}", micros(r.latency.max()), r.latency.count());
    std::string affected;
    for (const SubscriberAnomalies& a : r.affected) {
        if (!affected.empty()) affected += ',';
        affected += fmt::format(R"({{"subscriber":{},"lost":{},"duplicated":{},"reordered":{}}})",
                                a.subscriber, a.anomalies.lost, a.anomalies.duplicated,
                                a.anomalies.reordered);
    }
    fmt::print(
        R"({{"config":{{"publishers":{},"subscribers":{},"channels":{},"channels_per_subscriber":{},)"
        R"("pattern_subscribers":{},"patterns_per_subscriber":{},"payload":{},"pipeline":{},)"
        R"("rate":{},"idle":{},"churn_clients":{},"churn_channels":{},"threads":{}}},)"
        R"("seconds":{:.6f},"published":{},"delivered":{},"published_per_sec":{:.1f},)"
        R"("delivered_per_sec":{:.1f},"delivered_mb_per_sec":{:.3f},)"
        R"("latency_us":{{{}}},"latency_corrected":{},)"
        R"("lost":{},"duplicated":{},"reordered":{},"corrupt":{},"publish_errors":{},)"
        R"("subscribers":{},"cut_off":{},"affected":[{}],"churn_cycles_per_sec":{:.2f},)"
        R"("generator_cpu_s":{:.4f},"generator_utilization":{:.4f},"generator_busy":{:.4f},)"
        R"("generator_bound":{},)"
        R"("server_cpu_s":{},"server_cpu_ns_per_message":{},"server_rss_bytes":{},)"
        R"("idle_rss_before":{},"idle_rss_after":{},"idle_bytes_per_connection":{},)"
        R"("passed":{},"error":{}}})"
        "\n",
        o.publishers, o.subscribers, o.channels, o.channels_per_subscriber, o.pattern_subscribers,
        o.patterns_per_subscriber, o.payload_size, o.pipeline, o.rate, o.idle_connections,
        o.churn_clients, o.churn_channels, r.threads, r.seconds, r.published, r.delivered,
        per_second(r.published, r), per_second(r.delivered, r),
        per_second(r.delivered_bytes, r) / 1e6, latency, o.rate > 0, r.anomalies.lost,
        r.anomalies.duplicated, r.anomalies.reordered, r.corrupt, r.publish_errors, r.subscribers,
        r.cut_off, affected, per_second(r.churn_cycles, r), r.generator_cpu_seconds,
        r.generator_utilization(), r.generator_busy, r.generator_bound,
        json_optional(r.server_cpu_seconds), json_optional(server_ns_per_message(r)),
        json_optional(r.server_rss_end), json_optional(r.rss_before_idle),
        json_optional(r.rss_after_idle), json_optional(idle_bytes_per_connection(o, r)), r.passed(),
        json_string(r.error));
}

}  // namespace bench
