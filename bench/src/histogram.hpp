#pragma once

#include <array>
#include <cstdint>

namespace bench {

/// Log-linear latency histogram in the style of HdrHistogram: every power of two is split into
/// 128 linear sub-buckets, so any recorded value is reported within 1/128 (< 0.8 %) of its true
/// value. The counts live in a fixed array, so record() never allocates and costs a few
/// instructions, which matters because it runs once per delivered message.
class Histogram {
  public:
    /// Values above this (about 18 minutes in ns) are clamped; nothing real gets near it.
    static constexpr int64_t kMaxValue = (int64_t{1} << 40) - 1;

    void record(int64_t value);
    void merge(const Histogram& other);

    /// Smallest value v such that at least `percentile` % of the recorded values are <= v
    /// (reported as the top of v's bucket, never above the recorded maximum).
    int64_t percentile(double percentile) const;
    int64_t max() const { return max_; }
    uint64_t count() const { return count_; }

  private:
    static constexpr int kSubBits = 7;
    static constexpr int kSubCount = 1 << kSubBits;
    static constexpr int kBuckets = (40 - kSubBits) * kSubCount + 2 * kSubCount;

    static int index_of(int64_t value);
    static int64_t highest_equivalent(int index);

    std::array<uint64_t, kBuckets> counts_{};
    uint64_t count_ = 0;
    int64_t max_ = 0;
};

}  // namespace bench
