// backplane-bench: pub/sub load generator for any RESP server. See bench/README.md.

#include <fmt/core.h>
#include <sys/prctl.h>

#include <exception>

#include "options.hpp"
#include "report.hpp"
#include "runner.hpp"
#include "tls.hpp"

int main(int argc, char** argv) {
    const bench::Options options = bench::parse_options(argc, argv);
    // Linux lets a timed wait end up to 50 us late (the default timer slack). At a fixed rate
    // every publish would then leave that late, and its latency, counted from the intended
    // send time, would be mostly the generator's own oversleeping. Worker threads inherit this.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    try {
        bench::tls::init(options);
        const bench::Results results = bench::run_benchmark(options);
        if (options.json) {
            bench::print_json(options, results);
        } else {
            bench::print_text(options, results);
        }
        // Exit status 3 lets scripts and the smoke test fail on broken delivery.
        return results.passed() ? 0 : 3;
    } catch (const std::exception& e) {
        fmt::print(stderr, "backplane-bench: {}\n", e.what());
        return 1;
    }
}
