#pragma once

#include <cstdint>
#include <vector>

#include "endpoint.hpp"
#include "sequence_tracker.hpp"

namespace bench {

class Publisher;

struct SubscriberConfig {
    int index;
    int first_channel;  ///< receives channels first_channel .. first_channel + channel_count - 1
    int channel_count;  ///< (modulo the channel count); a pattern subscriber receives them all
    int channels;
    int publishers;
    int payload_size;
};

/// A subscribed connection whose deliveries are checked: every message must decode, come from
/// a known publisher on a channel this connection holds, and continue its stream's sequence.
/// Latency is the arrival time (taken right after the read that brought the message) minus
/// the send time in the payload.
class Subscriber : public Endpoint {
  public:
    explicit Subscriber(int fd, const SubscriberConfig& config);

    void on_readable(Tick& tick) override;

    /// Adds the losses at the end of each stream; call after the publishers drained.
    void finish(const std::vector<Publisher*>& publishers);
    int index() const { return config_.index; }
    bool cut_off() const { return cut_off_; }
    const Anomalies& anomalies() const { return tracker_.anomalies(); }
    /// Messages the publishers sent to this subscriber's channels so far.
    uint64_t expected(const std::vector<Publisher*>& publishers) const;

  private:
    void on_message(Tick& tick, std::string_view payload, int64_t arrival);
    void on_closed(Tick& tick) override;

    SubscriberConfig config_;
    SequenceTracker tracker_;
    bool cut_off_ = false;
};

}  // namespace bench
