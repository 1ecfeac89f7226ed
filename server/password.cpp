#include "server/password.hpp"

#include <openssl/sha.h>

namespace backplane {

std::string password_hash(std::string_view password) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(password.data()), password.size(), digest);
    static constexpr char hex_digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * SHA256_DIGEST_LENGTH);
    for (unsigned char byte : digest) {
        hex += hex_digits[byte >> 4];
        hex += hex_digits[byte & 0xf];
    }
    return hex;
}

}  // namespace backplane
