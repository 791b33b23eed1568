// Files that hold secrets: OAuth token stores, password files named by the
// credentials map, SES secret-key files, service-account and certificate
// private keys. One rule for all of them, decided here: a regular file (not
// a symbolic link: opened with O_NOFOLLOW), owned by the user the delivery
// runs as (the pipe user), and neither readable nor writable by group or
// others. Anything else could be read or replaced by another user.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "core/result.h"
#include "core/secret.h"

namespace authrelay {

// Why the file at path may not hold our secrets (what, and the fix apart),
// or an empty Notice when it may; then *content holds the whole file (at
// most max_size bytes, else refused).
Notice ReadPrivateFile(const std::string& path, uid_t owner, std::size_t max_size, Secret* content);

// The same for a file that holds nothing secret (a certificate): a regular
// file (a symbolic link to one will do) of at most max_size bytes; any
// owner and mode.
Notice ReadRegularFile(const std::string& path, std::size_t max_size, std::string* content);

// The owner to read a file as: run as root, the file's own owner unless
// that is root; else our uid (enrolment and refreshes run by hand).
uid_t OwnerToJudgeAs(const std::string& path);
// The owner --check and --lookup judge a file as, for a delivery: as
// OwnerToJudgeAs, but deliveries never run as root, so run as root a
// root-owned file is judged against kNoPipeUser, which owns nothing: it is
// refused as every delivery would refuse it.
uid_t PipeUserToJudgeAs(const std::string& path);
inline constexpr uid_t kNoPipeUser = static_cast<uid_t>(-1);

}  // namespace authrelay
