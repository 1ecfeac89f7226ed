#pragma once
// What the keyspace commands share: the client's selected database, reads that count
// keyspace hits and misses, and the expiry-time error.

#include <string_view>

#include "server/command_table.hpp"
#include "server/keyspace.hpp"

namespace backplane::commands {

/// The database the client has SELECTed.
Database& database(CommandContext& context);
/// The live entry for `key` in the client's database, or null; counts a hit or a miss.
const Database::Entry* lookup_read(CommandContext& context, std::string_view key);
/// `-ERR invalid expire time in '<command>' command`.
void reply_invalid_expire_time(CommandContext& context);

}  // namespace backplane::commands
