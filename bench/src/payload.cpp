#include "payload.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

namespace bench {

std::string channel_name(int index) { return fmt::format("bench:ch:{}", index); }

bool decode_payload(std::string_view payload, int payload_size, PayloadHeader& header) {
    if (payload.size() != static_cast<size_t>(payload_size)) return false;
    std::memcpy(&header, payload.data(), sizeof header);
    return header.magic == kPayloadMagic && header.size == static_cast<uint32_t>(payload_size);
}

PublishEncoder::PublishEncoder(int channels, int payload_size) {
    prefixes_.reserve(static_cast<size_t>(channels));
    for (int c = 0; c < channels; ++c) {
        const std::string name = channel_name(c);
        prefixes_.push_back(fmt::format("*3\r\n$7\r\nPUBLISH\r\n${}\r\n{}\r\n${}\r\n", name.size(),
                                        name, payload_size));
        max_prefix_ = std::max(max_prefix_, prefixes_.back().size());
    }
    tail_.assign(static_cast<size_t>(payload_size - kPayloadHeaderSize), 'x');
    tail_ += "\r\n";
}

size_t PublishEncoder::encode(char* out, const PayloadHeader& header) const {
    const std::string& prefix = prefixes_[header.channel];
    char* p = out;
    std::memcpy(p, prefix.data(), prefix.size());
    p += prefix.size();
    std::memcpy(p, &header, sizeof header);
    p += sizeof header;
    std::memcpy(p, tail_.data(), tail_.size());
    p += tail_.size();
    return static_cast<size_t>(p - out);
}

}  // namespace bench
