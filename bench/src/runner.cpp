#include "runner.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "churner.hpp"
#include "clock.hpp"
#include "payload.hpp"
#include "proc_stats.hpp"
#include "publisher.hpp"
#include "server_connection.hpp"
#include "subscriber.hpp"
#include "tls.hpp"
#include "worker.hpp"

namespace bench {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

void sleep_ns(int64_t ns) {
    if (ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
}

/// Owns the workers and the connections' bookkeeping for one run. Connections are dealt to the
/// workers round-robin in the order they are opened.
class Run {
  public:
    explicit Run(const Options& options);
    ~Run();
    Results execute();

  private:
    Worker& next_worker() { return *workers_[next_++ % workers_.size()]; }
    int open_subscribed(const std::vector<std::string>& subscribe_command,
                        std::string_view confirmation, size_t confirmations);
    void add_publishers();
    void add_subscribers();
    void add_churners();
    void open_idle_connections(Results& results);
    void measure(int64_t start, Results& results);
    void drain();
    template <typename T>
    T sum_progress(std::atomic<T> WorkerProgress::*field) const;
    void print_progress(int64_t elapsed, uint64_t published, uint64_t delivered) const;
    void collect(Results& results);

    const Options& o_;
    Control control_;
    PublishEncoder encoder_;
    std::vector<std::unique_ptr<Worker>> workers_;
    size_t next_ = 0;
    std::vector<Publisher*> publishers_;
    std::vector<Subscriber*> subscribers_;
    std::string churn_subscribe_;
    std::string churn_unsubscribe_;
    std::vector<int> idle_fds_;
};

Run::Run(const Options& options) : o_(options), encoder_(options.channels, options.payload_size) {
    const int threads = o_.threads > 0 ? o_.threads : default_thread_count(o_.server_pid);
    for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(control_));
}

Run::~Run() {
    control_.phase.store(Phase::kStop, std::memory_order_release);
    for (auto& w : workers_) w->join();
    for (int fd : idle_fds_) {
        tls::detach(fd);
        close(fd);
    }
}

int Run::open_subscribed(const std::vector<std::string>& subscribe_command,
                         std::string_view confirmation, size_t confirmations) {
    const int fd = open_connection(o_);
    if (!subscribe_command.empty()) {
        send_all(fd, resp_command(subscribe_command));
        expect_replies(fd, confirmations, confirmation);
    }
    return fd;
}

void Run::add_publishers() {
    const int64_t interval =
        o_.rate > 0 ? static_cast<int64_t>(kSecond * static_cast<double>(o_.publishers) / o_.rate)
                    : 0;
    for (int p = 0; p < o_.publishers; ++p) {
        const int64_t quota = o_.messages / o_.publishers + (p < o_.messages % o_.publishers);
        const PublisherConfig config{p,           o_.channels, o_.payload_size,
                                     o_.pipeline, interval,    interval * p / o_.publishers,
                                     quota};
        const int fd = open_connection(o_);
        set_nonblocking(fd);
        auto publisher = std::make_unique<Publisher>(fd, config, encoder_);
        publishers_.push_back(publisher.get());
        next_worker().add(std::move(publisher));
    }
}

void Run::add_subscribers() {
    const int k = o_.channels_per_subscriber;
    for (int i = 0; i < o_.subscribers + o_.pattern_subscribers; ++i) {
        const bool pattern = i >= o_.subscribers;
        SubscriberConfig config{i, 0, o_.channels, o_.channels, o_.publishers, o_.payload_size};
        std::vector<std::string> command;
        if (pattern) {
            // One pattern matches every published channel; the others make the server's pattern
            // matching work (a '*' followed by text no channel name contains) and never match.
            command = {"PSUBSCRIBE", "bench:ch:*"};
            for (int j = 1; j < o_.patterns_per_subscriber; ++j) {
                command.push_back(fmt::format("bench:ch:*:x{}.{}", i, j));
            }
        } else {
            config.first_channel = (i * k) % o_.channels;
            config.channel_count = k;
            command = {"SUBSCRIBE"};
            for (int j = 0; j < k; ++j) {
                command.push_back(channel_name((config.first_channel + j) % o_.channels));
            }
        }
        const int fd =
            open_subscribed(command, pattern ? "psubscribe" : "subscribe", command.size() - 1);
        set_nonblocking(fd);
        auto subscriber = std::make_unique<Subscriber>(fd, config);
        subscribers_.push_back(subscriber.get());
        next_worker().add(std::move(subscriber));
    }
}

void Run::add_churners() {
    if (o_.churn_clients == 0) return;
    std::vector<std::string> subscribe = {"SUBSCRIBE"};
    for (int j = 0; j < o_.churn_channels; ++j) subscribe.push_back(channel_name(j));
    churn_subscribe_ = resp_command(subscribe);
    subscribe[0] = "UNSUBSCRIBE";
    churn_unsubscribe_ = resp_command(subscribe);
    for (int i = 0; i < o_.churn_clients; ++i) {
        const int fd = open_connection(o_);
        set_nonblocking(fd);
        next_worker().add(
            std::make_unique<Churner>(fd, churn_subscribe_, churn_unsubscribe_, o_.churn_channels));
    }
}

void Run::open_idle_connections(Results& results) {
    if (o_.idle_connections == 0) return;
    if (o_.server_pid != 0) results.rss_before_idle = process_rss_bytes(o_.server_pid);
    idle_fds_.reserve(static_cast<size_t>(o_.idle_connections));
    for (int i = 0; i < o_.idle_connections; ++i) {
        idle_fds_.push_back(
            open_subscribed({"SUBSCRIBE", fmt::format("bench:idle:{}", i)}, "subscribe", 1));
    }
    if (o_.server_pid != 0) results.rss_after_idle = process_rss_bytes(o_.server_pid);
}

template <typename T>
T Run::sum_progress(std::atomic<T> WorkerProgress::*field) const {
    T total = 0;
    for (const auto& w : workers_) total += (w->progress().*field).load(std::memory_order_relaxed);
    return total;
}

void Run::print_progress(int64_t elapsed, uint64_t published, uint64_t delivered) const {
    fmt::print(stderr, "[{:>4}s] published {:>10} msg/s  delivered {:>10} msg/s\n",
               elapsed / kSecond, published, delivered);
}

/// Waits for the window to open at `start`, then until the duration elapsed or every publisher
/// used its --messages share, printing a progress line each second.
void Run::measure(int64_t start, Results& results) {
    sleep_ns(start - now_ns());
    const int64_t cpu_start = self_cpu_ns();
    const int64_t idle_start = sum_progress(&WorkerProgress::idle_ns);
    const auto server_cpu_start =
        o_.server_pid != 0 ? process_cpu_ns(o_.server_pid) : std::optional<int64_t>();

    const int64_t end =
        o_.messages > 0 ? Control::kNever : start + static_cast<int64_t>(o_.duration * kSecond);
    int64_t next_progress = start + kSecond;
    uint64_t last_published = 0;
    uint64_t last_delivered = 0;
    while (true) {
        const int64_t now = now_ns();
        if (now >= end) break;
        if (o_.messages > 0 && control_.publishers_finished.load() == o_.publishers) break;
        if (now >= next_progress) {
            const uint64_t published = sum_progress(&WorkerProgress::published);
            const uint64_t delivered = sum_progress(&WorkerProgress::delivered);
            if (o_.progress) {
                print_progress(now - start, published - last_published, delivered - last_delivered);
            }
            last_published = published;
            last_delivered = delivered;
            next_progress += kSecond;
        }
        sleep_ns(std::min({end, next_progress, now + 10'000'000}) - now);
    }

    const int64_t stop = now_ns();
    control_.measure_end.store(stop, std::memory_order_relaxed);
    control_.phase.store(Phase::kDrain, std::memory_order_release);
    results.seconds = static_cast<double>(stop - start) / kSecond;
    results.generator_cpu_seconds = static_cast<double>(self_cpu_ns() - cpu_start) / kSecond;
    const double idle = static_cast<double>(sum_progress(&WorkerProgress::idle_ns) - idle_start);
    if (stop > start) {
        results.generator_busy = 1 - idle / (static_cast<double>(stop - start) * workers_.size());
    }
    if (server_cpu_start) {
        if (const auto cpu_end = process_cpu_ns(o_.server_pid)) {
            results.server_cpu_seconds =
                static_cast<double>(*cpu_end - *server_cpu_start) / kSecond;
        }
    }
}

/// Waits for the publishers' last replies, then for the subscribers to receive everything that
/// was published, giving up once deliveries stall for a second (a subscriber was cut off, or
/// messages were lost: the sequence check reports which).
void Run::drain() {
    const int64_t deadline = now_ns() + 10 * kSecond;
    while (control_.publishers_drained.load(std::memory_order_acquire) < o_.publishers &&
           now_ns() < deadline) {
        sleep_ns(1'000'000);
    }
    if (control_.publishers_drained.load(std::memory_order_acquire) < o_.publishers) return;
    uint64_t expected = 0;
    for (const Subscriber* s : subscribers_) expected += s->expected(publishers_);
    uint64_t last = 0;
    int64_t last_change = now_ns();
    while (true) {
        const uint64_t delivered = sum_progress(&WorkerProgress::delivered_all);
        const int64_t now = now_ns();
        if (delivered >= expected || now - last_change > kSecond) return;
        if (delivered != last) {
            last = delivered;
            last_change = now;
        }
        sleep_ns(1'000'000);
    }
}

void Run::collect(Results& results) {
    results.threads = static_cast<int>(workers_.size());
    results.generator_bound =
        std::max(results.generator_utilization(), results.generator_busy) > 0.9;
    for (const auto& w : workers_) {
        const WorkerStats& s = w->stats();
        results.latency.merge(s.latency);
        results.published += s.published;
        results.delivered += s.delivered;
        results.delivered_bytes += s.delivered_bytes;
        results.corrupt += s.corrupt;
        results.publish_errors += s.publish_errors;
        results.churn_cycles += s.churn_cycles;
        if (results.error.empty()) results.error = s.first_error;
    }
    results.publishers = static_cast<int>(publishers_.size());
    results.subscribers = static_cast<int>(subscribers_.size());
    for (Subscriber* s : subscribers_) {
        if (s->cut_off()) {
            ++results.cut_off;
            continue;
        }
        s->finish(publishers_);
        results.anomalies += s->anomalies();
        if (s->anomalies().total() > 0) results.affected.push_back({s->index(), s->anomalies()});
    }
}

Results Run::execute() {
    Results results;
    add_publishers();
    add_subscribers();
    add_churners();
    open_idle_connections(results);

    // The window's start is fixed before publishing begins, so that without warm-up every
    // message counts and --messages N publishes exactly N.
    const int64_t start = now_ns() + static_cast<int64_t>(o_.warmup * kSecond);
    control_.measure_start.store(start, std::memory_order_relaxed);
    for (auto& w : workers_) w->start();
    control_.phase.store(Phase::kRun, std::memory_order_release);
    measure(start, results);
    drain();
    if (o_.server_pid != 0) results.server_rss_end = process_rss_bytes(o_.server_pid);
    control_.phase.store(Phase::kStop, std::memory_order_release);
    for (auto& w : workers_) w->join();
    collect(results);
    return results;
}

}  // namespace

Results run_benchmark(const Options& options) {
    raise_fd_limit();
    Run run(options);
    return run.execute();
}

}  // namespace bench
