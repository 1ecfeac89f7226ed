#include "server/channel_registry.hpp"

#include "protocol/reply_writer.hpp"
#include "server/glob.hpp"

namespace backplane {

using protocol::Frame;
using protocol::FrameRef;

namespace {

std::vector<std::string> names_of(const std::unordered_map<SubscriberList*, size_t>& index) {
    std::vector<std::string> names;
    names.reserve(index.size());
    for (const auto& [list, position] : index) names.emplace_back(list->name);
    return names;
}

}  // namespace

std::vector<std::string> Subscriber::channel_names() const { return names_of(channels_); }

std::vector<std::string> Subscriber::pattern_names() const { return names_of(patterns_); }

std::vector<std::string> Subscriber::shard_channel_names() const {
    return names_of(shard_channels_);
}

bool ChannelRegistry::add(ListMap& lists, Membership membership, Subscriber& s,
                          std::string_view name, SubscriberList** created) {
    auto it = lists.find(name);
    if (it == lists.end()) {
        it = lists.emplace(std::string(name), SubscriberList{}).first;
        it->second.name = it->first;
        if (created) *created = &it->second;
    }
    SubscriberList& list = it->second;
    if (!(s.*membership).try_emplace(&list, list.members.size()).second) return false;
    list.members.push_back(&s);
    return true;
}

// Swap-removes `s` from `list`, fixing the position recorded by the subscriber moved into its
// place, and erases the list when it empties.
bool ChannelRegistry::drop(ListMap& lists, Membership membership, Subscriber& s,
                           SubscriberList& list) {
    auto& index = s.*membership;
    auto entry = index.find(&list);
    if (entry == index.end()) return false;
    const size_t position = entry->second;
    index.erase(entry);
    Subscriber* moved = list.members.back();
    list.members[position] = moved;
    list.members.pop_back();
    if (moved != &s) (moved->*membership)[&list] = position;
    if (list.members.empty()) lists.erase(lists.find(list.name));
    return true;
}

bool ChannelRegistry::subscribe(Subscriber& s, std::string_view channel) {
    return add(channels_, &Subscriber::channels_, s, channel, nullptr);
}

bool ChannelRegistry::unsubscribe(Subscriber& s, std::string_view channel) {
    auto it = channels_.find(channel);
    return it != channels_.end() && drop(channels_, &Subscriber::channels_, s, it->second);
}

bool ChannelRegistry::ssubscribe(Subscriber& s, std::string_view channel) {
    return add(shard_channels_, &Subscriber::shard_channels_, s, channel, nullptr);
}

bool ChannelRegistry::sunsubscribe(Subscriber& s, std::string_view channel) {
    auto it = shard_channels_.find(channel);
    return it != shard_channels_.end() &&
           drop(shard_channels_, &Subscriber::shard_channels_, s, it->second);
}

bool ChannelRegistry::psubscribe(Subscriber& s, std::string_view pattern) {
    SubscriberList* created = nullptr;
    const bool added = add(patterns_, &Subscriber::patterns_, s, pattern, &created);
    if (created) pattern_index_.add(created);
    return added;
}

bool ChannelRegistry::punsubscribe(Subscriber& s, std::string_view pattern) {
    auto it = patterns_.find(pattern);
    if (it == patterns_.end()) return false;
    SubscriberList& list = it->second;
    if (!s.patterns_.contains(&list)) return false;
    if (list.members.size() == 1) pattern_index_.remove(&list);
    return drop(patterns_, &Subscriber::patterns_, s, list);
}

void ChannelRegistry::remove(Subscriber& s) {
    while (!s.channels_.empty()) {
        drop(channels_, &Subscriber::channels_, s, *s.channels_.begin()->first);
    }
    while (!s.shard_channels_.empty()) {
        drop(shard_channels_, &Subscriber::shard_channels_, s, *s.shard_channels_.begin()->first);
    }
    while (!s.patterns_.empty()) {
        SubscriberList& list = *s.patterns_.begin()->first;
        if (list.members.size() == 1) pattern_index_.remove(&list);
        drop(patterns_, &Subscriber::patterns_, s, list);
    }
}

size_t ChannelRegistry::deliver(const ListMap& lists, std::string_view channel,
                                MessageFrames& message) {
    auto it = lists.find(channel);
    if (it == lists.end()) return 0;
    for (Subscriber* s : it->second.members) s->deliver(message);
    return it->second.members.size();
}

size_t ChannelRegistry::publish(std::string_view channel, std::string_view payload) {
    MessageFrames message(MessageFrames::Kind::message, {}, channel, payload);
    size_t receivers = deliver(channels_, channel, message);
    if (!pattern_index_.empty()) deliver_pattern_matches(channel, payload, receivers);
    return receivers;
}

size_t ChannelRegistry::spublish(std::string_view channel, std::string_view payload) {
    MessageFrames message(MessageFrames::Kind::smessage, {}, channel, payload);
    return deliver(shard_channels_, channel, message);
}

void ChannelRegistry::deliver_pattern_matches(std::string_view channel, std::string_view payload,
                                              size_t& receivers) {
    pattern_index_.for_each_candidate(channel, [&](SubscriberList* list) {
        if (!glob_match(list->name, channel)) return;
        MessageFrames message(MessageFrames::Kind::pmessage, list->name, channel, payload);
        for (Subscriber* s : list->members) s->deliver(message);
        receivers += list->members.size();
    });
}

size_t ChannelRegistry::subscriber_count(std::string_view channel) const {
    auto it = channels_.find(channel);
    return it == channels_.end() ? 0 : it->second.members.size();
}

size_t ChannelRegistry::shard_subscriber_count(std::string_view channel) const {
    auto it = shard_channels_.find(channel);
    return it == shard_channels_.end() ? 0 : it->second.members.size();
}

std::vector<std::string_view> ChannelRegistry::names_matching(
    const ListMap& lists, std::optional<std::string_view> pattern) {
    std::vector<std::string_view> names;
    for (const auto& [name, list] : lists) {
        if (!pattern || glob_match(*pattern, name)) names.emplace_back(name);
    }
    return names;
}

std::vector<std::string_view> ChannelRegistry::channels_matching(
    std::optional<std::string_view> pattern) const {
    return names_matching(channels_, pattern);
}

std::vector<std::string_view> ChannelRegistry::shard_channels_matching(
    std::optional<std::string_view> pattern) const {
    return names_matching(shard_channels_, pattern);
}

const FrameRef& MessageFrames::encode(protocol::RespVersion version) {
    FrameRef& frame = frames_[version == protocol::RespVersion::resp3 ? 1 : 0];
    static constexpr std::string_view kinds[] = {"message", "pmessage", "smessage"};
    const std::string_view kind = kinds[static_cast<size_t>(kind_)];
    const bool from_pattern = kind_ == Kind::pmessage;
    const size_t elements = from_pattern ? 4 : 3;
    size_t size = protocol::header_size(elements) + protocol::ReplyWriter::bulk_size(kind.size()) +
                  protocol::ReplyWriter::bulk_size(channel_.size()) +
                  protocol::ReplyWriter::bulk_size(payload_.size());
    if (from_pattern) size += protocol::ReplyWriter::bulk_size(pattern_.size());
    frame = Frame::allocate(size);
    char* out = protocol::write_header(
        frame->data(), version == protocol::RespVersion::resp3 ? '>' : '*', elements);
    out = protocol::write_bulk(out, kind);
    if (from_pattern) out = protocol::write_bulk(out, pattern_);
    out = protocol::write_bulk(out, channel_);
    protocol::write_bulk(out, payload_);
    return frame;
}

}  // namespace backplane
