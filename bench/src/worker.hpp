#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "endpoint.hpp"
#include "run_state.hpp"

namespace bench {

/// One generator thread: an epoll loop over the connections assigned to it. Connections never
/// move between workers and each worker has its own counters and histogram, so nothing on the
/// per-message path is shared between threads.
class Worker {
  public:
    explicit Worker(Control& control);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Hands over a connected, non-blocking endpoint; call before start().
    void add(std::unique_ptr<Endpoint> endpoint);
    void start();
    /// Returns once the main thread set Phase::kStop and the loop noticed.
    void join();

    const WorkerProgress& progress() const { return progress_; }
    /// Read only after join().
    const WorkerStats& stats() const { return stats_; }

  private:
    void run();
    void tick_all(Tick& tick);
    void update_interest(size_t index);

    Control& control_;
    int epoll_fd_;
    std::vector<std::unique_ptr<Endpoint>> endpoints_;
    std::vector<size_t> ticked_;       ///< indexes of the endpoints with wants_ticks()
    std::vector<bool> polling_write_;  ///< per endpoint: registered for EPOLLOUT
    int64_t next_deadline_;
    int64_t idle_ns_ = 0;
    WorkerStats stats_;
    WorkerProgress progress_;
    std::thread thread_;
};

}  // namespace bench
