#pragma once
// Password checks that take the same time whatever the candidate shares with the password.

#include <string_view>

namespace backplane {

/// Compares SHA-256 digests of both strings with CRYPTO_memcmp, as Redis's ACL code compares
/// fixed-length hashes: neither the contents nor the length of the password leak through timing.
bool constant_time_password_equal(std::string_view candidate, std::string_view password);

}  // namespace backplane
