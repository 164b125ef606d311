#include "common/systemd/service_notifier.h"

#include <cstdlib>

#include <systemd/sd-daemon.h>

namespace edgesplit::systemd {

Duration KeepAlivePeriod(Duration watchdog_interval) {
  const Duration half = watchdog_interval / 2;
  return half > Duration::zero() ? half : Duration(1);
}

std::string SanitizeStatus(const std::string& status) {
  constexpr size_t kMaxStatusBytes = 512;
  std::string out = status.substr(0, kMaxStatusBytes);
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\0') c = ' ';
  return out;
}

ServiceNotifier ServiceNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  const bool enabled = socket != nullptr && socket[0] != '\0';
  std::optional<Duration> watchdog;
  uint64_t usec = 0;
  // > 0: WATCHDOG_USEC is set and WATCHDOG_PID (if set) names this process.
  if (enabled && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog = std::chrono::microseconds(usec);
  return ServiceNotifier(enabled, watchdog);
}

bool ServiceNotifier::Send(const std::string& state) const {
  if (!enabled_) return true;
  return sd_notify(0, state.c_str()) > 0;
}

bool ServiceNotifier::Ready(const std::string& status) const {
  return Send("READY=1\nSTATUS=" + SanitizeStatus(status));
}

bool ServiceNotifier::Status(const std::string& status) const { return Send("STATUS=" + SanitizeStatus(status)); }

bool ServiceNotifier::Stopping(const std::string& status) const {
  return Send("STOPPING=1\nSTATUS=" + SanitizeStatus(status));
}

bool ServiceNotifier::KeepAlive() const { return Send("WATCHDOG=1"); }

}  // namespace edgesplit::systemd
