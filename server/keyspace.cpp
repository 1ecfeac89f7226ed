#include "server/keyspace.hpp"

#include <algorithm>
#include <chrono>

namespace backplane {

int64_t unix_time_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Database::Entry* Database::find(std::string_view key, int64_t now) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    if (it->second.expires_at != 0 && it->second.expires_at <= now) {
        const std::string expired = it->first;
        remove(it);
        if (owner_) ++owner_->expired_keys;
        touch(expired);
        return nullptr;
    }
    return &it->second;
}

Database::Entry& Database::set(std::string_view key, std::string value, bool keep_ttl) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        it = entries_.emplace(std::string(key), Entry{}).first;
    } else if (!keep_ttl && it->second.expires_at != 0) {
        by_expiry_.erase({it->second.expires_at, it->first});
        it->second.expires_at = 0;
    }
    it->second.value = std::move(value);
    touch(key);
    return it->second;
}

bool Database::erase(std::string_view key, int64_t now) {
    if (!find(key, now)) return false;
    const auto it = entries_.find(key);
    remove(it);
    touch(key);
    return true;
}

void Database::set_expiry(Entry& entry, std::string_view key, int64_t expires_at) {
    const auto it = entries_.find(key);
    if (entry.expires_at != 0) by_expiry_.erase({entry.expires_at, it->first});
    entry.expires_at = expires_at;
    if (expires_at != 0) by_expiry_.emplace(expires_at, it->first);
    touch(key);
}

size_t Database::expire_some(int64_t now, size_t limit) {
    size_t removed = 0;
    while (removed < limit && !by_expiry_.empty() && by_expiry_.begin()->first <= now) {
        const std::string key(by_expiry_.begin()->second);
        remove(entries_.find(key));
        ++removed;
        touch(key);
    }
    return removed;
}

void Database::remove(Map::iterator it) {
    if (it->second.expires_at != 0) by_expiry_.erase({it->second.expires_at, it->first});
    entries_.erase(it);
}

void Database::clear() {
    by_expiry_.clear();
    entries_.clear();
}

int64_t Database::average_ttl(int64_t now) const {
    if (by_expiry_.empty()) return 0;
    int64_t total = 0;
    for (const auto& [expires_at, key] : by_expiry_)
        total += std::max<int64_t>(expires_at - now, 0);
    return total / static_cast<int64_t>(by_expiry_.size());
}

void Database::for_each_live_key(int64_t now,
                                 const std::function<void(const std::string&)>& visit) const {
    for (const auto& [key, entry] : entries_) {
        if (entry.expires_at == 0 || entry.expires_at > now) visit(key);
    }
}

void Database::touch_watched(std::string_view key) {
    const auto it = watched_.find(key);
    if (it == watched_.end()) return;
    for (Watcher* watcher : it->second) watcher->dirty = true;
}

Database& Keyspace::db(size_t index) {
    const auto [it, created] = databases_.try_emplace(index);
    if (created) it->second.owner_ = this;
    return it->second;
}

bool Keyspace::watch(size_t db, std::string_view key, Watcher& watcher) {
    auto& watched = this->db(db).watched_;
    auto it = watched.find(key);
    if (it == watched.end()) it = watched.emplace(std::string(key), 0).first;
    auto& watchers = it->second;
    if (std::find(watchers.begin(), watchers.end(), &watcher) != watchers.end()) return false;
    watchers.push_back(&watcher);
    return true;
}

void Keyspace::unwatch(size_t db, std::string_view key, Watcher& watcher) {
    auto& watched = this->db(db).watched_;
    const auto it = watched.find(key);
    if (it == watched.end()) return;
    auto& watchers = it->second;
    watchers.erase(std::remove(watchers.begin(), watchers.end(), &watcher), watchers.end());
    if (watchers.empty()) watched.erase(it);
}

void Keyspace::flush(size_t db) {
    Database& database = this->db(db);
    // As Redis's touchAllWatchedKeysInDb: only watched keys the flush removes count as changed.
    // An entry that expired after WATCH counts too (EXEC would have seen it expire).
    for (auto& [key, watchers] : database.watched_) {
        if (!database.entries_.contains(key)) continue;
        for (Watcher* watcher : watchers) watcher->dirty = true;
    }
    database.clear();
}

void Keyspace::flush_all() {
    for (auto& entry : databases_) flush(entry.first);
}

void Keyspace::expire_some(int64_t now, size_t limit) {
    for (auto& entry : databases_) expired_keys += entry.second.expire_some(now, limit);
}

}  // namespace backplane
