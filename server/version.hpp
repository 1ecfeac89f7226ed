#pragma once

#include <string_view>

namespace backplane {

inline constexpr std::string_view backplane_version = "0.1.0";
/// The Redis version whose behaviour we reproduce, reported where clients look for a Redis
/// version (INFO redis_version, HELLO): clients pick features by it.
inline constexpr std::string_view redis_compatible_version = "7.0.15";

}  // namespace backplane
