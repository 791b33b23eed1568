#include "log/log.h"

#include <unistd.h>

#include <boost/core/null_deleter.hpp>
#include <boost/log/attributes/constant.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/syslog_backend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/log/sources/severity_logger.hpp>
#include <boost/smart_ptr/make_shared_object.hpp>
#include <ctime>
#include <fstream>
#include <iostream>
#include <utility>
#include <vector>

namespace authrelay::log {
namespace {

namespace bl = boost::log;
namespace sinks = boost::log::sinks;

struct State {
  bl::sources::severity_logger<Level> logger;
  std::string prefix;
  std::string ident = "authrelay";
  int verbose = 0;
  bool file_mode = false;  // file sink: write syslog-like headers ourselves
  bool initialised = false;
  bool holding = false;
  std::vector<std::pair<Level, std::string>> held;  // prefixed lines
};

State& S() {
  static State state;
  return state;
}

sinks::syslog::level SyslogLevel(Level l) {
  switch (l) {
    case Level::kDebug: return sinks::syslog::debug;
    case Level::kInfo: return sinks::syslog::info;
    case Level::kWarning: return sinks::syslog::warning;
    case Level::kError: return sinks::syslog::error;
  }
  return sinks::syslog::info;
}

// "Nov 28 10:31:30 authrelay[1234]: " as syslog would write it, for the file
// and stderr sinks.
std::string Stamp() {
  char buf[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm);
  return std::string(buf) + " " + S().ident + "[" + std::to_string(getpid()) + "]: ";
}

}  // namespace

void Init(const Options& options) {
  State& s = S();
  s.verbose = options.verbose;
  s.ident = options.ident;
  s.file_mode = !options.file.empty();
  auto core = bl::core::get();
  core->remove_all_sinks();
  auto message = bl::expressions::smessage;
  if (options.file.empty()) {
    auto backend = boost::make_shared<sinks::syslog_backend>(
        bl::keywords::facility = sinks::syslog::mail, bl::keywords::use_impl = sinks::syslog::native,
        bl::keywords::ident = options.ident);
    sinks::syslog::custom_severity_mapping<Level> mapping("Severity");
    mapping[Level::kDebug] = SyslogLevel(Level::kDebug);
    mapping[Level::kInfo] = SyslogLevel(Level::kInfo);
    mapping[Level::kWarning] = SyslogLevel(Level::kWarning);
    mapping[Level::kError] = SyslogLevel(Level::kError);
    backend->set_severity_mapper(mapping);
    auto sink = boost::make_shared<sinks::synchronous_sink<sinks::syslog_backend>>(backend);
    sink->set_formatter(bl::expressions::stream << message);
    core->add_sink(sink);
  } else {
    auto backend = boost::make_shared<sinks::text_ostream_backend>();
    auto file = boost::make_shared<std::ofstream>(options.file, std::ios::app);
    backend->add_stream(file);
    backend->auto_flush(true);
    auto sink = boost::make_shared<sinks::synchronous_sink<sinks::text_ostream_backend>>(backend);
    sink->set_formatter(bl::expressions::stream << message);
    core->add_sink(sink);
  }
  if (options.to_stderr) {
    auto backend = boost::make_shared<sinks::text_ostream_backend>();
    backend->add_stream(boost::shared_ptr<std::ostream>(&std::clog, boost::null_deleter()));
    backend->auto_flush(true);
    auto sink = boost::make_shared<sinks::synchronous_sink<sinks::text_ostream_backend>>(backend);
    sink->set_formatter(bl::expressions::stream << message);
    core->add_sink(sink);
  }
  s.initialised = true;
}

void SetQueueId(const std::string& queue_id) { S().prefix = queue_id.empty() ? "" : queue_id + ": "; }

bool DebugEnabled() { return S().verbose > 0; }

namespace {

void Emit(Level level, const std::string& prefixed) {
  State& s = S();
  if (!s.initialised) return;  // never fall back to Boost's console sink
  bl::record rec = s.logger.open_record(bl::keywords::severity = level);
  if (rec) {
    bl::record_ostream strm(rec);
    // The file sink writes syslog-like lines; syslog adds its own header.
    if (s.file_mode) strm << Stamp();
    strm << prefixed;
    strm.flush();
    s.logger.push_record(std::move(rec));
  }
}

}  // namespace

void Write(Level level, const std::string& text) {
  State& s = S();
  if (s.holding) {
    s.held.emplace_back(level, s.prefix + text);
    return;
  }
  Emit(level, s.prefix + text);
}

void HoldLines() { S().holding = true; }

Unheld::Unheld() : was_holding_(S().holding) { S().holding = false; }
Unheld::~Unheld() { S().holding = was_holding_; }

void ReleaseHeldLines() {
  State& s = S();
  s.holding = false;
  auto lines = std::move(s.held);
  s.held.clear();
  for (const auto& [level, text] : lines) Emit(level, text);
}

void DiscardHeldLines() {
  State& s = S();
  s.holding = false;
  s.held.clear();
}

}  // namespace authrelay::log
