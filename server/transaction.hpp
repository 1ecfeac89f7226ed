#pragma once
// A client's MULTI/EXEC state and its WATCHed keys, with the semantics of Redis's multi.c.
//
// Inside MULTI, dispatch() asks queues() whether to run a command or queue it; a queued command
// keeps copies of its arguments (the request's views point into the reused read buffer) and is
// answered `+QUEUED`. A command rejected while queueing (unknown, wrong arity, NOAUTH, wrong
// context) marks the transaction so EXEC replies `-EXECABORT ...`. WATCHed keys register a
// Watcher with the keyspace, which marks it dirty when any client changes one of them; EXEC
// then replies a null array (`*-1\r\n`, RESP3 `_\r\n`) and runs nothing.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/keyspace.hpp"

namespace backplane {

struct CommandSpec;

class Transaction {
  public:
    struct QueuedCommand {
        const CommandSpec* spec;
        std::vector<std::string> args;
    };

    explicit Transaction(Keyspace& keyspace) : keyspace_(keyspace) {}
    ~Transaction() { unwatch_all(); }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    bool in_multi() const { return in_multi_; }
    /// True while EXEC runs the queued commands (Redis's CLIENT_DENY_BLOCKING context).
    bool executing() const { return executing_; }
    /// MULTI: starts queueing.
    void begin() { in_multi_ = true; }
    /// True when, inside MULTI, `spec` must be queued rather than run: everything except
    /// EXEC, DISCARD, MULTI, WATCH, QUIT and RESET.
    bool queues(const CommandSpec& spec) const;
    /// Queues a command that passed dispatch's checks, copying its arguments.
    void queue(const CommandSpec& spec, std::span<const std::string_view> args);
    /// Records that a command was rejected inside MULTI; nothing outside MULTI.
    void flag_error() {
        if (in_multi_) has_errors_ = true;
    }
    bool has_errors() const { return has_errors_; }
    size_t queued_count() const { return queued_.size(); }

    /// WATCH: watches `key` of database `db` (once, however often it is named).
    void watch(size_t db, std::string_view key);
    /// True when a watched key was changed, or has expired, since it was watched.
    bool watched_key_changed();
    bool dirty() const { return watcher_.dirty; }
    /// UNWATCH: forgets every watched key.
    void unwatch_all();

    /// Leaves MULTI and hands over the queued commands, unwatching every key (EXEC).
    std::vector<QueuedCommand> take_queue();
    /// DISCARD, RESET, a failed EXEC, a closed connection: back to no transaction, no watches.
    void discard();
    void set_executing(bool value) { executing_ = value; }

  private:
    Keyspace& keyspace_;
    bool in_multi_ = false;
    bool has_errors_ = false;
    bool executing_ = false;
    std::vector<QueuedCommand> queued_;
    Watcher watcher_;
    std::vector<std::pair<size_t, std::string>> watched_;
};

}  // namespace backplane
