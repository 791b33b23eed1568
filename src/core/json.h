// JSON, read and written with one library (nlohmann/json, Debian's
// nlohmann-json3-dev, header only). Everything we read or write as JSON goes
// through here: token stores, token-endpoint answers, service-account key
// files, and the --json outputs.
//
// Objects keep their keys in insertion order (ordered_json), so what we
// write reads the way the code builds it. Nothing here throws: a parse
// failure is an empty optional, invalid UTF-8 on output becomes U+FFFD.
#pragma once

#include "core/secret.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace authrelay {

using Json = nlohmann::ordered_json;

// The value of text, or nullopt with *error_at set to the byte offset of the
// first error (when error_at is given).
inline std::optional<Json> ParseJson(const std::string& text, std::size_t* error_at = nullptr) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    if (error_at) *error_at = e.byte;
  } catch (const Json::exception&) {
    if (error_at) *error_at = 0;
  }
  return std::nullopt;
}

// Compact (indent < 0) or indented text; '/' is not escaped.
inline std::string DumpJson(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// A top-level string member; "" when absent or not a string.
inline std::string JsonText(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get_ref<const std::string&>();
}

// A top-level non-negative integer member; 0 when absent or nonsense. A
// string of digits counts too: some token endpoints send expires_in as
// "3599", and token stores written before this library held every number
// as a string.
inline long long JsonNumber(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_unsigned()) {
    auto v = it->get<unsigned long long>();
    return v > 999999999999999999ULL ? 0 : static_cast<long long>(v);
  }
  if (it->is_number_integer()) {
    auto v = it->get<long long>();
    return v < 0 ? 0 : v;
  }
  if (!it->is_string()) return 0;
  const std::string& v = it->get_ref<const std::string&>();
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(v);
}

// A parsed document held copies of secrets: wipe every string in it (object
// keys are names, not secrets). Without recursion: a hostile store or
// endpoint answer may nest half a million levels deep, which the parser
// takes and the call stack would not.
inline void WipeJson(Json& j) {
  std::vector<Json*> pending{&j};
  while (!pending.empty()) {
    Json* v = pending.back();
    pending.pop_back();
    if (v->is_string()) {
      std::string& s = v->get_ref<std::string&>();
      WipeBytes(s.data(), s.size());
    } else if (v->is_structured()) {
      for (auto& child : *v) pending.push_back(&child);
    }
  }
}

// Wipes a document when it goes out of scope, on every return path.
class JsonWiper {
 public:
  explicit JsonWiper(Json& j) : j_(j) {}
  JsonWiper(const JsonWiper&) = delete;
  JsonWiper& operator=(const JsonWiper&) = delete;
  ~JsonWiper() { WipeJson(j_); }

 private:
  Json& j_;
};

}  // namespace authrelay
