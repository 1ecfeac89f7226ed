#pragma once
// Addresses of a connected socket, formatted as Redis formats them in CLIENT LIST:
// `127.0.0.1:50000`, `[::1]:50000`.

#include <string>

namespace backplane {

struct PeerAddress {
    std::string text;
    /// Redis's islocalClient(): the peer is exactly 127.0.0.1 or ::1.
    bool loopback = false;
};

PeerAddress peer_address(int fd);
std::string local_address(int fd);

}  // namespace backplane
