// ChannelRegistry: the two-way channel/pattern index, PUBLISH fan-out and its frames, the PUBSUB
// helpers, and swap-removal under random operations checked against a simple model.

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/frame.hpp"
#include "server/channel_registry.hpp"

using backplane::ChannelRegistry;
using backplane::MessageFrames;
using backplane::Subscriber;
using backplane::protocol::FrameRef;
using backplane::protocol::RespVersion;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

/// Records every delivered message as the bytes of its frame in this subscriber's protocol.
class FakeSubscriber final : public Subscriber {
public:
    explicit FakeSubscriber(RespVersion version = RespVersion::resp2) : version(version) {}

    void deliver(MessageFrames& message) override {
        frames.emplace_back(message.frame(version)->view());
    }

    RespVersion version;

    /// The frames delivered since the last call.
    std::vector<std::string> take() { return std::exchange(frames, {}); }

    std::vector<std::string> frames;
};

std::string bulk(std::string_view s) { return fmt::format("${}\r\n{}\r\n", s.size(), s); }

std::string message(std::string_view channel, std::string_view payload) {
    return "*3\r\n$7\r\nmessage\r\n" + bulk(channel) + bulk(payload);
}

std::string pmessage(std::string_view pattern, std::string_view channel, std::string_view payload) {
    return "*4\r\n$8\r\npmessage\r\n" + bulk(pattern) + bulk(channel) + bulk(payload);
}

template <typename T>
std::vector<T> sorted(std::vector<T> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<std::string> strings(const std::vector<std::string_view>& views) {
    return sorted(std::vector<std::string>(views.begin(), views.end()));
}

/// Model matcher for the simple patterns of the randomized test (`*`, `?` and literal bytes),
/// with Redis's rule that an empty channel only matches the empty pattern.
bool model_match(std::string_view pattern, std::string_view text) {
    if (text.empty()) return pattern.empty();
    // Classic DP over the pattern.
    std::vector<char> row(text.size() + 1, 0);
    row[0] = 1;
    for (char p : pattern) {
        std::vector<char> next(text.size() + 1, 0);
        if (p == '*') {
            next[0] = row[0];
            for (size_t j = 1; j <= text.size(); ++j) next[j] = row[j] || next[j - 1];
        } else {
            for (size_t j = 1; j <= text.size(); ++j)
                next[j] = row[j - 1] && (p == '?' || text[j - 1] == p);
        }
        row = std::move(next);
    }
    return row[text.size()] != 0;
}

}  // namespace

