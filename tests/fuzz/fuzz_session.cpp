// A whole client session without a network: the input bytes go to a real Session through a
// socketpair, every command runs against a real Server, and the replies come back out. Nothing
// may crash, leak or hang; two sessions share the registry, so pub/sub state is exercised too:
// the first input byte says where the input is split between them.

#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <cstdint>
#include <memory>

#include "server/server.hpp"
#include "server/session.hpp"

namespace {

using namespace backplane;

struct Client {
    int peer = -1;
    std::shared_ptr<Session> session;
};

Client connect(Server& server, asio::io_context& io) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) std::abort();
    Socket socket(io, asio::generic::stream_protocol(AF_UNIX, 0), fds[0]);
    Client client{fds[1],
                  std::make_shared<Session>(server, std::move(socket), "fuzz:0", "fuzz:0", true)};
    client.session->start();
    return client;
}

void drain(int fd) {
    char buffer[65536];
    while (read(fd, buffer, sizeof buffer) > 0) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0 || size > 64 * 1024) return 0;
    asio::io_context io(1);
    Config config;
    config.requirepass = (data[0] & 0x80) ? "secret" : "";
    config.pubsub_limit = BufferLimit{256 * 1024, 64 * 1024, 1};
    // A fuzzed EVAL may loop forever: stop it long before libFuzzer's per-input timeout.
    config.busy_reply_threshold = 20;
    Server server(io, config);
    Client first = connect(server, io);
    Client second = connect(server, io);
    const size_t split = std::min<size_t>(data[0] & 0x7f, size - 1) + 1;
    const auto* bytes = reinterpret_cast<const char*>(data);
    [[maybe_unused]] ssize_t ignored = write(first.peer, bytes + 1, split - 1);
    ignored = write(second.peer, bytes + split, size - split);
    for (int round = 0; round < 1000 && io.poll() > 0; ++round) {
        drain(first.peer);
        drain(second.peer);
    }
    first.session->stop();
    second.session->stop();
    io.poll();
    close(first.peer);
    close(second.peer);
    return 0;
}
