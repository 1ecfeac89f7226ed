#include "server/peer_address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace backplane {
namespace {

/// Formats `address`; sets `ip` to the bare IP text.
std::string format(const sockaddr_storage& address, std::string& ip) {
    char text[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (address.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
        inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
        port = ntohs(v4.sin_port);
    } else if (address.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
        inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
        port = ntohs(v6.sin6_port);
    }
    ip = text;
    return std::strchr(text, ':') ? fmt::format("[{}]:{}", text, port)
                                  : fmt::format("{}:{}", text, port);
}

}  // namespace

PeerAddress peer_address(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {"?:0", false};
    std::string ip;
    PeerAddress peer{format(address, ip), false};
    peer.loopback = ip == "127.0.0.1" || ip == "::1";
    return peer;
}

std::string local_address(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?:0";
    std::string ip;
    return format(address, ip);
}

}  // namespace backplane
