#pragma once

#include <string_view>

#include "server/command_table.hpp"

namespace backplane::commands {

/// Names the client (an empty name clears it); replies with Redis's error and returns false
/// when the name has spaces, newlines or other bytes outside '!'..'~'.
bool set_client_name(CommandContext& context, std::string_view name);

}  // namespace backplane::commands
