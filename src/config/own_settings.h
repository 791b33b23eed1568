// Where authrelay's own settings live.
//
// Postfix's postconf warns "unused parameter" about every main.cf name it
// does not know, and admins rightly read that as misconfiguration. Postfix
// knows some authrelay_* names itself: for every master.cf service it
// defines <service>_time_limit, <service>_destination_concurrency_limit and
// the other per-transport names (postconf -d lists them). Those stay in
// main.cf: Postfix reads them, we only read along. Our own names
// (authrelay_log_file, authrelay_tls_session_cache, ...) get a file of
// their own, DIR/authrelay.cf next to main.cf, in main.cf's syntax, which
// Postfix never reads. Precedence, lowest first: built-in default, main.cf
// (still read, with a hint to move the line), authrelay.cf, -o in argv.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/main_cf.h"
#include "core/result.h"

namespace authrelay {

// The file's name inside the Postfix configuration directory.
inline constexpr std::string_view kOwnConfigFile = "authrelay.cf";

// True for a name Postfix defines for a master.cf service called
// "authrelay" (authrelay_time_limit, authrelay_destination_rate_delay, ...):
// those belong in main.cf.
bool IsPostfixServiceParameter(std::string_view name);
// True for authrelay's own settings: authrelay_* names Postfix does not know.
bool IsOwnParameter(std::string_view name);

// Reads DIR/authrelay.cf if it exists and applies it on top of cf. A missing
// file is fine; an unreadable one, a syntax error, or a name that does not
// belong there (not authrelay's own, or one Postfix reads) is Failure 4.3.5.
// *own_in_main_cf receives authrelay's own names that main.cf sets (for the
// hint to move them).
Status ApplyOwnConfig(const std::string& config_dir, MainCf& cf, std::vector<std::string>* own_in_main_cf);

// The hint, one line: which names to move from main.cf to authrelay.cf.
std::string OwnInMainCfHint(const std::string& config_dir, const std::vector<std::string>& names);

// authrelay's state directory: the one that holds the TLS session cache
// (authrelay-setup makes /var/lib/authrelay); "" when the cache is off.
std::string StateDirectory(const std::string& tls_session_cache);

// Logs the hint once per version of main.cf: state_dir holds a marker with
// main.cf's identity (device, inode, mtime). Without a writable state_dir
// nothing is logged (--check still shows the hint).
void LogOwnInMainCfHintOnce(const std::string& config_dir, const std::string& state_dir,
                            const std::vector<std::string>& names);

}  // namespace authrelay
