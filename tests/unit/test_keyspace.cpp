// Keyspace and Transaction: per-database values, lazy and active expiry, the expiry index kept
// in step with the entries, and WATCH's dirty marking (writes, deletes, expiry, flushes),
// plus a random walk checked against a plain std::map model.

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "server/keyspace.hpp"
#include "server/transaction.hpp"

using backplane::Database;
using backplane::Keyspace;
using backplane::Transaction;
using backplane::Watcher;

TEST_CASE("keyspace: databases are separate") {
    Keyspace keyspace(3);
    CHECK(keyspace.database_count() == 3);
    keyspace.db(0).set("k", "zero", false);
    keyspace.db(2).set("k", "two", false);
    REQUIRE(keyspace.db(0).find("k", 0) != nullptr);
    CHECK(keyspace.db(0).find("k", 0)->value == "zero");
    CHECK(keyspace.db(1).find("k", 0) == nullptr);
    CHECK(keyspace.db(2).find("k", 0)->value == "two");
    keyspace.flush(0);
    CHECK(keyspace.db(0).size() == 0);
    CHECK(keyspace.db(2).size() == 1);
    keyspace.flush_all();
    CHECK(keyspace.db(2).size() == 0);
}

TEST_CASE("keyspace: databases exist once used") {
    Keyspace keyspace(2000000000);
    CHECK(keyspace.database_count() == 2000000000);
    CHECK(keyspace.used_databases().empty());
    keyspace.db(1999999999).set("k", "v", false);
    CHECK(keyspace.used_databases().size() == 1);
    CHECK(&keyspace.db(1999999999) == &keyspace.used_databases().at(1999999999));
}

TEST_CASE("keyspace: lazy expiry deletes on lookup and counts") {
    Keyspace keyspace(1);
    Database& db = keyspace.db(0);
    Database::Entry& entry = db.set("k", "v", false);
    db.set_expiry(entry, "k", 1000);
    CHECK(db.expires() == 1);
    CHECK(db.find("k", 999) != nullptr);
    CHECK(db.find("k", 1000) == nullptr);
    CHECK(db.size() == 0);
    CHECK(db.expires() == 0);
    CHECK(keyspace.expired_keys == 1);
    CHECK_FALSE(db.erase("k", 1000));
}

TEST_CASE("keyspace: set clears or keeps the expiry") {
    Keyspace keyspace(1);
    Database& db = keyspace.db(0);
    db.set_expiry(db.set("k", "v", false), "k", 5000);
    CHECK(db.set("k", "w", true).expires_at == 5000);
    CHECK(db.expires() == 1);
    CHECK(db.set("k", "x", false).expires_at == 0);
    CHECK(db.expires() == 0);
    db.set_expiry(*db.find("k", 0), "k", 7000);
    db.set_expiry(*db.find("k", 0), "k", 8000);
    CHECK(db.expires() == 1);
    CHECK(db.average_ttl(6000) == 2000);
    db.set_expiry(*db.find("k", 0), "k", 0);
    CHECK(db.expires() == 0);
    CHECK(db.average_ttl(6000) == 0);
}

TEST_CASE("keyspace: active expiry is bounded and soonest first") {
    Keyspace keyspace(2);
    for (int i = 0; i < 10; ++i) {
        const std::string key = fmt::format("k{}", i);
        keyspace.db(1).set_expiry(keyspace.db(1).set(key, "v", false), key, 100 + i);
    }
    keyspace.db(1).set("forever", "v", false);
    keyspace.expire_some(104, 3);
    CHECK(keyspace.db(1).size() == 8);
    CHECK(keyspace.db(1).find("k0", 0) == nullptr);
    CHECK(keyspace.db(1).find("k3", 0) != nullptr);
    keyspace.expire_some(1000, 100);
    CHECK(keyspace.db(1).size() == 1);
    CHECK(keyspace.db(1).expires() == 0);
    CHECK(keyspace.expired_keys == 10);
}

TEST_CASE("keyspace: live keys skip expired entries") {
    Keyspace keyspace(1);
    Database& db = keyspace.db(0);
    db.set("a", "1", false);
    db.set_expiry(db.set("b", "2", false), "b", 10);
    std::set<std::string> seen;
    db.for_each_live_key(20, [&](const std::string& key) { seen.insert(key); });
    CHECK(seen == std::set<std::string>{"a"});
    CHECK(db.size() == 2);  // not deleted by listing, as Redis's KEYS
}

TEST_CASE("watch: writes, deletes, expiry and flushes dirty the watcher") {
    Keyspace keyspace(2);
    Database& db = keyspace.db(0);
    Watcher watcher;
    CHECK(keyspace.watch(0, "k", watcher));
    CHECK_FALSE(keyspace.watch(0, "k", watcher));
    db.set("other", "v", false);
    keyspace.db(1).set("k", "v", false);
    CHECK_FALSE(watcher.dirty);
    db.set("k", "v", false);
    CHECK(watcher.dirty);

    watcher.dirty = false;
    CHECK_FALSE(db.erase("missing", 0));
    CHECK_FALSE(watcher.dirty);
    CHECK(db.erase("k", 0));
    CHECK(watcher.dirty);

    watcher.dirty = false;
    db.set_expiry(db.set("k", "v", false), "k", 50);
    watcher.dirty = false;
    CHECK(db.find("k", 60) == nullptr);
    CHECK(watcher.dirty);

    watcher.dirty = false;
    db.set_expiry(db.set("k", "v", false), "k", 50);
    watcher.dirty = false;
    keyspace.expire_some(60, 10);
    CHECK(watcher.dirty);

    watcher.dirty = false;
    keyspace.flush(0);  // k is gone already: a flush that removes nothing watched is no change
    CHECK_FALSE(watcher.dirty);
    db.set("k", "v", false);
    watcher.dirty = false;
    keyspace.flush_all();
    CHECK(watcher.dirty);

    keyspace.unwatch(0, "k", watcher);
    watcher.dirty = false;
    db.set("k", "v", false);
    CHECK_FALSE(watcher.dirty);
}

