#pragma once
// Patterns indexed by the literal text every match must begin with and end with, so a
// publish glob-matches only the patterns whose literal prefix and suffix the channel has,
// instead of every pattern (Redis tests them all). With 10,000 patterns like
// `chat:*:room1234` a publish does a few hash lookups and one or two glob matches.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace backplane {

struct SubscriberList;

class PatternIndex {
  public:
    /// Indexes the pattern `list->name`.
    void add(SubscriberList* list);
    /// Forgets the pattern `list->name`.
    void remove(SubscriberList* list);
    bool empty() const { return by_prefix_.empty(); }

    /// Calls `visit(list)` for each pattern that may match `channel`: its prefix starts the
    /// channel and its suffix ends it. The caller still glob-matches each one.
    template <typename Visit>
    void for_each_candidate(std::string_view channel, Visit&& visit) const {
        for (const auto& [prefix_length, prefixes] : by_prefix_) {
            if (prefix_length > channel.size()) break;
            auto prefix = prefixes.find(channel.substr(0, prefix_length));
            if (prefix == prefixes.end()) continue;
            const size_t rest = channel.size() - prefix_length;
            for (const auto& [suffix_length, suffixes] : prefix->second) {
                if (suffix_length > rest) break;
                auto suffix = suffixes.find(channel.substr(channel.size() - suffix_length));
                if (suffix == suffixes.end()) continue;
                for (SubscriberList* list : suffix->second) visit(list);
            }
        }
    }

  private:
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // Literal text by its length, then by the text: owned strings, since the pattern a text
    // was first seen in may go away while others with the same text remain.
    template <typename Value>
    using ByLiteral =
        std::map<size_t, std::unordered_map<std::string, Value, StringHash, std::equal_to<>>>;

    ByLiteral<ByLiteral<std::vector<SubscriberList*>>> by_prefix_;
};

}  // namespace backplane
