#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace bench {

// Values below 2 * kSubCount map to themselves. Above that, a value whose highest set bit is m
// is shifted right by (m - kSubBits) so that it keeps kSubBits + 1 significant bits; the shift
// selects the octave and the remaining bits the linear sub-bucket inside it.
int Histogram::index_of(int64_t value) {
    const auto v = static_cast<uint64_t>(std::clamp<int64_t>(value, 0, kMaxValue));
    const int msb = 63 - std::countl_zero(v | 1);
    const int shift = std::max(0, msb - kSubBits);
    return shift * kSubCount + static_cast<int>(v >> shift);
}

int64_t Histogram::highest_equivalent(int index) {
    if (index < 2 * kSubCount) return index;
    const int shift = index / kSubCount - 1;
    const int64_t mantissa = index - shift * kSubCount;
    return ((mantissa + 1) << shift) - 1;
}

void Histogram::record(int64_t value) {
    ++counts_[index_of(value)];
    ++count_;
    max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
}

int64_t Histogram::percentile(double percentile) const {
    if (count_ == 0) return 0;
    const auto wanted = static_cast<uint64_t>(
        std::max(1.0, std::ceil(percentile / 100.0 * static_cast<double>(count_))));
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= wanted) return std::min(highest_equivalent(i), max_);
    }
    return max_;
}

}  // namespace bench
