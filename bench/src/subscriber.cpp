#include "subscriber.hpp"

#include <algorithm>

#include "clock.hpp"
#include "payload.hpp"
#include "publisher.hpp"

namespace bench {
namespace {

size_t read_buffer_size(int payload_size) {
    return std::max<size_t>(256 * 1024, 8 * static_cast<size_t>(payload_size));
}

}  // namespace

Subscriber::Subscriber(int fd, const SubscriberConfig& config)
    : Endpoint(fd, read_buffer_size(config.payload_size), 0),
      config_(config),
      tracker_(static_cast<size_t>(config.publishers) * static_cast<size_t>(config.channel_count)) {
}

void Subscriber::on_readable(Tick& tick) {
    int64_t arrival = 0;
    read_replies(tick, [&](const RespReply& reply) {
        if (arrival == 0) arrival = now_ns();
        const std::string_view kind = reply.size > 0 ? reply.items[0].str : std::string_view();
        if (kind == "message" && reply.size == 3) {
            on_message(tick, reply.items[2].str, arrival);
        } else if (kind == "pmessage" && reply.size == 4) {
            on_message(tick, reply.items[3].str, arrival);
        } else {
            ++tick.stats.corrupt;
            tick.stats.note_error("subscriber got a reply that is not a message");
        }
    });
}

void Subscriber::on_message(Tick& tick, std::string_view payload, int64_t arrival) {
    PayloadHeader h;
    if (!decode_payload(payload, config_.payload_size, h) ||
        h.publisher >= static_cast<uint32_t>(config_.publishers) ||
        h.channel >= static_cast<uint32_t>(config_.channels)) {
        ++tick.stats.corrupt;
        tick.stats.note_error("subscriber got a payload this generator did not send");
        return;
    }
    const int slot =
        (static_cast<int>(h.channel) - config_.first_channel + config_.channels) % config_.channels;
    if (slot >= config_.channel_count) {
        ++tick.stats.corrupt;
        tick.stats.note_error("subscriber got a message for a channel it did not subscribe to");
        return;
    }
    tracker_.record(static_cast<size_t>(h.publisher) * config_.channel_count + slot, h.seq);
    ++tick.stats.delivered_all;
    if (tick.in_window(arrival)) {
        ++tick.stats.delivered;
        tick.stats.delivered_bytes += payload.size();
    }
    if (tick.in_window(h.send_ns)) tick.stats.latency.record(arrival - h.send_ns);
}

void Subscriber::on_closed(Tick& tick) { cut_off_ = tick.phase != Phase::kStop; }

uint64_t Subscriber::expected(const std::vector<Publisher*>& publishers) const {
    uint64_t total = 0;
    for (const Publisher* p : publishers) {
        for (int slot = 0; slot < config_.channel_count; ++slot) {
            total += p->published_per_channel()[(config_.first_channel + slot) % config_.channels];
        }
    }
    return total;
}

void Subscriber::finish(const std::vector<Publisher*>& publishers) {
    std::vector<uint64_t> published;
    published.reserve(publishers.size() * static_cast<size_t>(config_.channel_count));
    for (const Publisher* p : publishers) {
        for (int slot = 0; slot < config_.channel_count; ++slot) {
            published.push_back(
                p->published_per_channel()[(config_.first_channel + slot) % config_.channels]);
        }
    }
    tracker_.finish(published);
}

}  // namespace bench
