#pragma once
// Conversions between Lua values and RESP, by the rules of Redis 7.0 (script_lua.c), so that a
// script sees a command's reply, and a client sees a script's result, as Redis shows them.
//
// RESP -> Lua (what redis.call returns):
//   :42 -> 42             $3 abc -> "abc"        $-1 / *-1 -> false     *2 ... -> {...}
//   +OK -> {ok="OK"}      -ERR x -> {err="ERR x"}
//   RESP3 only (after redis.setresp(3)): _ -> nil, #t -> true, ,3.5 -> {double=3.5},
//   %1 -> {map={k=v}}, ~1 -> {set={k=true}}, (123 -> {big_number="123"},
//   =7 txt:abc -> {verbatim_string={format="txt", string="abc"}}
// Lua -> RESP (what EVAL replies):
//   number -> integer (truncated), string -> bulk, true -> :1, false and nil -> null,
//   {ok=s} -> status, {err=s} -> error, {double=n}, {big_number=s}, {verbatim_string=t},
//   {map=t}, {set=t}, and any other table -> array of t[1], t[2], ... up to the first nil.

#include <lua.hpp>
#include <string>
#include <string_view>

#include "protocol/reply_writer.hpp"

namespace backplane::scripting {

/// Parses the one RESP reply at the start of `bytes` (well formed, as our ReplyWriter makes it)
/// and pushes it as a Lua value. Returns the bytes it used.
size_t push_resp_as_lua(lua_State* lua, std::string_view bytes);

/// Writes the Lua value on top of the stack as a reply and pops it. `script_resp3` is true
/// after redis.setresp(3), which makes booleans RESP3 booleans.
void write_lua_as_resp(lua_State* lua, protocol::ReplyWriter& reply, bool script_resp3);

/// Pushes the table {err="<CODE> <message>"} that redis.pcall returns for an error. `error`
/// is either "-CODE message" (a reply's text: the code is kept) or a bare message ("ERR " is
/// put in front). Trailing CR and LF are dropped.
void push_error_table(lua_State* lua, std::string_view error);

/// Pushes the text of a Lua number as redis.call passes it to a command: C's "%.17g"
/// (3.5 -> "3.5", 0.1 -> "0.10000000000000001", 1e20 -> "1e+20").
void push_number_argument(lua_State* lua, lua_Number number);

/// A Lua number as an integer reply: truncated toward zero; NaN and values out of range give
/// INT64_MIN, as the x86 conversion Redis relies on does.
int64_t number_to_integer(lua_Number number);

}  // namespace backplane::scripting
