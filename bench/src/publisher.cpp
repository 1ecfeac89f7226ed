#include "publisher.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace bench {

Publisher::Publisher(int fd, const PublisherConfig& config, const PublishEncoder& encoder)
    : Endpoint(fd, 64 * 1024, static_cast<size_t>(config.pipeline) * encoder.max_command_size()),
      config_(config),
      encoder_(encoder),
      sequence_(static_cast<size_t>(config.channels)),
      next_channel_(config.id % config.channels),
      quota_left_(config.quota) {}

void Publisher::on_readable(Tick& tick) {
    read_replies(tick, [&](const RespReply& reply) {
        --in_flight_;
        if (reply.value.type == '-') {
            ++tick.stats.publish_errors;
            tick.stats.note_error(fmt::format("PUBLISH failed: {}", reply.value.str));
        } else if (reply.value.type != ':') {
            ++tick.stats.publish_errors;
            tick.stats.note_error("PUBLISH got a reply that is not an integer");
        }
    });
    if (!closed()) pump(tick);
}

void Publisher::on_tick(Tick& tick) {
    if (next_send_ == 0) next_send_ = tick.now + config_.start_offset;
    pump(tick);
}

int64_t Publisher::next_deadline() const {
    const bool can_send = !finished_ && !closed() && in_flight_ < config_.pipeline;
    return config_.interval_ns > 0 && can_send ? next_send_ : Endpoint::next_deadline();
}

void Publisher::pump(Tick& tick) {
    if (tick.phase >= Phase::kDrain) finish(tick);
    if (tick.phase == Phase::kRun && !finished_) {
        while (in_flight_ < config_.pipeline) {
            const int64_t send_ns = config_.interval_ns > 0 ? next_send_ : tick.now;
            if (send_ns > tick.now) break;
            const auto channel = static_cast<uint32_t>(next_channel_);
            const PayloadHeader header{kPayloadMagic,
                                       static_cast<uint32_t>(config_.id),
                                       channel,
                                       static_cast<uint32_t>(config_.payload_size),
                                       sequence_[channel]++,
                                       send_ns};
            commit(encoder_.encode(reserve(encoder_.max_command_size()), header));
            ++in_flight_;
            next_channel_ = next_channel_ + 1 == config_.channels ? 0 : next_channel_ + 1;
            next_send_ += config_.interval_ns;
            if (tick.in_window(send_ns)) {
                ++tick.stats.published;
                if (quota_left_ > 0 && --quota_left_ == 0) {
                    finish(tick);
                    break;
                }
            }
        }
        flush(tick);
    }
    drain_check(tick);
}

void Publisher::finish(Tick& tick) {
    if (finished_) return;
    finished_ = true;
    tick.control.publishers_finished.fetch_add(1, std::memory_order_relaxed);
}

void Publisher::drain_check(Tick& tick) {
    const bool idle = closed() || (in_flight_ == 0 && !wants_write());
    if (drained_ || tick.phase < Phase::kDrain || !idle) return;
    drained_ = true;
    // Release: the main thread reads sequence_ after seeing every publisher drained.
    tick.control.publishers_drained.fetch_add(1, std::memory_order_release);
}

void Publisher::on_closed(Tick& tick) {
    finish(tick);
    drain_check(tick);
}

}  // namespace bench
