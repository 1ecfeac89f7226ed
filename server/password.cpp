#include "server/password.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace backplane {

bool constant_time_password_equal(std::string_view candidate, std::string_view password) {
    unsigned char candidate_digest[SHA256_DIGEST_LENGTH];
    unsigned char password_digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(candidate.data()), candidate.size(),
           candidate_digest);
    SHA256(reinterpret_cast<const unsigned char*>(password.data()), password.size(),
           password_digest);
    return CRYPTO_memcmp(candidate_digest, password_digest, SHA256_DIGEST_LENGTH) == 0;
}

}  // namespace backplane
