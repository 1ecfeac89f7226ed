#pragma once
// The pub/sub index, in both directions: channel (or pattern) to its subscribers, and each
// subscriber to its channels and patterns. As in Redis's pubsub.c, a channel or pattern with no
// subscribers left is erased, so subscribing to millions of short-lived channels leaks nothing.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/frame.hpp"
#include "protocol/reply_writer.hpp"
#include "server/pattern_index.hpp"

namespace backplane {

class Subscriber;

/// One published message as a `message`, `pmessage` or `smessage` frame, encoded the first
/// time a subscriber of each protocol version asks for it and then shared:
/// `*3\r\n$7\r\nmessage...` in RESP2, the same with a `>3` push header in RESP3.
class MessageFrames {
  public:
    enum class Kind { message, pmessage, smessage };

    /// `pattern` is used by `pmessage` only.
    MessageFrames(Kind kind, std::string_view pattern, std::string_view channel,
                  std::string_view payload)
        : kind_(kind), pattern_(pattern), channel_(channel), payload_(payload) {}

    /// The frame for `version`, encoded on first use.
    const protocol::FrameRef& frame(protocol::RespVersion version) {
        protocol::FrameRef& cached = frames_[version == protocol::RespVersion::resp3 ? 1 : 0];
        return cached ? cached : encode(version);
    }

  private:
    const protocol::FrameRef& encode(protocol::RespVersion version);

    Kind kind_;
    std::string_view pattern_;
    std::string_view channel_;
    std::string_view payload_;
    protocol::FrameRef frames_[2];
};

/// The subscribers of one channel or one pattern.
struct SubscriberList {
    std::string_view name;  // the channel or pattern; points at the registry's key
    std::vector<Subscriber*> members;
};

/// Something that receives published messages: a client session.
class Subscriber {
  public:
    /// Queues the message in this subscriber's protocol. Must not call back into the registry:
    /// a subscriber that has to go away schedules its own removal.
    virtual void deliver(MessageFrames& message) = 0;

    /// Channels plus patterns: the count Redis returns in (p)(un)subscribe replies.
    size_t subscription_count() const { return channels_.size() + patterns_.size(); }
    size_t channel_count() const { return channels_.size(); }
    size_t pattern_count() const { return patterns_.size(); }
    /// Shard channels, counted apart (the count in s(un)subscribe replies).
    size_t shard_channel_count() const { return shard_channels_.size(); }
    /// Any subscription of any kind: what puts a RESP2 client in subscribed mode.
    bool has_subscriptions() const { return subscription_count() + shard_channel_count() > 0; }

    /// Names of the channels (patterns, shard channels) this subscriber is in.
    std::vector<std::string> channel_names() const;
    std::vector<std::string> pattern_names() const;
    std::vector<std::string> shard_channel_names() const;

  protected:
    Subscriber() = default;
    ~Subscriber() = default;
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

  private:
    friend class ChannelRegistry;
    // Each list this subscriber is in, with its position in that list's members.
    std::unordered_map<SubscriberList*, size_t> channels_;
    std::unordered_map<SubscriberList*, size_t> patterns_;
    std::unordered_map<SubscriberList*, size_t> shard_channels_;
};

class ChannelRegistry {
  public:
    ChannelRegistry() = default;
    ChannelRegistry(const ChannelRegistry&) = delete;
    ChannelRegistry& operator=(const ChannelRegistry&) = delete;

    /// Adds `s` to `channel`; false if it was already there.
    bool subscribe(Subscriber& s, std::string_view channel);
    /// Removes `s` from `channel`; false if it was not there.
    bool unsubscribe(Subscriber& s, std::string_view channel);
    /// Adds `s` to `pattern`; false if it was already there.
    bool psubscribe(Subscriber& s, std::string_view pattern);
    /// Removes `s` from `pattern`; false if it was not there.
    bool punsubscribe(Subscriber& s, std::string_view pattern);
    /// Adds `s` to shard channel `channel` (SSUBSCRIBE); false if it was already there.
    bool ssubscribe(Subscriber& s, std::string_view channel);
    /// Removes `s` from shard channel `channel`; false if it was not there.
    bool sunsubscribe(Subscriber& s, std::string_view channel);
    /// Removes `s` from every channel, pattern and shard channel (on disconnect, RESET).
    void remove(Subscriber& s);

    /// Delivers `payload` to the subscribers of `channel`, then to those of matching patterns;
    /// returns how many deliveries were made (Redis's PUBLISH reply).
    size_t publish(std::string_view channel, std::string_view payload);
    /// Delivers `payload` to the subscribers of shard channel `channel` (SPUBLISH); patterns do
    /// not apply. Returns the number of deliveries.
    size_t spublish(std::string_view channel, std::string_view payload);

    /// Channels with at least one subscriber.
    size_t channel_count() const { return channels_.size(); }
    /// Distinct patterns with at least one subscriber (PUBSUB NUMPAT).
    size_t pattern_count() const { return patterns_.size(); }
    /// Subscribers of `channel`, patterns excluded (PUBSUB NUMSUB).
    size_t subscriber_count(std::string_view channel) const;
    /// Every channel, or those whose name matches `pattern` (PUBSUB CHANNELS [pattern]).
    std::vector<std::string_view> channels_matching(std::optional<std::string_view> pattern) const;
    /// Shard channels with at least one subscriber.
    size_t shard_channel_count() const { return shard_channels_.size(); }
    /// Subscribers of shard channel `channel` (PUBSUB SHARDNUMSUB).
    size_t shard_subscriber_count(std::string_view channel) const;
    /// PUBSUB SHARDCHANNELS [pattern].
    std::vector<std::string_view> shard_channels_matching(
        std::optional<std::string_view> pattern) const;

  private:
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using ListMap = std::unordered_map<std::string, SubscriberList, StringHash, std::equal_to<>>;
    // Which of a subscriber's indexes a list map belongs with.
    using Membership = std::unordered_map<SubscriberList*, size_t> Subscriber::*;

    static bool add(ListMap& lists, Membership membership, Subscriber& s, std::string_view name,
                    SubscriberList** created);
    static bool drop(ListMap& lists, Membership membership, Subscriber& s, SubscriberList& list);
    static size_t deliver(const ListMap& lists, std::string_view channel, MessageFrames& message);
    static std::vector<std::string_view> names_matching(const ListMap& lists,
                                                        std::optional<std::string_view> pattern);
    void deliver_pattern_matches(std::string_view channel, std::string_view payload,
                                 size_t& receivers);

    ListMap channels_;
    ListMap patterns_;
    ListMap shard_channels_;
    PatternIndex pattern_index_;
};

}  // namespace backplane
