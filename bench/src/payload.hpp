#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

/// The first bytes of every published message. Subscribers recover from it who sent the
/// message, to which channel, its place in that (publisher, channel) stream and when it was
/// (meant to be) sent, which is all the loss, order and latency accounting needs.
struct PayloadHeader {
    uint32_t magic;
    uint32_t publisher;
    uint32_t channel;
    uint32_t size;  ///< whole payload size, so truncation or padding changes are caught
    uint64_t seq;
    int64_t send_ns;  ///< CLOCK_MONOTONIC; the intended send time at a fixed rate
};
static_assert(sizeof(PayloadHeader) == 32);

inline constexpr int kPayloadHeaderSize = sizeof(PayloadHeader);
inline constexpr uint32_t kPayloadMagic = 0x31425042;  // "BPB1"

/// Name of published channel `index`. Churn clients reuse the same names so that their
/// SUBSCRIBE/UNSUBSCRIBE traffic changes the subscriber sets that deliveries walk.
std::string channel_name(int index);

/// Returns false when `payload` was not produced by this generator with this payload size.
bool decode_payload(std::string_view payload, int payload_size, PayloadHeader& header);

/// Builds complete PUBLISH commands with two memcpy calls plus the header: the RESP framing
/// up to the payload is prebuilt per channel and the padding once, so publishing never
/// formats or allocates.
class PublishEncoder {
  public:
    PublishEncoder(int channels, int payload_size);

    size_t max_command_size() const { return max_prefix_ + kPayloadHeaderSize + tail_.size(); }
    /// Writes the command into `out` (at least max_command_size() bytes); returns its length.
    size_t encode(char* out, const PayloadHeader& header) const;

  private:
    std::vector<std::string> prefixes_;  ///< "*3\r\n$7\r\nPUBLISH\r\n$L\r\n<name>\r\n$S\r\n"
    std::string tail_;                   ///< padding after the header, then "\r\n"
    size_t max_prefix_ = 0;
};

}  // namespace bench
