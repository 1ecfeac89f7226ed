#include "server_connection.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "resp_reader.hpp"
#include "tls.hpp"

namespace bench {
namespace {

[[noreturn]] void fail(std::string_view what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

int connect_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("unix socket path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        fail(fmt::format("connect {}", path));
    }
    return fd;
}

int connect_tcp(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        throw std::runtime_error(fmt::format("resolve {}: {}", host, gai_strerror(rc)));
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            const int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        close(fd);
    }
    fail(fmt::format("connect {}:{}", host, port));
}

}  // namespace

std::string resp_command(const std::vector<std::string>& args) {
    std::string out = fmt::format("*{}\r\n", args.size());
    for (const std::string& arg : args) {
        out += fmt::format("${}\r\n", arg.size());
        out += arg;
        out += "\r\n";
    }
    return out;
}

void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = tls::transmit(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("send");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void expect_replies(int fd, size_t count, std::string_view kind) {
    std::vector<char> buffer(64 * 1024);
    size_t begin = 0;
    size_t end = 0;
    while (count > 0) {
        RespReply reply;
        size_t consumed = 0;
        const ParseStatus status = parse_reply(buffer.data() + begin, end - begin, reply, consumed);
        if (status == ParseStatus::kMalformed) throw std::runtime_error("malformed reply");
        if (status == ParseStatus::kComplete) {
            begin += consumed;
            --count;
            const RespValue& first = reply.size > 0 ? reply.items[0] : reply.value;
            const bool status_wanted = kind.starts_with('+');
            const std::string_view wanted = status_wanted ? kind.substr(1) : kind;
            if (first.type != (status_wanted ? '+' : '$') || first.str != wanted) {
                throw std::runtime_error(
                    fmt::format("expected {} reply, got '{}'", kind, first.str));
            }
            continue;
        }
        if (begin > 0) {
            std::memmove(buffer.data(), buffer.data() + begin, end - begin);
            end -= begin;
            begin = 0;
        }
        if (end == buffer.size()) buffer.resize(buffer.size() * 2);
        const ssize_t n = tls::receive(fd, buffer.data() + end, buffer.size() - end);
        if (n == 0) throw std::runtime_error(fmt::format("server closed while awaiting {}", kind));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("recv");
        }
        end += static_cast<size_t>(n);
    }
}

int open_connection(const Options& options) {
    const int fd = options.unix_socket.empty() ? connect_tcp(options.host, options.port)
                                               : connect_unix(options.unix_socket);
    try {
        tls::attach(fd);
    } catch (...) {
        close(fd);
        throw;
    }
    if (!options.password.empty()) {
        try {
            send_all(fd, resp_command({"AUTH", options.password}));
            expect_replies(fd, 1, "+OK");
        } catch (...) {
            close(fd);
            throw;
        }
    }
    return fd;
}

void set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) fail("fcntl");
}

}  // namespace bench
