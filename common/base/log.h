// Structured logging to stderr (journald under systemd) as `key=value` pairs.
// Thread-safe: each line is written with one write() call.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace edgesplit {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug|info|warn|error"; returns false on an unknown name.
bool ParseLogLevel(std::string_view name, LogLevel* out);
// Component name printed on every line (e.g. "agent", "orchestrator").
void SetLogComponent(std::string component);

// Builds one line: LogLine(LogLevel::kInfo, "segment_ready").Kv("node", n).Kv("ms", 3.2);
// The line is emitted when the object is destroyed.
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view event);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& Kv(std::string_view key, const T& value) {
    if (enabled_) {
      std::ostringstream os;
      os << value;
      Append(key, os.str());
    }
    return *this;
  }

 private:
  void Append(std::string_view key, const std::string& value);
  bool enabled_;
  std::string line_;
};

inline LogLine LogInfo(std::string_view event) { return LogLine(LogLevel::kInfo, event); }
inline LogLine LogWarn(std::string_view event) { return LogLine(LogLevel::kWarn, event); }
inline LogLine LogError(std::string_view event) { return LogLine(LogLevel::kError, event); }
inline LogLine LogDebug(std::string_view event) { return LogLine(LogLevel::kDebug, event); }

}  // namespace edgesplit
