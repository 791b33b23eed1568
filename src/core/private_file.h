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

// The owner --check should judge a file as: run as root, the file's own
// owner unless that is root (deliveries never run as root); else our uid.
uid_t OwnerToJudgeAs(const std::string& path);

}  // namespace authrelay
