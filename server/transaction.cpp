#include "server/transaction.hpp"

#include "server/command_table.hpp"

namespace backplane {

bool Transaction::queues(const CommandSpec& spec) const {
    if (!in_multi_) return false;
    const std::string_view name = spec.full_name;
    return name != "exec" && name != "discard" && name != "multi" && name != "watch" &&
           name != "quit" && name != "reset";
}

void Transaction::queue(const CommandSpec& spec, std::span<const std::string_view> args) {
    queued_.push_back({&spec, std::vector<std::string>(args.begin(), args.end())});
}

void Transaction::watch(size_t db, std::string_view key) {
    // An entry already expired is removed first, so that removal is not taken for a change.
    keyspace_.db(db).find(key, unix_time_ms());
    if (keyspace_.watch(db, key, watcher_)) watched_.emplace_back(db, std::string(key));
}

bool Transaction::watched_key_changed() {
    // Looking a key up deletes it when expired, which dirties this watcher (Redis's
    // isWatchedKeyExpired()).
    const int64_t now = unix_time_ms();
    for (const auto& [db, key] : watched_) {
        if (watcher_.dirty) break;
        keyspace_.db(db).find(key, now);
    }
    return watcher_.dirty;
}

void Transaction::unwatch_all() {
    for (const auto& [db, key] : watched_) keyspace_.unwatch(db, key, watcher_);
    watched_.clear();
    watcher_.dirty = false;
}

std::vector<Transaction::QueuedCommand> Transaction::take_queue() {
    std::vector<QueuedCommand> commands = std::move(queued_);
    discard();
    return commands;
}

void Transaction::discard() {
    unwatch_all();
    queued_.clear();
    in_multi_ = false;
    has_errors_ = false;
}

}  // namespace backplane
