#pragma once

#include "options.hpp"
#include "results.hpp"

namespace bench {

/// Runs one benchmark: sets every connection up, publishes through warm-up and the measurement
/// window, drains what is still in flight, then checks every subscriber's streams.
/// Throws std::runtime_error when the server cannot be reached or refuses the setup.
Results run_benchmark(const Options& options);

}  // namespace bench
