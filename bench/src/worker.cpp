#include "worker.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "clock.hpp"

namespace bench {
namespace {

/// Longest sleep in epoll; bounds how late a worker notices a phase change.
constexpr int64_t kMaxWaitNs = 2'000'000;

/// epoll_pwait2 takes a nanosecond timeout, which fixed-rate publishing needs to send on time.
/// Where it is missing (kernels before 5.11, or under valgrind 3.19) this falls back to
/// epoll_wait, rounding the timeout up to whole milliseconds.
int wait_for_events(int epoll_fd, std::vector<epoll_event>& events, int64_t timeout_ns) {
    static std::atomic<bool> have_pwait2{true};
    const int max_events = static_cast<int>(events.size());
    if (have_pwait2.load(std::memory_order_relaxed)) {
        const timespec timeout{0, static_cast<long>(timeout_ns)};
        const int n = epoll_pwait2(epoll_fd, events.data(), max_events, &timeout, nullptr);
        if (n >= 0 || errno != ENOSYS) return n;
        have_pwait2.store(false, std::memory_order_relaxed);
    }
    const auto timeout_ms = static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    return epoll_wait(epoll_fd, events.data(), max_events, timeout_ms);
}

}  // namespace

Worker::Worker(Control& control)
    : control_(control), epoll_fd_(epoll_create1(EPOLL_CLOEXEC)), next_deadline_(Control::kNever) {
    if (epoll_fd_ < 0) throw std::runtime_error(std::strerror(errno));
}

Worker::~Worker() {
    join();
    close(epoll_fd_);
}

void Worker::add(std::unique_ptr<Endpoint> endpoint) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = endpoints_.size();
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, endpoint->fd(), &ev) != 0) {
        throw std::runtime_error(std::strerror(errno));
    }
    if (endpoint->wants_ticks()) ticked_.push_back(endpoints_.size());
    endpoints_.push_back(std::move(endpoint));
    polling_write_.push_back(false);
}

void Worker::start() {
    thread_ = std::thread([this] { run(); });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::update_interest(size_t index) {
    Endpoint& endpoint = *endpoints_[index];
    if (endpoint.closed()) return;  // close() already removed it from the epoll set
    const bool want = endpoint.wants_write();
    if (polling_write_[index] == want) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = index;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, endpoint.fd(), &ev);
    polling_write_[index] = want;
}

void Worker::tick_all(Tick& tick) {
    next_deadline_ = Control::kNever;
    for (size_t index : ticked_) {
        Endpoint& e = *endpoints_[index];
        e.on_tick(tick);
        update_interest(index);
        next_deadline_ = std::min(next_deadline_, e.next_deadline());
    }
}

void Worker::run() {
    std::vector<epoll_event> events(512);
    Phase last_phase = Phase::kSetup;
    while (true) {
        const Phase phase = control_.phase.load(std::memory_order_acquire);
        if (phase == Phase::kStop) break;
        Tick tick{now_ns(),
                  phase,
                  control_.measure_start.load(std::memory_order_relaxed),
                  control_.measure_end.load(std::memory_order_relaxed),
                  stats_,
                  control_};
        if (phase != last_phase || tick.now >= next_deadline_) {
            last_phase = phase;
            tick_all(tick);
        }
        const int64_t wait = std::clamp(next_deadline_ - tick.now, int64_t{0}, kMaxWaitNs);
        const int n = wait_for_events(epoll_fd_, events, wait);
        idle_ns_ += now_ns() - tick.now;
        tick.now = now_ns();
        for (int i = 0; i < n; ++i) {
            const size_t index = events[i].data.u64;
            Endpoint& e = *endpoints_[index];
            if (e.closed()) continue;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) e.on_readable(tick);
            if (!e.closed() && (events[i].events & EPOLLOUT)) e.on_writable(tick);
            update_interest(index);
            if (e.wants_ticks()) next_deadline_ = std::min(next_deadline_, e.next_deadline());
        }
        progress_.published.store(stats_.published, std::memory_order_relaxed);
        progress_.delivered.store(stats_.delivered, std::memory_order_relaxed);
        progress_.delivered_all.store(stats_.delivered_all, std::memory_order_relaxed);
        progress_.idle_ns.store(idle_ns_, std::memory_order_relaxed);
    }
}

}  // namespace bench
