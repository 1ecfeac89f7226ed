#pragma once

#include <string_view>

#include "server/command_table.hpp"

namespace backplane::commands {

/// Names the client (an empty name clears it); replies with Redis's error and returns false
/// when the name has spaces, newlines or other bytes outside '!'..'~'.
bool set_client_name(CommandContext& context, std::string_view name);

/// Redis's validateClientName(): printable ASCII without spaces.
bool valid_client_name(std::string_view name);
void reply_invalid_client_name(CommandContext& context);

}  // namespace backplane::commands