TEST_CASE("channel_registry: MessageFrames encodes message and pmessage in RESP2 and RESP3") {
    MessageFrames m(MessageFrames::Kind::message, {}, "ch", "hello");
    CHECK(m.frame(RespVersion::resp2)->view() == "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    CHECK(m.frame(RespVersion::resp3)->view() == ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    // Encoded once per version, then the same frame is handed out.
    CHECK(&*m.frame(RespVersion::resp2) == &*m.frame(RespVersion::resp2));
    CHECK(&*m.frame(RespVersion::resp3) == &*m.frame(RespVersion::resp3));
    CHECK(&*m.frame(RespVersion::resp2) != &*m.frame(RespVersion::resp3));

    MessageFrames pm(MessageFrames::Kind::pmessage, "c*", "ch", "hello");
    CHECK(pm.frame(RespVersion::resp2)->view() ==
          "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    CHECK(pm.frame(RespVersion::resp3)->view() ==
          ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$5\r\nhello\r\n");

    MessageFrames empty(MessageFrames::Kind::message, {}, "", "");
    CHECK(empty.frame(RespVersion::resp2)->view() == "*3\r\n$7\r\nmessage\r\n$0\r\n\r\n$0\r\n\r\n");
    MessageFrames empty_p(MessageFrames::Kind::pmessage, "", "", "");
    CHECK(empty_p.frame(RespVersion::resp2)->view() ==
          "*4\r\n$8\r\npmessage\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n");

    // Binary safe: NUL and CRLF are counted, not interpreted.
    MessageFrames binary(MessageFrames::Kind::message, {}, "a\0b"sv, "x\r\ny\0"sv);
    CHECK(binary.frame(RespVersion::resp2)->view() ==
          "*3\r\n$7\r\nmessage\r\n$3\r\na\0b\r\n$5\r\nx\r\ny\0\r\n"sv);
    MessageFrames binary_p(MessageFrames::Kind::pmessage, "a\0*"sv, "a\0\r\n"sv, "\r\n"sv);
    CHECK(binary_p.frame(RespVersion::resp3)->view() ==
          ">4\r\n$8\r\npmessage\r\n$3\r\na\0*\r\n$4\r\na\0\r\n\r\n$2\r\n\r\n\r\n"sv);

    // Lengths with more digits.
    const std::string big(12345, 'z');
    MessageFrames large(MessageFrames::Kind::message, {}, "c", big);
    const FrameRef frame = large.frame(RespVersion::resp2);
    CHECK(frame->size() == "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$12345\r\n"sv.size() + 12345 + 2);
    CHECK(frame->view() == "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$12345\r\n" + big + "\r\n");
}

TEST_CASE("channel_registry: subscribe and unsubscribe return values and counts") {
    ChannelRegistry registry;
    FakeSubscriber a;
    FakeSubscriber b;
    CHECK(registry.channel_count() == 0);
    CHECK(registry.subscribe(a, "ch"));
    CHECK_FALSE(registry.subscribe(a, "ch"));  // the same subscriber twice counts once
    CHECK(a.subscription_count() == 1);
    CHECK(a.channel_count() == 1);
    CHECK(a.pattern_count() == 0);
    CHECK(registry.channel_count() == 1);
    CHECK(registry.subscriber_count("ch") == 1);

    CHECK(registry.subscribe(b, "ch"));
    CHECK(registry.subscribe(a, "other"));
    CHECK(registry.channel_count() == 2);
    CHECK(registry.subscriber_count("ch") == 2);
    CHECK(registry.subscriber_count("other") == 1);
    CHECK(a.subscription_count() == 2);
    CHECK(sorted(a.channel_names()) == std::vector<std::string>{"ch", "other"});
    CHECK(b.channel_names() == std::vector<std::string>{"ch"});
    CHECK(a.pattern_names().empty());

    CHECK_FALSE(registry.unsubscribe(a, "missing"));
    CHECK_FALSE(registry.unsubscribe(b, "other"));  // channel exists, b is not in it
    CHECK(registry.subscriber_count("other") == 1);
    CHECK(registry.unsubscribe(a, "ch"));
    CHECK_FALSE(registry.unsubscribe(a, "ch"));
    CHECK(registry.subscriber_count("ch") == 1);
    CHECK(registry.channel_count() == 2);
    CHECK(a.subscription_count() == 1);
    CHECK(a.channel_names() == std::vector<std::string>{"other"});

    // The last subscriber leaving erases the channel.
    CHECK(registry.unsubscribe(b, "ch"));
    CHECK(registry.channel_count() == 1);
    CHECK(registry.subscriber_count("ch") == 0);
    CHECK(b.subscription_count() == 0);
    CHECK(registry.unsubscribe(a, "other"));
    CHECK(registry.channel_count() == 0);
    CHECK(registry.channels_matching("*").empty());
    // A channel can be created again after being erased.
    CHECK(registry.subscribe(b, "ch"));
    CHECK(registry.subscriber_count("ch") == 1);
    CHECK(registry.publish("ch", "x") == 1);
    CHECK(b.take() == std::vector<std::string>{message("ch", "x")});
}

TEST_CASE("channel_registry: psubscribe and punsubscribe return values and counts") {
    ChannelRegistry registry;
    FakeSubscriber a;
    FakeSubscriber b;
    CHECK(registry.psubscribe(a, "news.*"));
    CHECK_FALSE(registry.psubscribe(a, "news.*"));
    CHECK(registry.psubscribe(b, "news.*"));
    CHECK(registry.psubscribe(a, "h?llo"));
    CHECK(registry.pattern_count() == 2);  // distinct patterns, not subscriptions
    CHECK(registry.channel_count() == 0);
    CHECK(a.subscription_count() == 2);
    CHECK(a.pattern_count() == 2);
    CHECK(a.channel_count() == 0);
    CHECK(sorted(a.pattern_names()) == std::vector<std::string>{"h?llo", "news.*"});
    CHECK(b.pattern_names() == std::vector<std::string>{"news.*"});
    // Patterns are not channels: PUBSUB NUMSUB and CHANNELS ignore them.
    CHECK(registry.subscriber_count("news.*") == 0);
    CHECK(registry.channels_matching("*").empty());

    // Channels and patterns are separate name spaces.
    CHECK(registry.subscribe(a, "news.*"));
    CHECK(a.subscription_count() == 3);
    CHECK(registry.unsubscribe(a, "news.*"));
    CHECK_FALSE(registry.unsubscribe(a, "h?llo"));
    CHECK(registry.pattern_count() == 2);
    CHECK(a.pattern_count() == 2);

    CHECK_FALSE(registry.punsubscribe(a, "missing*"));
    CHECK_FALSE(registry.punsubscribe(b, "h?llo"));  // pattern exists, b is not in it
    CHECK(registry.pattern_count() == 2);
    CHECK(registry.punsubscribe(a, "news.*"));
    CHECK_FALSE(registry.punsubscribe(a, "news.*"));
    CHECK(registry.pattern_count() == 2);  // b still holds it
    CHECK(registry.publish("news.x", "1") == 1);
    CHECK(a.take().empty());
    CHECK(b.take() == std::vector<std::string>{pmessage("news.*", "news.x", "1")});
    CHECK(registry.punsubscribe(b, "news.*"));
    CHECK(registry.pattern_count() == 1);
    CHECK(registry.publish("news.x", "1") == 0);
    CHECK(registry.punsubscribe(a, "h?llo"));
    CHECK(registry.pattern_count() == 0);
    CHECK(a.subscription_count() == 0);
    CHECK(registry.publish("hello", "1") == 0);
    CHECK(a.take().empty());
}

TEST_CASE("channel_registry: publish counts and exact frames") {
    ChannelRegistry registry;
    FakeSubscriber a;
    FakeSubscriber b;
    FakeSubscriber c;

    CHECK(registry.publish("ch", "hello") == 0);

    registry.subscribe(a, "ch");
    CHECK(registry.publish("ch", "hello") == 1);
    CHECK(a.take() == std::vector<std::string>{"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"});
    CHECK(registry.publish("other", "hello") == 0);
    CHECK(registry.publish("c", "hello") == 0);
    CHECK(registry.publish("chh", "hello") == 0);
    CHECK(a.take().empty());

    registry.psubscribe(b, "c*");
    CHECK(registry.publish("ch", "hello") == 2);
    CHECK(a.take() == std::vector<std::string>{message("ch", "hello")});
    CHECK(b.take() == std::vector<std::string>{"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$5\r\nhello\r\n"});

    // A subscriber in a channel and a matching pattern gets message, then pmessage; counts 2.
    registry.psubscribe(a, "?h");
    CHECK(registry.publish("ch", "hi") == 3);
    CHECK(a.take() == std::vector<std::string>{message("ch", "hi"), pmessage("?h", "ch", "hi")});
    CHECK(b.take() == std::vector<std::string>{pmessage("c*", "ch", "hi")});

    // Two matching patterns of one subscriber: one pmessage each.
    registry.psubscribe(a, "c*");
    CHECK(registry.publish("ch", "x") == 4);
    const auto frames = a.take();
    REQUIRE(frames.size() == 3);
    CHECK(frames[0] == message("ch", "x"));
    CHECK(sorted(std::vector<std::string>(frames.begin() + 1, frames.end())) ==
          sorted(std::vector<std::string>{pmessage("c*", "ch", "x"), pmessage("?h", "ch", "x")}));
    CHECK(b.take() == std::vector<std::string>{pmessage("c*", "ch", "x")});

    // Only patterns match "cat".
    registry.subscribe(c, "cat");
    CHECK(registry.publish("cat", "") == 3);
    CHECK(c.take() == std::vector<std::string>{"*3\r\n$7\r\nmessage\r\n$3\r\ncat\r\n$0\r\n\r\n"});
    CHECK(a.take() == std::vector<std::string>{pmessage("c*", "cat", "")});
    CHECK(b.take() == std::vector<std::string>{pmessage("c*", "cat", "")});
    CHECK(registry.publish("dog", "x") == 0);
}

TEST_CASE("channel_registry: one frame per protocol version is shared by all receivers") {
    struct KeepingSubscriber final : Subscriber {
        explicit KeepingSubscriber(RespVersion v) : version(v) {}
        void deliver(MessageFrames& message) override { kept.push_back(message.frame(version)); }
        RespVersion version;
        std::vector<FrameRef> kept;
    };
    ChannelRegistry registry;
    KeepingSubscriber a(RespVersion::resp2);
    KeepingSubscriber b(RespVersion::resp2);
    KeepingSubscriber c(RespVersion::resp3);
    KeepingSubscriber d(RespVersion::resp3);
    for (KeepingSubscriber* s : {&a, &b, &c, &d}) {
        registry.subscribe(*s, "ch");
        registry.psubscribe(*s, "c?");
    }
    CHECK(registry.publish("ch", "payload") == 8);
    for (KeepingSubscriber* s : {&a, &b, &c, &d}) REQUIRE(s->kept.size() == 2);
    CHECK(&*a.kept[0] == &*b.kept[0]);
    CHECK(&*c.kept[0] == &*d.kept[0]);
    CHECK(&*a.kept[1] == &*b.kept[1]);
    CHECK(&*c.kept[1] == &*d.kept[1]);
    CHECK(&*a.kept[0] != &*c.kept[0]);
    // Frames outlive the publish call and the registry entries.
    for (KeepingSubscriber* s : {&a, &b, &c, &d}) registry.remove(*s);
    CHECK(a.kept[0]->view() == message("ch", "payload"));
    CHECK(a.kept[1]->view() == pmessage("c?", "ch", "payload"));
    CHECK(d.kept[0]->view() == ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$7\r\npayload\r\n");
    CHECK(d.kept[1]->view() == ">4\r\n$8\r\npmessage\r\n$2\r\nc?\r\n$2\r\nch\r\n$7\r\npayload\r\n");
}

TEST_CASE("channel_registry: RESP2 and RESP3 subscribers of one publish each get their form") {
    ChannelRegistry registry;
    FakeSubscriber two(RespVersion::resp2);
    FakeSubscriber three(RespVersion::resp3);
    registry.subscribe(two, "ch");
    registry.subscribe(three, "ch");
    registry.psubscribe(three, "*");
    CHECK(registry.publish("ch", "hi") == 3);
    CHECK(two.take() == std::vector<std::string>{message("ch", "hi")});
    CHECK(three.take() == std::vector<std::string>{">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
                                                   ">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$2\r\nch\r\n$2\r\nhi\r\n"});
}

TEST_CASE("channel_registry: binary-safe channel names, patterns and payloads") {
    ChannelRegistry registry;
    FakeSubscriber a;
    FakeSubscriber b;
    FakeSubscriber p;
    const std::string nul_channel = "a\0b"s;
    const std::string crlf_channel = "x\r\n*1\r\n"s;
    CHECK(registry.subscribe(a, nul_channel));
    CHECK(registry.subscribe(b, "a"));
    CHECK(registry.subscribe(b, crlf_channel));
    CHECK(registry.psubscribe(p, "a\0*"s));
    CHECK(registry.channel_count() == 3);
    CHECK(registry.subscriber_count(nul_channel) == 1);
    CHECK(registry.subscriber_count("a") == 1);
    CHECK(registry.subscriber_count("a\0"s) == 0);

    const std::string payload = "\0\r\n$3\r\n\xff"s;
    CHECK(registry.publish(nul_channel, payload) == 2);
    CHECK(a.take() == std::vector<std::string>{message(nul_channel, payload)});
    CHECK(p.take() == std::vector<std::string>{pmessage("a\0*"s, nul_channel, payload)});
    CHECK(b.take().empty());

    CHECK(registry.publish("a", payload) == 1);  // "a\0*" needs the NUL
    CHECK(b.take() == std::vector<std::string>{message("a", payload)});
    CHECK(p.take().empty());

    CHECK(registry.publish(crlf_channel, "\r\n") == 1);
    CHECK(b.take() == std::vector<std::string>{
                          "*3\r\n$7\r\nmessage\r\n$7\r\nx\r\n*1\r\n\r\n$2\r\n\r\n\r\n"});
    CHECK(strings(registry.channels_matching("a*")) == std::vector<std::string>{"a", nul_channel});
    CHECK(a.channel_names() == std::vector<std::string>{nul_channel});
    CHECK(p.pattern_names() == std::vector<std::string>{"a\0*"s});
}

TEST_CASE("channel_registry: PUBSUB helpers") {
    ChannelRegistry registry;
    FakeSubscriber a;
    FakeSubscriber b;
    FakeSubscriber c;
    registry.subscribe(a, "news.sport");
    registry.subscribe(b, "news.sport");
    registry.subscribe(c, "news.sport");
    registry.subscribe(a, "news.tech");
    registry.subscribe(b, "weather");
    registry.psubscribe(a, "news.*");
    registry.psubscribe(b, "news.*");
    registry.psubscribe(c, "w*");

    CHECK(registry.subscriber_count("news.sport") == 3);  // patterns excluded
    CHECK(registry.subscriber_count("news.tech") == 1);
    CHECK(registry.subscriber_count("weather") == 1);
    CHECK(registry.subscriber_count("news.*") == 0);
    CHECK(registry.subscriber_count("") == 0);
    CHECK(registry.pattern_count() == 2);
    CHECK(registry.channel_count() == 3);

    CHECK(strings(registry.channels_matching("*")) ==
          std::vector<std::string>{"news.sport", "news.tech", "weather"});
    CHECK(strings(registry.channels_matching("news.*")) ==
          std::vector<std::string>{"news.sport", "news.tech"});
    CHECK(strings(registry.channels_matching("*t[a-h]*")) ==
          std::vector<std::string>{"news.tech", "weather"});
    CHECK(strings(registry.channels_matching("news.sport")) == std::vector<std::string>{"news.sport"});
    CHECK(registry.channels_matching("nothing*").empty());
    CHECK(registry.channels_matching("w").empty());

    // The empty channel exists but, as in Redis, no non-empty pattern matches it.
    registry.subscribe(c, "");
    CHECK(registry.channel_count() == 4);
    CHECK(registry.subscriber_count("") == 1);
    CHECK(strings(registry.channels_matching("*")) ==
          std::vector<std::string>{"news.sport", "news.tech", "weather"});
    CHECK(strings(registry.channels_matching("")) == std::vector<std::string>{""});
    CHECK(registry.publish("", "x") == 1);  // the channel subscriber only, not "w*" or "news.*"
    CHECK(c.take() == std::vector<std::string>{message("", "x")});
}

TEST_CASE("channel_registry: remove() drops every channel and pattern of a subscriber") {
    ChannelRegistry registry;
    FakeSubscriber gone;
    FakeSubscriber stays;
    for (int i = 0; i < 50; ++i) {
        CHECK(registry.subscribe(gone, fmt::format("ch{}", i)));
        CHECK(registry.psubscribe(gone, fmt::format("p{}.*", i)));
        if (i % 5 == 0) {
            CHECK(registry.subscribe(stays, fmt::format("ch{}", i)));
            CHECK(registry.psubscribe(stays, fmt::format("p{}.*", i)));
        }
    }
    CHECK(gone.subscription_count() == 100);
    CHECK(registry.channel_count() == 50);
    CHECK(registry.pattern_count() == 50);

    registry.remove(gone);
    CHECK(gone.subscription_count() == 0);
    CHECK(gone.channel_names().empty());
    CHECK(gone.pattern_names().empty());
    CHECK(stays.subscription_count() == 20);
    CHECK(registry.channel_count() == 10);
    CHECK(registry.pattern_count() == 10);
    for (int i = 0; i < 50; ++i) {
        const std::string ch = fmt::format("ch{}", i);
        const std::string pch = fmt::format("p{}.x", i);
        const size_t expected = i % 5 == 0 ? 1 : 0;
        CHECK(registry.subscriber_count(ch) == expected);
        CHECK(registry.publish(ch, "m") == expected);
        CHECK(registry.publish(pch, "m") == expected);
    }
    CHECK(gone.take().empty());
    CHECK(stays.take().size() == 20);

    // Removing again, or removing a subscriber that has nothing, changes nothing.
    registry.remove(gone);
    FakeSubscriber idle;
    registry.remove(idle);
    CHECK(registry.channel_count() == 10);
    CHECK(registry.pattern_count() == 10);
    // A removed subscriber can subscribe again.
    CHECK(registry.subscribe(gone, "ch1"));
    CHECK(registry.publish("ch1", "again") == 1);
    CHECK(gone.take() == std::vector<std::string>{message("ch1", "again")});
}

TEST_CASE("channel_registry: swap-remove keeps the remaining subscribers of a channel exact") {
    std::mt19937 rng(12345);
    for (int variant = 0; variant < 3; ++variant) {
        CAPTURE(variant);
        ChannelRegistry registry;
        constexpr size_t count = 200;
        std::vector<std::unique_ptr<FakeSubscriber>> subscribers;
        for (size_t i = 0; i < count; ++i) {
            subscribers.push_back(std::make_unique<FakeSubscriber>());
            if (variant == 2) {
                CHECK(registry.psubscribe(*subscribers.back(), "ch*"));
            } else {
                CHECK(registry.subscribe(*subscribers.back(), "ch"));
            }
            // Another channel per subscriber, so that remove() has more than one list to fix.
            CHECK(registry.subscribe(*subscribers.back(), fmt::format("own{}", i)));
        }
        std::vector<size_t> order(count);
        for (size_t i = 0; i < count; ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), rng);
        std::set<size_t> remaining(order.begin(), order.end());
        for (size_t step = 0; step < count; ++step) {
            const size_t victim = order[step];
            if (variant == 0) {
                CHECK(registry.unsubscribe(*subscribers[victim], "ch"));
            } else if (variant == 1) {
                registry.remove(*subscribers[victim]);
            } else {
                CHECK(registry.punsubscribe(*subscribers[victim], "ch*"));
            }
            remaining.erase(victim);
            const std::string payload = std::to_string(step);
            CHECK(registry.publish("ch", payload) == remaining.size());
            for (size_t i = 0; i < count; ++i) {
                const auto frames = subscribers[i]->take();
                if (remaining.contains(i)) {
                    REQUIRE(frames.size() == 1);
                    CHECK(frames[0] == (variant == 2 ? pmessage("ch*", "ch", payload)
                                                     : message("ch", payload)));
                } else {
                    CHECK(frames.empty());
                }
            }
        }
        CHECK(registry.subscriber_count("ch") == 0);
        CHECK(registry.pattern_count() == 0);
        CHECK(registry.channel_count() == (variant == 1 ? 0 : count));
    }
}

TEST_CASE("channel_registry: random operations agree with a model") {
    constexpr size_t subscriber_count = 12;
    const std::vector<std::string> channels = {"a", "b", "ab", "ba", "abc", "aXc", "", "a\0c"s};
    const std::vector<std::string> patterns = {"a*", "*b", "?", "a?c", "*", "ab*", "*c", "abc", "b*a"};
    std::mt19937 rng(4242);
    auto roll = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };

    ChannelRegistry registry;
    std::vector<std::unique_ptr<FakeSubscriber>> subs;
    for (size_t i = 0; i < subscriber_count; ++i) subs.push_back(std::make_unique<FakeSubscriber>());
    std::map<std::string, std::set<size_t>> model_channels;
    std::map<std::string, std::set<size_t>> model_patterns;

    auto check_state = [&]() {
        CHECK(registry.channel_count() == model_channels.size());
        CHECK(registry.pattern_count() == model_patterns.size());
        for (const auto& ch : channels) {
            const auto it = model_channels.find(ch);
            CHECK(registry.subscriber_count(ch) == (it == model_channels.end() ? 0 : it->second.size()));
        }
        for (size_t i = 0; i < subscriber_count; ++i) {
            std::vector<std::string> my_channels;
            std::vector<std::string> my_patterns;
            for (const auto& [name, members] : model_channels)
                if (members.contains(i)) my_channels.push_back(name);
            for (const auto& [name, members] : model_patterns)
                if (members.contains(i)) my_patterns.push_back(name);
            CHECK(sorted(subs[i]->channel_names()) == my_channels);
            CHECK(sorted(subs[i]->pattern_names()) == my_patterns);
            CHECK(subs[i]->subscription_count() == my_channels.size() + my_patterns.size());
        }
        std::vector<std::string> all;
        for (const auto& [name, members] : model_channels)
            if (model_match("*", name)) all.push_back(name);
        CHECK(strings(registry.channels_matching("*")) == all);
    };

    for (int step = 0; step < 20000; ++step) {
        CAPTURE(step);
        const size_t who = roll(subscriber_count);
        FakeSubscriber& s = *subs[who];
        const size_t op = roll(12);
        if (op < 3) {
            const std::string& ch = channels[roll(channels.size())];
            const bool added = model_channels[ch].insert(who).second;
            CHECK(registry.subscribe(s, ch) == added);
        } else if (op < 5) {
            const std::string& ch = channels[roll(channels.size())];
            bool removed = false;
            if (auto it = model_channels.find(ch); it != model_channels.end()) {
                removed = it->second.erase(who) > 0;
                if (it->second.empty()) model_channels.erase(it);
            }
            CHECK(registry.unsubscribe(s, ch) == removed);
        } else if (op < 7) {
            const std::string& pat = patterns[roll(patterns.size())];
            const bool added = model_patterns[pat].insert(who).second;
            CHECK(registry.psubscribe(s, pat) == added);
        } else if (op < 9) {
            const std::string& pat = patterns[roll(patterns.size())];
            bool removed = false;
            if (auto it = model_patterns.find(pat); it != model_patterns.end()) {
                removed = it->second.erase(who) > 0;
                if (it->second.empty()) model_patterns.erase(it);
            }
            CHECK(registry.punsubscribe(s, pat) == removed);
        } else if (op == 9) {
            for (auto* model : {&model_channels, &model_patterns}) {
                for (auto it = model->begin(); it != model->end();) {
                    it->second.erase(who);
                    it = it->second.empty() ? model->erase(it) : std::next(it);
                }
            }
            registry.remove(s);
        } else {
            // Publish to a known or an unknown channel and check every subscriber's frames.
            const std::string ch = roll(4) == 0 ? fmt::format("zz{}", roll(3)) : channels[roll(channels.size())];
            const std::string payload = fmt::format("p{}", step);
            std::vector<std::vector<std::string>> expected(subscriber_count);
            size_t expected_count = 0;
            if (auto it = model_channels.find(ch); it != model_channels.end()) {
                for (size_t i : it->second) expected[i].push_back(message(ch, payload));
                expected_count += it->second.size();
            }
            for (const auto& [pat, members] : model_patterns) {
                if (!model_match(pat, ch)) continue;
                for (size_t i : members) expected[i].push_back(pmessage(pat, ch, payload));
                expected_count += members.size();
            }
            CHECK(registry.publish(ch, payload) == expected_count);
            for (size_t i = 0; i < subscriber_count; ++i) {
                CAPTURE(i);
                auto got = subs[i]->take();
                // message first (if any), then the pmessages in any order.
                if (!expected[i].empty() && expected[i][0].starts_with("*3")) {
                    REQUIRE_FALSE(got.empty());
                    CHECK(got[0] == expected[i][0]);
                }
                CHECK(sorted(got) == sorted(expected[i]));
            }
        }
        if (step % 50 == 0) check_state();
    }
    check_state();
    for (auto& s : subs) registry.remove(*s);
    CHECK(registry.channel_count() == 0);
    CHECK(registry.pattern_count() == 0);
}

TEST_CASE("channel_registry: 10,000 patterns with different literal prefixes") {
    ChannelRegistry registry;
    std::vector<std::unique_ptr<FakeSubscriber>> subs;
    for (int i = 0; i < 100; ++i) subs.push_back(std::make_unique<FakeSubscriber>());
    // "p<i>:*" for 10,000 values of i, spread over 100 subscribers; only "p<i>:*" matches
    // "p<i>:x" since "p1:*" does not match "p12:x".
    for (int i = 0; i < 10000; ++i) CHECK(registry.psubscribe(*subs[static_cast<size_t>(i % 100)], fmt::format("p{}:*", i)));
    // Patterns whose prefixes are prefixes of one another: "q1*" matches "q123" and "q12x".
    FakeSubscriber nested;
    for (int i = 0; i < 1000; ++i) CHECK(registry.psubscribe(nested, fmt::format("p{}*", i)));
    CHECK(registry.pattern_count() == 11000);

    for (int i : {0, 1, 12, 123, 999, 1000, 4567, 9999}) {
        CAPTURE(i);
        const std::string channel = fmt::format("p{}:x", i);
        // Patterns "p<prefix of i>*" of `nested` for every prefix of i's digits below 1000.
        std::vector<std::string> nested_expected;
        const std::string digits = std::to_string(i);
        for (size_t len = 1; len <= digits.size(); ++len) {
            const std::string prefix = digits.substr(0, len);
            if (prefix.size() > 1 && prefix[0] == '0') continue;
            if (std::stoi(prefix) < 1000) nested_expected.push_back(pmessage("p" + prefix + "*", channel, "m"));
        }
        CHECK(registry.publish(channel, "m") == 1 + nested_expected.size());
        for (int k = 0; k < 100; ++k) {
            const auto frames = subs[static_cast<size_t>(k)]->take();
            if (k == i % 100) {
                CHECK(frames == std::vector<std::string>{pmessage(fmt::format("p{}:*", i), channel, "m")});
            } else {
                CHECK(frames.empty());
            }
        }
        CHECK(sorted(nested.take()) == sorted(nested_expected));
    }
    CHECK(registry.publish("p7", "m") == 1);  // only nested's "p7*": "p7:*" needs the ':'
    CHECK(nested.take() == std::vector<std::string>{pmessage("p7*", "p7", "m")});
    CHECK(subs[7]->take().empty());
    CHECK(registry.publish("q", "m") == 0);
    CHECK(registry.publish("", "m") == 0);

    // Drop the even patterns: odd ones still deliver, even ones no longer do.
    for (int i = 0; i < 10000; i += 2) CHECK(registry.punsubscribe(*subs[static_cast<size_t>(i % 100)], fmt::format("p{}:*", i)));
    registry.remove(nested);
    CHECK(registry.pattern_count() == 5000);
    for (int i : {0, 1, 12, 123, 998, 999, 4567, 9998, 9999}) {
        CAPTURE(i);
        const size_t expected = i % 2;
        CHECK(registry.publish(fmt::format("p{}:y", i), "m") == expected);
        CHECK(subs[static_cast<size_t>(i % 100)]->take().size() == expected);
    }
}

TEST_CASE("channel_registry: patterns with an empty literal prefix") {
    ChannelRegistry registry;
    FakeSubscriber a;
    registry.psubscribe(a, "*x");
    registry.psubscribe(a, "?y");
    registry.psubscribe(a, "[ab]z");
    registry.psubscribe(a, "\\*w");
    CHECK(registry.publish("x", "1") == 1);
    CHECK(registry.publish("abx", "2") == 1);
    CHECK(registry.publish("ay", "3") == 1);
    CHECK(registry.publish("bz", "4") == 1);
    CHECK(registry.publish("*w", "5") == 1);
    CHECK(registry.publish("cz", "6") == 0);
    CHECK(registry.publish("aw", "7") == 0);
    CHECK(registry.publish("xy", "8") == 1);  // "?y"
    CHECK(registry.publish("y", "9") == 0);
    CHECK(a.take() == std::vector<std::string>{pmessage("*x", "x", "1"), pmessage("*x", "abx", "2"),
                                               pmessage("?y", "ay", "3"), pmessage("[ab]z", "bz", "4"),
                                               pmessage("\\*w", "*w", "5"), pmessage("?y", "xy", "8")});
}

TEST_CASE("channel_registry: patterns longer than the channel") {
    ChannelRegistry registry;
    FakeSubscriber a;
    registry.psubscribe(a, "abcdef*");
    registry.psubscribe(a, "abc?");
    registry.psubscribe(a, "abc*");  // prefix as long as the channel "abc"
    registry.psubscribe(a, "abc\\*");
    CHECK(registry.publish("abc", "1") == 1);
    CHECK(a.take() == std::vector<std::string>{pmessage("abc*", "abc", "1")});
    CHECK(registry.publish("ab", "2") == 0);
    CHECK(registry.publish("a", "3") == 0);
    CHECK(registry.publish("", "4") == 0);
    CHECK(a.take().empty());
    CHECK(registry.publish("abcd", "5") == 2);  // abc?, abc*
    CHECK(sorted(a.take()) == sorted(std::vector<std::string>{pmessage("abc?", "abcd", "5"),
                                                              pmessage("abc*", "abcd", "5")}));
    CHECK(registry.publish("abc*", "6") == 3);  // abc?, abc*, abc\*
    CHECK(sorted(a.take()) == sorted(std::vector<std::string>{pmessage("abc?", "abc*", "6"),
                                                              pmessage("abc*", "abc*", "6"),
                                                              pmessage("abc\\*", "abc*", "6")}));
    CHECK(registry.publish("abcdef", "7") == 2);  // abcdef*, abc*
    CHECK(sorted(a.take()) == sorted(std::vector<std::string>{pmessage("abcdef*", "abcdef", "7"),
                                                              pmessage("abc*", "abcdef", "7")}));
}

TEST_CASE("channel_registry: patterns sharing a literal prefix survive each other's removal") {
    // Several patterns with the prefix "ab" are indexed together; removing the first one
    // subscribed (and reusing its memory) must not break matching for the others.
    ChannelRegistry registry;
    FakeSubscriber a;
    FakeSubscriber b;
    CHECK(registry.psubscribe(a, "ab*"));
    CHECK(registry.psubscribe(b, "ab?"));
    CHECK(registry.punsubscribe(a, "ab*"));
    // New names of the same size likely take the freed memory.
    for (int i = 0; i < 8; ++i) {
        registry.subscribe(a, fmt::format("zz{}", i));
        registry.psubscribe(a, fmt::format("yy{}*", i));
    }
    CHECK(registry.publish("abc", "m") == 1);
    CHECK(b.take() == std::vector<std::string>{pmessage("ab?", "abc", "m")});
    CHECK(a.take().empty());
    // The same with remove() instead of punsubscribe().
    FakeSubscriber c;
    FakeSubscriber d;
    CHECK(registry.psubscribe(c, "news.*"));
    CHECK(registry.psubscribe(d, "news.?"));
    CHECK(registry.psubscribe(d, "news.[xy]"));
    registry.remove(c);
    for (int i = 0; i < 8; ++i) registry.subscribe(c, fmt::format("ww{}", i));
    CHECK(registry.publish("news.x", "m") == 2);
    CHECK(sorted(d.take()) == sorted(std::vector<std::string>{pmessage("news.?", "news.x", "m"),
                                                              pmessage("news.[xy]", "news.x", "m")}));
}

TEST_CASE("channel_registry: shard channels are a namespace of their own") {
    ChannelRegistry registry;
    FakeSubscriber shard, plain, pattern, resp3(RespVersion::resp3);
    CHECK(registry.ssubscribe(shard, "news"));
    CHECK_FALSE(registry.ssubscribe(shard, "news"));
    CHECK(registry.ssubscribe(resp3, "news"));
    CHECK(registry.subscribe(plain, "news"));
    CHECK(registry.psubscribe(pattern, "n*"));
    CHECK(shard.shard_channel_count() == 1);
    CHECK(shard.subscription_count() == 0);
    CHECK(shard.has_subscriptions());
    CHECK(registry.shard_channel_count() == 1);
    CHECK(registry.channel_count() == 1);
    CHECK(registry.shard_subscriber_count("news") == 2);
    CHECK(registry.subscriber_count("news") == 1);

    // SPUBLISH reaches shard subscribers only, as smessage; PUBLISH never reaches them.
    CHECK(registry.spublish("news", "hi") == 2);
    CHECK(shard.take() == std::vector<std::string>{"*3\r\n$8\r\nsmessage\r\n" + bulk("news") + bulk("hi")});
    CHECK(resp3.take() == std::vector<std::string>{">3\r\n$8\r\nsmessage\r\n" + bulk("news") + bulk("hi")});
    CHECK(plain.take().empty());
    CHECK(pattern.take().empty());
    CHECK(registry.publish("news", "x") == 2);
    CHECK(shard.take().empty());
    CHECK(registry.spublish("other", "x") == 0);

    CHECK(strings(registry.shard_channels_matching(std::nullopt)) == std::vector<std::string>{"news"});
    CHECK(registry.shard_channels_matching("x*").empty());
    CHECK(shard.shard_channel_names() == std::vector<std::string>{"news"});

    CHECK_FALSE(registry.sunsubscribe(plain, "news"));
    CHECK(registry.sunsubscribe(shard, "news"));
    registry.remove(resp3);
    CHECK(registry.shard_channel_count() == 0);
    CHECK(registry.shard_subscriber_count("news") == 0);
    CHECK_FALSE(shard.has_subscriptions());
    CHECK(registry.channel_count() == 1);
}

TEST_CASE("channel_registry: patterns that differ only after a star are told apart by suffix") {
    ChannelRegistry registry;
    FakeSubscriber everything, one;
    CHECK(registry.psubscribe(everything, "bench:ch:*"));
    for (int i = 0; i < 10000; ++i) {
        CHECK(registry.psubscribe(one, fmt::format("bench:ch:*:x{}", i)));
    }
    CHECK(registry.publish("bench:ch:7", "m") == 1);
    CHECK(registry.publish("bench:ch:7:x42", "m") == 2);
    CHECK(registry.publish("bench:ch::x9999", "m") == 2);
    CHECK(registry.publish("bench:ch:x42", "m") == 1);
    CHECK(one.take() == std::vector<std::string>{pmessage("bench:ch:*:x42", "bench:ch:7:x42", "m"),
                                                 pmessage("bench:ch:*:x9999", "bench:ch::x9999", "m")});
    CHECK(registry.punsubscribe(one, "bench:ch:*:x42"));
    CHECK(registry.publish("bench:ch:7:x42", "m") == 1);
    registry.remove(one);
    CHECK(registry.pattern_count() == 1);
}
