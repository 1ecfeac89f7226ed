// backplane-server [config-file] [--directive value ...]

#include <signal.h>

#include <asio.hpp>
#include <cstdio>
#include <string_view>
#include <vector>

#include "server/config.hpp"
#include "server/log.hpp"
#include "server/server.hpp"
#include "server/version.hpp"

namespace {

void print_usage() {
    std::puts(
        "Usage: ./backplane-server [/path/to/redis.conf] [options]\n"
        "       ./backplane-server -v or --version\n"
        "       ./backplane-server -h or --help\n\n"
        "Examples:\n"
        "       ./backplane-server (run the server with default config)\n"
        "       ./backplane-server /etc/backplane/redis.conf\n"
        "       ./backplane-server --port 7777\n"
        "       ./backplane-server /etc/myredis.conf --requirepass secret --loglevel verbose");
}

}  // namespace

int main(int argc, char** argv) {
    using namespace backplane;
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.size() == 1 && (args[0] == "-v" || args[0] == "--version")) {
        fmt::print("Backplane server v={} (Redis {} compatible)\n", backplane_version,
                   redis_compatible_version);
        return 0;
    }
    if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
        print_usage();
        return 0;
    }
    Config config;
    try {
        config = load_config(args);
    } catch (const ConfigError& error) {
        std::fputs(error.what(), stderr);
        return 1;
    }
    log::open(config.logfile);
    log::set_level(config.loglevel);
    ::signal(SIGPIPE, SIG_IGN);
    log::at(LogLevel::warning, "oO0OoO0OoO0Oo Backplane is starting oO0OoO0OoO0Oo");
    log::at(LogLevel::warning, "Backplane version={}, bits={}, pid={}, just started",
            backplane_version, sizeof(void*) * 8, getpid());
    log::at(LogLevel::warning, "{}",
            config.config_file.empty()
                ? "Warning: no config file specified, using the default config."
                : "Configuration loaded");
    try {
        // With one loop, one thread runs it and nothing posts to it from another: Asio can skip
        // its scheduler and reactor locks (measured: about 4% of the instructions per delivery).
        // With io-threads > 1 the other loops post to this one, so it keeps them.
        asio::io_context io(config.io_threads > 1 ? 1 : ASIO_CONCURRENCY_HINT_UNSAFE);
        Server server(io, std::move(config));
        server.start();
        io.run();
    } catch (const std::exception& error) {
        log::at(LogLevel::warning, "{}", error.what());
        return 1;
    }
    return 0;
}
