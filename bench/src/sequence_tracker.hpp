#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bench {

struct Anomalies {
    uint64_t lost = 0;
    uint64_t duplicated = 0;
    uint64_t reordered = 0;

    uint64_t total() const { return lost + duplicated + reordered; }
    Anomalies& operator+=(const Anomalies& o) {
        lost += o.lost;
        duplicated += o.duplicated;
        reordered += o.reordered;
        return *this;
    }
};

/// Checks the sequence numbers one subscriber sees on each (publisher, channel) stream.
/// Publishers number every stream 0, 1, 2, ... so a gap is a loss, a number seen twice a
/// duplicate and a late number a reordering. A 64-bit window of recently seen numbers tells
/// a late message (which un-counts the loss its gap recorded) from a duplicate.
class SequenceTracker {
  public:
    explicit SequenceTracker(size_t streams) : streams_(streams) {}

    void record(size_t stream, uint64_t seq);
    /// Adds the tail losses: messages published on a stream after the last one that arrived.
    /// `published[s]` is how many messages were published on stream s.
    void finish(std::span<const uint64_t> published);
    const Anomalies& anomalies() const { return anomalies_; }

  private:
    struct Stream {
        uint64_t next = 0;
        uint64_t window = 0;  ///< bit i set = seq (next - 1 - i) arrived
    };
    std::vector<Stream> streams_;
    Anomalies anomalies_;
};

}  // namespace bench
