#include "churner.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace bench {

Churner::Churner(int fd, std::string_view subscribe, std::string_view unsubscribe, int channels)
    : Endpoint(fd, 256 * 1024, std::max(subscribe.size(), unsubscribe.size())),
      subscribe_(subscribe),
      unsubscribe_(unsubscribe),
      channels_(channels) {}

void Churner::send(Tick& tick, std::string_view command) {
    pending_ = channels_;
    append(command);
    flush(tick);
}

void Churner::on_tick(Tick& tick) {
    if (tick.phase == Phase::kRun && !started_ && !closed()) {
        started_ = true;
        send(tick, subscribe_);
    }
}

void Churner::on_readable(Tick& tick) {
    read_replies(tick, [&](const RespReply& reply) {
        const std::string_view kind = reply.size > 0 ? reply.items[0].str : std::string_view();
        if (kind == "message" || kind == "pmessage") return;
        if (kind != "subscribe" && kind != "unsubscribe") {
            tick.stats.note_error(fmt::format("churn client got '{}'",
                                              reply.value.type == '-' ? reply.value.str : kind));
            return;
        }
        if (--pending_ > 0) return;
        if (kind == "subscribe") {
            send(tick, unsubscribe_);
        } else {
            ++tick.stats.churn_cycles;
            if (tick.phase == Phase::kRun) send(tick, subscribe_);
        }
    });
}

}  // namespace bench
