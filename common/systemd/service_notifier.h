// ServiceNotifier: what a daemon tells its service manager, through libsystemd's sd_notify (the
// notify socket protocol: READY=1, STATUS=..., STOPPING=1, WATCHDOG=1). Outside systemd
// (NOTIFY_SOCKET unset) every call is a no-op, so the daemons behave as before.
// Thread-safety: every method may be called from any thread (sd_notify opens its own socket).
#pragma once

#include <optional>
#include <string>

#include "common/base/clock.h"

namespace edgesplit::systemd {

// The keep-alive period for a watchdog interval: half of it, as sd_watchdog_enabled(3)
// recommends, so one late timer does not cost a restart. Pure.
Duration KeepAlivePeriod(Duration watchdog_interval);

// Removes newlines (they would start a new assignment in the datagram) and bounds the length.
std::string SanitizeStatus(const std::string& status);

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID as sd_watchdog_enabled does. The
  // environment is left in place (children of the daemon are none of systemd's business, but
  // unsetting it would race with other threads reading the environment).
  static ServiceNotifier FromEnvironment();
  // A notifier that never sends (in-process apps in tests, benchmarks).
  static ServiceNotifier Disabled() { return ServiceNotifier(false, std::nullopt); }

  bool enabled() const { return enabled_; }
  // The service's WatchdogSec (WATCHDOG_USEC), if the manager expects keep-alives.
  std::optional<Duration> watchdog_interval() const { return watchdog_; }

  // Each returns false when the message could not be sent (logged once by the caller if it cares).
  bool Ready(const std::string& status) const;
  bool Status(const std::string& status) const;
  bool Stopping(const std::string& status) const;
  bool KeepAlive() const;

 private:
  ServiceNotifier(bool enabled, std::optional<Duration> watchdog) : enabled_(enabled), watchdog_(watchdog) {}
  bool Send(const std::string& state) const;
  bool enabled_ = false;
  std::optional<Duration> watchdog_;
};

}  // namespace edgesplit::systemd
