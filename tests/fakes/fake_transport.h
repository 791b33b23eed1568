// An in-memory Transport: replies come from a script, writes are recorded.
#pragma once

#include <deque>
#include <string>

#include "core/transport.h"
#include "smtp/session.h"

namespace authrelay::testing {

class FakeTransport final : public Transport {
 public:
  // Lines the "server" sends, in order; running out means EOF.
  std::deque<std::string> replies;
  std::string written;
  TlsFailure tls_result = TlsFailure::kNone;
  bool tls_verified = true;
  // How many of the next replies the "server" sent in the same segment as its
  // 220 to STARTTLS: DiscardUnreadInput drops them.
  std::size_t injected_after_starttls = 0;
  std::size_t discarded = 0;
  bool timeout_when_empty = false;

  IoStatus ReadLine(std::string& line, std::size_t max_len, Deadline) override {
    if (replies.empty()) {
      error_ = timeout_when_empty ? "timed out" : "connection closed";
      return timeout_when_empty ? IoStatus::kTimeout : IoStatus::kEof;
    }
    line = replies.front().substr(0, max_len);
    replies.pop_front();
    return IoStatus::kOk;
  }
  IoStatus Write(std::string_view data, Deadline) override {
    written.append(data);
    return IoStatus::kOk;
  }
  std::size_t DiscardUnreadInput() override {
    std::size_t bytes = 0;
    for (; injected_after_starttls > 0 && !replies.empty(); --injected_after_starttls) {
      bytes += replies.front().size() + 2;
      replies.pop_front();
    }
    discarded += bytes;
    return bytes;
  }
  bool tls_tried = false;
  TlsFailure StartTls(Deadline) override {
    tls_tried = true;
    if (tls_result == TlsFailure::kNone || tls_result == TlsFailure::kNotVerified) {
      info_.protocol = "TLSv1.3";
      info_.cipher = "TLS_AES_256_GCM_SHA384";
      info_.verified = tls_verified && tls_result == TlsFailure::kNone;
      tls_up_ = tls_result == TlsFailure::kNone;
    }
    return tls_result;
  }
  const TlsInfo* tls() const override { return tls_up_ ? &info_ : nullptr; }
  const std::string& last_error() const override { return error_; }

 private:
  TlsInfo info_;
  bool tls_up_ = false;
  std::string error_;
};

class StringSource final : public MessageSource {
 public:
  explicit StringSource(std::string s) : data_(std::move(s)) {}
  long Read(char* buf, std::size_t len) override {
    std::size_t n = std::min(len, data_.size() - pos_);
    std::copy_n(data_.data() + pos_, n, buf);
    pos_ += n;
    return static_cast<long>(n);
  }

 private:
  std::string data_;
  std::size_t pos_ = 0;
};

}  // namespace authrelay::testing
