#pragma once
// Glob matching with the semantics of Redis's stringmatchlen() (nocase off), used by
// PSUBSCRIBE, PUBSUB CHANNELS and CONFIG GET.

#include <string_view>

namespace backplane {

/// True when `text` matches `pattern`: `*` any run, `?` one byte, `[abc]`, `[a-z]`, `[^x]`,
/// `\x` a literal x. Malformed patterns behave as in Redis (an unterminated `[` class ends at the
/// pattern's end, a trailing `\` is literal). Like Redis since CVE-2024-31228, a match that
/// needs more than 1000 nested `*` gives up as no match, and once the rest of the pattern fails
/// at every position after a `*`, longer matches of earlier stars are not tried, so time stays
/// polynomial in the lengths.
bool glob_match(std::string_view pattern, std::string_view text);

/// The literal bytes every match must start with: the pattern up to its first `*?[\`.
std::string_view glob_literal_prefix(std::string_view pattern);

/// The literal bytes every match must end with, beyond its literal prefix: what follows the
/// last `*` or `?` (empty without wildcards). Empty for patterns with `[` or `\`, whose
/// classes and escapes (an unterminated class runs to the end) make the tail no plain literal.
std::string_view glob_literal_suffix(std::string_view pattern);

}  // namespace backplane