TEST_CASE("transaction: watch once, unwatch all, expired keys at EXEC") {
    Keyspace keyspace(1);
    Database& db = keyspace.db(0);
    Transaction transaction(keyspace);
    transaction.watch(0, "k");
    transaction.watch(0, "k");
    CHECK_FALSE(transaction.watched_key_changed());
    db.set("k", "v", false);
    CHECK(transaction.watched_key_changed());
    transaction.unwatch_all();
    CHECK_FALSE(transaction.dirty());
    db.set("k", "w", false);
    CHECK_FALSE(transaction.watched_key_changed());

    // A key that expires after WATCH is a change, even if nobody reads it before EXEC.
    db.set_expiry(*db.find("k", 0), "k", backplane::unix_time_ms() + 30);
    transaction.watch(0, "k");
    CHECK_FALSE(transaction.watched_key_changed());
    db.find("k", 0);  // a read before expiry changes nothing
    CHECK_FALSE(transaction.dirty());
    const int64_t later = backplane::unix_time_ms() + 100;
    while (backplane::unix_time_ms() < later) {
    }
    CHECK(transaction.watched_key_changed());

    // Queueing and discard.
    transaction.discard();
    CHECK_FALSE(transaction.in_multi());
    transaction.begin();
    transaction.flag_error();
    CHECK(transaction.has_errors());
    transaction.discard();
    CHECK_FALSE(transaction.has_errors());
    transaction.flag_error();  // outside MULTI: nothing
    CHECK_FALSE(transaction.has_errors());
}

TEST_CASE("transaction: watching many keys costs no time per key already watched") {
    // WATCH with 200,000 keys (a list scan per key would take minutes), each named twice.
    Keyspace keyspace(1);
    Transaction transaction(keyspace);
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 200000; ++i) transaction.watch(0, std::to_string(i));
    }
    keyspace.db(0).set("199999", "v", false);
    CHECK(transaction.watched_key_changed());
    transaction.unwatch_all();
    keyspace.db(0).set("0", "v", false);
    CHECK_FALSE(transaction.dirty());
}

TEST_CASE("transaction: a destroyed transaction leaves no watcher behind") {
    Keyspace keyspace(1);
    {
        Transaction transaction(keyspace);
        transaction.watch(0, "k");
    }
    keyspace.db(0).set("k", "v", false);  // would touch a dangling watcher (ASan) otherwise
    CHECK(keyspace.db(0).size() == 1);
}

TEST_CASE("keyspace: random operations agree with a model") {
    Keyspace keyspace(1);
    Database& db = keyspace.db(0);
    std::map<std::string, std::pair<std::string, int64_t>> model;
    std::mt19937 random(7);
    int64_t now = 1000;
    for (int step = 0; step < 20000; ++step) {
        const std::string key = fmt::format("k{}", random() % 50);
        now += random() % 3;
        // The model expires lazily too.
        const auto live = [&](const std::string& name) {
            const auto it = model.find(name);
            if (it == model.end()) return false;
            if (it->second.second != 0 && it->second.second <= now) {
                model.erase(it);
                return false;
            }
            return true;
        };
        switch (random() % 6) {
            case 0:
            case 1: {
                // As every command does, look the key up (expiring it) before writing it.
                const bool keep = random() % 2;
                const std::string value = std::to_string(step);
                const bool existed = db.find(key, now) != nullptr;
                CHECK(existed == live(key));
                db.set(key, value, keep);
                const int64_t expiry = keep && existed ? model[key].second : 0;
                model[key] = {value, expiry};
                break;
            }
            case 2: {
                const bool existed = live(key);
                CHECK(db.erase(key, now) == existed);
                model.erase(key);
                break;
            }
            case 3: {
                Database::Entry* entry = db.find(key, now);
                REQUIRE((entry != nullptr) == live(key));
                if (entry) {
                    const int64_t when = random() % 3 == 0 ? 0 : now + 1 + random() % 20;
                    db.set_expiry(*entry, key, when);
                    model[key].second = when;
                }
                break;
            }
            case 4: {
                Database::Entry* entry = db.find(key, now);
                REQUIRE((entry != nullptr) == live(key));
                if (entry) CHECK(entry->value == model[key].first);
                break;
            }
            default:
                keyspace.expire_some(now, 5);
                break;
        }
    }
    keyspace.expire_some(now + 1000, 1000);
    std::erase_if(model, [](const auto& entry) { return entry.second.second != 0; });
    CHECK(db.size() == model.size());
    CHECK(db.expires() == 0);
}
