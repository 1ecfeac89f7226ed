#pragma once
// How passwords are kept: as SHA-256 digests, compared in constant time by the ACL code.

#include <string>
#include <string_view>

namespace backplane {

/// Lowercase hex SHA-256 of `password`: how ACL users keep passwords and show them (`#<hash>`).
std::string password_hash(std::string_view password);

}  // namespace backplane
