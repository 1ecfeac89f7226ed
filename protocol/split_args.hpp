#pragma once
// Splitting of inline commands and config lines, as Redis's sdssplitargs() does it.

#include <string>
#include <string_view>
#include <vector>

namespace backplane::protocol {

/// Splits `line` into arguments with redis-cli's quoting rules: blanks separate arguments,
/// "double quotes" understand \n \r \t \b \a \xHH and \<any>, 'single quotes' only \'.
/// A closing quote must be followed by a blank or the end of the line.
/// Unescaped bytes are written to `storage`; the views in `args` point into it.
/// Returns false for unbalanced quotes (Redis: "unbalanced quotes in request").
/// Unlike sdssplitargs(), a NUL byte is ordinary data rather than the end of the line.
bool split_args(std::string_view line, std::string& storage, std::vector<std::string_view>& args);

}  // namespace backplane::protocol
