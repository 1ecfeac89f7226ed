// Any byte stream: the parser never crashes or reads out of bounds, never consumes more than it
// was given, and feeding the stream in small pieces gives the same commands and the same error
// as feeding it whole. The first byte picks the piece size and the pre-AUTH limits.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/request_parser.hpp"

namespace {

using namespace backplane::protocol;

struct Outcome {
    std::vector<std::vector<std::string>> commands;
    std::string error;
    bool operator==(const Outcome&) const = default;
};

Outcome run(std::string_view stream, size_t piece, const ParserLimits& limits) {
    RequestParser parser;
    Outcome outcome;
    std::string pending;
    size_t fed = 0;
    for (;;) {
        const auto status = parser.parse(pending, limits);
        if (status == ParseStatus::error) {
            outcome.error = parser.error();
            return outcome;
        }
        if (status == ParseStatus::complete) {
            if (parser.consumed() == 0 || parser.consumed() > pending.size()) std::abort();
            auto& args = outcome.commands.emplace_back();
            for (std::string_view arg : parser.args()) args.emplace_back(arg);
            pending.erase(0, parser.consumed());
            continue;
        }
        if (fed == stream.size()) return outcome;
        const size_t take = std::min(piece, stream.size() - fed);
        pending.append(stream.substr(fed, take));
        fed += take;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t piece = (data[0] & 0x3f) + 1;
    const ParserLimits limits{1024 * 1024, (data[0] & 0x40) != 0};
    const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    if (!(run(stream, stream.size() + 1, limits) == run(stream, piece, limits))) std::abort();
    return 0;
}
