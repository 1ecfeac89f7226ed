#pragma once

#include "options.hpp"
#include "results.hpp"

namespace bench {

/// Human-readable report on stdout.
void print_text(const Options& options, const Results& results);

/// One JSON object on stdout, for bench/compare and other scripts.
void print_json(const Options& options, const Results& results);

}  // namespace bench
