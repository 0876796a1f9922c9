#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace uhc::cli {

// Exit codes of uhcctl.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation ran and failed (e.g. rejected events)
inline constexpr int kExitUsage = 2;    // bad or missing input

// One option of a subcommand.
struct Option {
  std::string name;   // without dashes
  std::string value;  // placeholder for help ("N"), empty for a boolean switch
  std::string help;
  std::string default_value;
};

// A subcommand's declared options and positional arguments, parsed from argv. Accepts
// "--name value", "--name=value" and "--switch"; anything undeclared is a usage error.
class Command {
 public:
  Command(std::string name, std::string summary, std::string usage, std::vector<Option> options);

  // Parses args (after the subcommand name). On --help prints help and returns false with
  // exit code 0 in *exit_code; on error prints a one-line message naming the flag and returns
  // false with exit code 2.
  bool Parse(const std::vector<std::string>& args, int* exit_code);

  std::string Help() const;
  bool Has(const std::string& name) const;
  // Whether the command has option `name` at all.
  bool Declares(const std::string& name) const;
  // The value given or the declared default.
  std::string Get(const std::string& name) const;
  bool Flag(const std::string& name) const { return Has(name); }
  // Parses an integer option; on failure prints "uhcctl <cmd>: --name: ..." and returns nullopt.
  std::optional<long long> GetInt(const std::string& name, long long min, long long max) const;
  // A date option, "YYYY-MM-DD" and a real day, or "" when not given (its declared default is
  // words for the help, e.g. "today (WIB)": the server applies it); on a malformed date prints
  // "uhcctl <cmd>: --name: '...' is not a date YYYY-MM-DD" and returns nullopt. Whether the day
  // is past is the server's to say (it knows today in WIB).
  std::optional<std::string> GetDate(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& name() const { return name_; }

  // Prints "uhcctl <cmd>: <message>" to stderr; returns kExitUsage.
  int UsageError(const std::string& message) const;

 private:
  std::string name_, summary_, usage_;
  std::vector<Option> options_;
  std::map<std::string, std::string> given_;
  std::vector<std::string> positional_;
};

// Rupiah the Indonesian way: 21295159200 -> "Rp21.295.159.200".
std::string Rupiah(long long amount);
// People-facing numbers follow Indonesian conventions: "." groups thousands, "," is the decimal
// mark (CSV and JSON stay machine-readable: plain digits and a decimal point).
std::string Percent(long long bp);          // 9888 -> "98,88%"
std::string Decimal(double x, int digits);  // (1093.5, 2) -> "1.093,50"
// Thousands with dots: 1234567 -> "1.234.567".
std::string Thousands(long long n);
// "1 region", "2 regions": `n` in Thousands() and the singular or plural noun.
std::string Count(long long n, const std::string& singular, const std::string& plural);
// `text` in exactly `width` columns: padded with spaces, or cut with "…" (UTF-8 aware).
std::string Fit(const std::string& text, size_t width);
// Whether `text` is a date "YYYY-MM-DD" naming a real day.
bool IsDate(const std::string& text);

// --as-of DATE and --cutoff ID: a command answering about the past instead of now.
Option AsOfOption();
Option CutoffOption();
// The past a command asks about: at most one of the two set.
struct PastQuery {
  std::string as_of_date;  // "YYYY-MM-DD", the end of that day in WIB
  std::string cutoff_id;
};
// Reads --as-of and --cutoff (validated, mutually exclusive); on error prints it and returns
// nullopt (exit code kExitUsage).
std::optional<PastQuery> GetPast(const Command& cmd);
// The line saying what an answer is for: "as of 2025-09-30 (end of day, WIB)", "cut-off
// uhc-awards-2026 (as of 2025-09-30)", or "" for now. Takes the server's echo of the request.
std::string PastHeading(const std::string& as_of_date, const std::string& cutoff_id);

// A terminal sparkline of `values` in the block characters ▁..█, scaled between their
// minimum (lowest block) and maximum (full block); a flat series is drawn at mid height. At most
// `width` marks: a longer series is cut into `width` runs of consecutive values, each drawn at
// its mean.
std::string Sparkline(const std::vector<long long>& values, size_t width);

// A tier as people write it ("Madya", "UHC Madya", " madya ") as the policy's id ("madya").
std::string TierId(const std::string& text);

}  // namespace uhc::cli
