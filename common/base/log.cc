#include "common/base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace edgesplit {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_component_mu;
std::string g_component = "edgesplit";

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool NeedsQuotes(const std::string& v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  return false;
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  if (name == "debug") *out = LogLevel::kDebug;
  else if (name == "info") *out = LogLevel::kInfo;
  else if (name == "warn") *out = LogLevel::kWarn;
  else if (name == "error") *out = LogLevel::kError;
  else return false;
  return true;
}

void SetLogComponent(std::string component) {
  std::lock_guard<std::mutex> lock(g_component_mu);
  g_component = std::move(component);
}

LogLine::LogLine(LogLevel level, std::string_view event)
    : enabled_(static_cast<int>(level) >= g_level.load()) {
  if (!enabled_) return;
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string component;
  {
    std::lock_guard<std::mutex> lock(g_component_mu);
    component = g_component;
  }
  line_ = std::string("ts=") + ts + " level=" + LevelName(level) + " component=" + component +
          " event=" + std::string(event);
}

void LogLine::Append(std::string_view key, const std::string& value) {
  line_ += ' ';
  line_ += key;
  line_ += '=';
  if (NeedsQuotes(value)) {
    line_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') line_ += '\\';
      if (c == '\n') { line_ += "\\n"; continue; }
      line_ += c;
    }
    line_ += '"';
  } else {
    line_ += value;
  }
}

LogLine::~LogLine() {
  if (!enabled_) return;
  line_ += '\n';
  // One write() per line keeps concurrent lines from interleaving.
  ssize_t rc = ::write(STDERR_FILENO, line_.data(), line_.size());
  (void)rc;
}

}  // namespace edgesplit
