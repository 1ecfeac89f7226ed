#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "endpoint.hpp"
#include "payload.hpp"

namespace bench {

struct PublisherConfig {
    int id;
    int channels;
    int payload_size;
    int pipeline;          ///< PUBLISH commands in flight at most
    int64_t interval_ns;   ///< between intended sends at a fixed rate; 0 = flat out
    int64_t start_offset;  ///< delays this publisher's first intended send, to stagger them
    int64_t quota;         ///< measured publishes before stopping; 0 = until kDrain
};

/// One publishing connection. It cycles through the channels, numbering each
/// (publisher, channel) stream from 0, and keeps at most `pipeline` PUBLISH commands
/// unanswered: every `:N` reply frees a slot.
///
/// At a fixed rate each message carries its intended send time, not the time it was written.
/// When the server (or a full pipeline) holds the publisher back, the delay therefore shows up
/// in the measured latency instead of silently lowering the offered load: this is the
/// correction for coordinated omission.
class Publisher : public Endpoint {
  public:
    Publisher(int fd, const PublisherConfig& config, const PublishEncoder& encoder);

    void on_readable(Tick& tick) override;
    bool wants_ticks() const override { return true; }
    void on_tick(Tick& tick) override;
    int64_t next_deadline() const override;

    /// Messages published on each channel, i.e. the length of each stream. Read it only after
    /// the publisher reported itself drained.
    std::span<const uint64_t> published_per_channel() const { return sequence_; }

  private:
    void pump(Tick& tick);
    void finish(Tick& tick);
    void drain_check(Tick& tick);
    void on_closed(Tick& tick) override;

    PublisherConfig config_;
    const PublishEncoder& encoder_;
    std::vector<uint64_t> sequence_;  ///< next sequence number per channel
    int next_channel_;
    int in_flight_ = 0;
    int64_t next_send_ = 0;  ///< intended time of the next message at a fixed rate
    int64_t quota_left_;
    bool finished_ = false;  ///< sends no more: quota used up, run draining, or connection lost
    bool drained_ = false;
};

}  // namespace bench
