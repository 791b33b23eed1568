#include "core/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"

namespace authrelay {

Notice ReadPrivateFile(const std::string& path, uid_t owner, std::size_t max_size, Secret* content) {
  if (path.empty() || path[0] != '/') return {"not an absolute path", ""};
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ELOOP) return {"is a symbolic link", "name the file itself"};
    return {std::string("cannot open: ") + std::strerror(errno), ""};
  }
  struct stat st{};
  if (fstat(fd.get(), &st) != 0) return {std::strerror(errno), ""};
  if (!S_ISREG(st.st_mode)) return {"not a regular file", ""};
  if (st.st_uid != owner) {
    return {"owned by uid " + std::to_string(st.st_uid) + ", not by uid " + std::to_string(owner),
            "the pipe user; chown it"};
  }
  if (st.st_mode & 077) return {"readable or writable by others", "chmod 600 it"};
  if (static_cast<unsigned long long>(st.st_size) > max_size) {
    return {"larger than " + std::to_string(max_size) + " bytes", ""};
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::string("cannot read: ") + std::strerror(errno);
      WipeBytes(text.data(), text.size());
      return {why, ""};
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  *content = Secret(std::move(text));
  return {};
}

uid_t OwnerToJudgeAs(const std::string& path) {
  uid_t owner = geteuid();
  struct stat st{};
  if (owner == 0 && lstat(path.c_str(), &st) == 0 && st.st_uid != 0) owner = st.st_uid;
  return owner;
}

}  // namespace authrelay
