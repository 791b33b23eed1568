#include "core/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"

namespace authrelay {

namespace {

// Opens path without blocking (a FIFO) and reads it whole if it is a regular
// file of at most max_size bytes; private: also not a symbolic link, owned
// by owner and closed to group and others.
Notice ReadFile(const std::string& path, bool private_file, uid_t owner, std::size_t max_size, std::string* text) {
  if (path.empty() || path[0] != '/') return {"not an absolute path", ""};
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (private_file ? O_NOFOLLOW : 0)));
  if (fd.get() < 0) {
    if (errno == ELOOP) return {"is a symbolic link", "name the file itself"};
    return {std::string("cannot open: ") + std::strerror(errno), ""};
  }
  struct stat st{};
  if (fstat(fd.get(), &st) != 0) return {std::strerror(errno), ""};
  if (!S_ISREG(st.st_mode)) return {"not a regular file", ""};
  if (private_file && st.st_uid != owner && owner == kNoPipeUser) {
    return {"owned by root, and deliveries never run as root", "chown it to the pipe user, the user= of its master.cf entry"};
  }
  if (private_file && st.st_uid != owner) {
    return {"owned by uid " + std::to_string(st.st_uid) + ", not by uid " + std::to_string(owner),
            "the pipe user; chown it"};
  }
  if (private_file && (st.st_mode & 077)) return {"readable or writable by others", "chmod 600 it"};
  if (static_cast<unsigned long long>(st.st_size) > max_size) {
    return {"larger than " + std::to_string(max_size) + " bytes", ""};
  }
  // One allocation of the final size: a secret never sits in a buffer that
  // was outgrown and freed unwiped. A file that grew since fstat is cut.
  text->assign(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text->size()) {
    ssize_t n = read(fd.get(), text->data() + got, text->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::string("cannot read: ") + std::strerror(errno);
      WipeBytes(text->data(), text->size());
      text->clear();
      return {why, ""};
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text->resize(got);
  return {};
}

}  // namespace

Notice ReadPrivateFile(const std::string& path, uid_t owner, std::size_t max_size, Secret* content) {
  std::string text;
  Notice why = ReadFile(path, true, owner, max_size, &text);
  if (why.what.empty()) *content = Secret(std::move(text));
  return why;
}

Notice ReadRegularFile(const std::string& path, std::size_t max_size, std::string* content) {
  return ReadFile(path, false, 0, max_size, content);
}

uid_t OwnerToJudgeAs(const std::string& path) {
  uid_t owner = geteuid();
  struct stat st{};
  if (owner == 0 && lstat(path.c_str(), &st) == 0 && st.st_uid != 0) owner = st.st_uid;
  return owner;
}

uid_t PipeUserToJudgeAs(const std::string& path) {
  if (geteuid() != 0) return geteuid();
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) return geteuid();  // ReadPrivateFile says why
  return st.st_uid == 0 ? kNoPipeUser : st.st_uid;
}

}  // namespace authrelay
