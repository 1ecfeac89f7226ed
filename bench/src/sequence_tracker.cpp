#include "sequence_tracker.hpp"

namespace bench {

void SequenceTracker::record(size_t stream, uint64_t seq) {
    Stream& s = streams_[stream];
    if (seq >= s.next) {
        const uint64_t gap = seq - s.next;
        anomalies_.lost += gap;
        s.window = (gap + 1 >= 64 ? 0 : s.window << (gap + 1)) | 1;
        s.next = seq + 1;
        return;
    }
    const uint64_t age = s.next - 1 - seq;
    if (age >= 64) {
        // Too old to tell apart from a duplicate; its loss stays counted, so nothing is hidden.
        ++anomalies_.reordered;
        return;
    }
    const uint64_t bit = uint64_t{1} << age;
    if (s.window & bit) {
        ++anomalies_.duplicated;
    } else {
        s.window |= bit;
        ++anomalies_.reordered;
        --anomalies_.lost;
    }
}

void SequenceTracker::finish(std::span<const uint64_t> published) {
    for (size_t i = 0; i < streams_.size(); ++i) {
        if (published[i] > streams_[i].next) anomalies_.lost += published[i] - streams_[i].next;
    }
}

}  // namespace bench
