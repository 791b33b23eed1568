// texthash: the postmap source file read directly (no .db needed).
#include <fstream>
#include <sstream>

#include "core/sanitize.h"
#include "credmap/map.h"

namespace authrelay {
namespace {

class TexthashTable final : public LookupTable {
 public:
  TexthashTable(std::string spec, std::string path) : spec_(std::move(spec)), path_(std::move(path)) {}
  const std::string& spec() const override { return spec_; }

  Result<std::optional<Secret>> Lookup(std::string_view key) override {
    auto contents = Contents();
    if (!contents.ok()) return contents.failure();
    std::string folded = Lowercase(key);
    auto entries = ParsePostmapSource(contents.value().Reveal());
    std::optional<Secret> found;
    for (auto& [k, v] : entries) {
      if (!found && k == folded) found = Secret(v);
      Secret wipe(std::move(v));
    }
    return found;
  }

  Result<std::vector<Secret>> Values() override {
    auto contents = Contents();
    if (!contents.ok()) return contents.failure();
    std::vector<Secret> out;
    for (auto& [k, v] : ParsePostmapSource(contents.value().Reveal())) out.emplace_back(std::move(v));
    return out;
  }

 private:
  Result<Secret> Contents() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return TableReadFailure(spec_, "cannot open " + path_);
    std::ostringstream text;
    text << in.rdbuf();
    return Secret(text.str());
  }

  std::string spec_;
  std::string path_;
};

}  // namespace

std::unique_ptr<LookupTable> MakeTexthashTable(std::string spec, std::string path) {
  return std::make_unique<TexthashTable>(std::move(spec), std::move(path));
}

}  // namespace authrelay
