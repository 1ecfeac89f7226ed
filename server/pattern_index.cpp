#include "server/pattern_index.hpp"

#include <algorithm>

#include "server/channel_registry.hpp"
#include "server/glob.hpp"

namespace backplane {
namespace {

template <typename Map>
auto& slot(Map& by_length, std::string_view literal) {
    auto& texts = by_length[literal.size()];
    auto it = texts.find(literal);
    if (it == texts.end())
        it = texts.emplace(std::string(literal), typename Map::mapped_type::mapped_type{}).first;
    return it->second;
}

}  // namespace

void PatternIndex::add(SubscriberList* list) {
    auto& suffixes = slot(by_prefix_, glob_literal_prefix(list->name));
    slot(suffixes, glob_literal_suffix(list->name)).push_back(list);
}

void PatternIndex::remove(SubscriberList* list) {
    const std::string_view prefix = glob_literal_prefix(list->name);
    const std::string_view suffix = glob_literal_suffix(list->name);
    auto prefix_length = by_prefix_.find(prefix.size());
    auto prefix_entry = prefix_length->second.find(prefix);
    auto& by_suffix = prefix_entry->second;
    auto suffix_length = by_suffix.find(suffix.size());
    auto suffix_entry = suffix_length->second.find(suffix);
    std::erase(suffix_entry->second, list);
    if (suffix_entry->second.empty()) suffix_length->second.erase(suffix_entry);
    if (suffix_length->second.empty()) by_suffix.erase(suffix_length);
    if (by_suffix.empty()) prefix_length->second.erase(prefix_entry);
    if (prefix_length->second.empty()) by_prefix_.erase(prefix_length);
}

}  // namespace backplane
