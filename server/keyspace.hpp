#pragma once
// The in-memory keyspace: one Database per `databases` index, holding string values with an
// optional expiry time (Unix milliseconds, as Redis's mstime()). Enough for the counters that
// classic ASP.NET SignalR keeps next to its channels (INCR + PUBLISH, WATCH/MULTI/EXEC).
//
// Expiry is lazy, as in Redis: every lookup first deletes its key if the time has passed; the
// server's 100 ms timer also calls expire_some() so keys nobody reads again are reclaimed.
//
// WATCH: a Watcher registers the (db, key) pairs it watches; every change to one of them
// (a write, a delete, an expiry, a flush that removes it) marks the watcher dirty, which is
// what EXEC checks. Writes cost one emptiness test when nobody watches anything.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace backplane {

/// Something that watches keys (a client's transaction): marked dirty when one changes.
struct Watcher {
    bool dirty = false;
};

/// Milliseconds since the Unix epoch, the clock expiry times are kept in.
int64_t unix_time_ms();

/// Transparent hashing so lookups by string_view do not build a std::string.
struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

class Database {
  public:
    struct Entry {
        std::string value;
        int64_t expires_at = 0;  ///< Unix ms; 0 for no expiry
    };

    /// The live entry for `key`, deleting it first if it has expired (lazy expiry).
    Entry* find(std::string_view key, int64_t now);
    /// Sets `key` to `value`; keeps the expiry only when `keep_ttl` (callers find() the key
    /// first, as Redis's lookupKeyWrite(), so an expired entry is gone by then).
    Entry& set(std::string_view key, std::string value, bool keep_ttl);
    /// Removes `key`; false when it did not exist (expired entries count as missing).
    bool erase(std::string_view key, int64_t now);
    /// Sets (0: clears) the expiry of an existing entry.
    void set_expiry(Entry& entry, std::string_view key, int64_t expires_at);
    /// Deletes expired keys, at most `limit` of them; returns how many.
    size_t expire_some(int64_t now, size_t limit);
    void clear();

    size_t size() const { return entries_.size(); }
    size_t expires() const { return by_expiry_.size(); }
    /// Average remaining time to live, in ms, of the keys with an expiry (0 without any).
    int64_t average_ttl(int64_t now) const;
    /// Every key whose entry is not expired at `now`, in no particular order.
    void for_each_live_key(int64_t now, const std::function<void(const std::string&)>& visit) const;

  private:
    friend class Keyspace;
    using Map = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;
    using WatchMap =
        std::unordered_map<std::string, std::vector<Watcher*>, KeyHash, std::equal_to<>>;
    void remove(Map::iterator it);
    /// Marks the watchers of `key` dirty; one emptiness test when nobody watches.
    void touch(std::string_view key) {
        if (!watched_.empty()) touch_watched(key);
    }
    void touch_watched(std::string_view key);

    class Keyspace* owner_ = nullptr;
    Map entries_;
    // Keys with an expiry, soonest first; the views point into entries_'s (stable) nodes.
    std::set<std::pair<int64_t, std::string_view>> by_expiry_;
    // Key -> the watchers of that key; usually empty.
    WatchMap watched_;
};

class Keyspace {
  public:
    /// `databases` is the configured count; a database is created when first used, so a huge
    /// `databases` setting costs nothing until SELECTed.
    explicit Keyspace(size_t databases) : database_count_(databases) {}
    Keyspace(const Keyspace&) = delete;
    Keyspace& operator=(const Keyspace&) = delete;

    /// Database `index` (below database_count()), created empty on first use.
    Database& db(size_t index);
    size_t database_count() const { return database_count_; }
    /// The databases used so far, by index.
    const std::map<size_t, Database>& used_databases() const { return databases_; }

    /// Registers `watcher` on `key` of database `db`; false when it already was. (Costs the
    /// number of watchers of that key, not the number of keys the watcher watches.)
    bool watch(size_t db, std::string_view key, Watcher& watcher);
    /// Removes `watcher` from `key` of database `db`.
    void unwatch(size_t db, std::string_view key, Watcher& watcher);
    /// Empties database `db` (FLUSHDB), dirtying the watchers of the keys it held.
    void flush(size_t db);
    /// Empties every database (FLUSHALL).
    void flush_all();

    /// The cron's cheap active expiry: up to `limit` expired keys per database.
    void expire_some(int64_t now, size_t limit);

    uint64_t expired_keys = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;

  private:
    size_t database_count_;
    // Nodes never move, so each Database keeps its address (sessions' watchers rely on it).
    std::map<size_t, Database> databases_;
};

}  // namespace backplane
