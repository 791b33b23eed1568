// main.cf as Postfix reads it: logical lines (a line starting with
// whitespace continues the previous one), '#' comment lines, "name = value",
// last assignment wins, -o overrides on top, and lazy $name / ${name} /
// $(name) / ${name?text} / ${name:text} / ${name?{a}:{b}} / $$ expansion
// (as postconf -x shows it: ${name:text} is text only when $name is empty,
// and nothing otherwise) with Postfix's
// built-in defaults for unset parameters.
//
// Pure: the parser takes text; Load() is the only function touching disk.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/list.h"
#include "core/result.h"

namespace authrelay {

class MainCf {
 public:
  MainCf();

  // Parses main.cf text. origin names the file in error messages.
  static Result<MainCf> Parse(std::string_view text, std::string_view origin = "main.cf");
  // Reads DIR/main.cf (a missing file is an error: Postfix cannot run
  // without one either) and sets config_directory = DIR.
  static Result<MainCf> Load(const std::string& config_dir);

  // Sets a parameter as -o does (replaces main.cf's value).
  void Set(const std::string& name, const std::string& value);
  // True if main.cf or -o set the parameter (a default does not count).
  bool IsSet(std::string_view name) const;
  // The raw, unexpanded value: explicit setting, else built-in default.
  std::optional<std::string> Raw(std::string_view name) const;
  // The expanded value; unknown parameters are "" (as Postfix expands them).
  std::string Get(std::string_view name) const;
  // Postfix booleans: "yes"/"no" (case-insensitive); other values fall back
  // to the default's meaning.
  bool GetBool(std::string_view name) const;
  // Postfix time values: digits and an optional unit s, m, h, d, w (default
  // seconds). Returns seconds, or a Failure naming the parameter.
  Result<long> GetTime(std::string_view name) const;
  Result<long> GetInt(std::string_view name) const;

  // Expands $name references in an arbitrary string against this config.
  std::string Expand(std::string_view text) const;

  // Explicitly set names, for diagnostics and differential tests.
  std::vector<std::string> ExplicitNames() const;

 private:
  std::string ExpandDepth(std::string_view text, int depth, std::size_t& budget) const;
  std::map<std::string, std::string, std::less<>> explicit_;
};

}  // namespace authrelay
