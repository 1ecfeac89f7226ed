// io-threads and io-threads-do-reads: startup values, Redis 7.0's range and error texts, and
// CONFIG SET refusing them as immutable (texts checked against redis-server 7.0.15).

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

#include "server/config.hpp"

using backplane::Config;
using backplane::config_get;
using backplane::config_set;
using backplane::ConfigError;
using backplane::load_config;

namespace {

std::string startup_error(std::vector<std::string_view> argv) {
    try {
        load_config(argv);
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "no error";
}

std::string get_one(const Config& config, std::string_view name) {
    const std::vector<std::string_view> patterns{name};
    const auto pairs = config_get(config, patterns);
    return pairs.size() == 1 ? pairs[0].second : fmt::format("<{} results>", pairs.size());
}

}  // namespace

TEST_CASE("io-threads: default, flags and CONFIG GET") {
    const Config defaults;
    CHECK(defaults.io_threads == 1);
    CHECK(get_one(defaults, "io-threads") == "1");
    CHECK(get_one(defaults, "io-threads-do-reads") == "no");

    const Config set = load_config(
        std::vector<std::string_view>{"--io-threads", "128", "--io-threads-do-reads", "yes"});
    CHECK(set.io_threads == 128);
    CHECK(set.io_threads_do_reads);
    CHECK(get_one(set, "io-threads") == "128");
    CHECK(get_one(set, "io-threads-do-reads") == "yes");
}

TEST_CASE("io-threads: out of range or not a number stops startup") {
    CHECK(
        startup_error({"--io-threads", "0"}).find("argument must be between 1 and 128 inclusive") !=
        std::string::npos);
    CHECK(startup_error({"--io-threads", "129"})
              .find("argument must be between 1 and 128 inclusive") != std::string::npos);
    CHECK(startup_error({"--io-threads", "many"})
              .find("argument couldn't be parsed into an integer") != std::string::npos);
    CHECK(
        startup_error({"--io-threads-do-reads", "maybe"}).find("argument must be 'yes' or 'no'") !=
        std::string::npos);
}

TEST_CASE("io-threads: CONFIG SET refuses both as immutable and changes nothing") {
    Config config;
    const std::vector<std::string_view> threads{"io-threads", "4"};
    CHECK(config_set(config, threads).value_or("OK") ==
          "ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set "
          "immutable config");
    const std::vector<std::string_view> reads{"io-threads-do-reads", "yes"};
    CHECK(config_set(config, reads).value_or("OK") ==
          "ERR CONFIG SET failed (possibly related to argument 'io-threads-do-reads') - can't "
          "set immutable config");
    const std::vector<std::string_view> mixed{"timeout", "5", "io-threads", "2"};
    CHECK(config_set(config, mixed).has_value());
    CHECK(config.io_threads == 1);
    CHECK(config.timeout == 0);
}
