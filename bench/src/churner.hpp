#pragma once

#include <string>
#include <string_view>

#include "endpoint.hpp"

namespace bench {

/// A client that SUBSCRIBEs to a block of channels, waits for every confirmation, then
/// UNSUBSCRIBEs from them, over and over while publishing runs. The channels are the published
/// ones, so the server keeps changing the very subscriber sets its deliveries walk; the
/// messages the churn client receives meanwhile are read and dropped.
class Churner : public Endpoint {
  public:
    /// `subscribe` and `unsubscribe` are the prebuilt commands, shared by all churn clients.
    Churner(int fd, std::string_view subscribe, std::string_view unsubscribe, int channels);

    void on_readable(Tick& tick) override;
    bool wants_ticks() const override { return true; }
    void on_tick(Tick& tick) override;

  private:
    void send(Tick& tick, std::string_view command);

    std::string_view subscribe_;
    std::string_view unsubscribe_;
    int channels_;
    int pending_ = 0;  ///< confirmations still expected for the command in flight
    bool started_ = false;
};

}  // namespace bench
