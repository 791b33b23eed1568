// Deadline: a point on the monotonic clock. Every blocking call takes one.
#pragma once

#include <algorithm>
#include <chrono>

namespace authrelay {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  static Deadline After(std::chrono::milliseconds ms) { return Deadline(Clock::now() + ms); }
  static Deadline AfterSeconds(long seconds) { return After(std::chrono::seconds(seconds)); }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  // Milliseconds left, never negative; capped so it fits poll()'s int.
  int RemainingMs() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
  }
  bool Expired() const { return Clock::now() >= at_; }
  // The earlier of two deadlines: a stage timeout never outlives the overall one.
  Deadline Min(const Deadline& other) const { return Deadline(std::min(at_, other.at_)); }
  Clock::time_point at() const { return at_; }

 private:
  Clock::time_point at_;
};

}  // namespace authrelay
