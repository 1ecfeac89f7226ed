// Any config file text: either it applies or it is refused with a ConfigError; and CONFIG SET
// with the same words either succeeds or returns an error text, leaving the config usable.

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/split_args.hpp"
#include "server/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    backplane::Config config;
    try {
        backplane::apply_config_text(config, text, "fuzz input");
    } catch (const backplane::ConfigError&) {
    }
    std::string storage;
    std::vector<std::string_view> words;
    if (backplane::protocol::split_args(text.substr(0, text.find('\n')), storage, words) &&
        words.size() % 2 == 0) {
        backplane::config_set(config, words);
        const std::string_view everything = "*";
        backplane::config_get(config, {&everything, 1});
    }
    return 0;
}
