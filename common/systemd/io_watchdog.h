// IoWatchdog: the service manager's keep-alive (WATCHDOG=1) and STATUS line, sent from a timer
// on a daemon's control io thread. The timer only fires when that thread is free to run it, so a
// wedged io thread (a blocking handler, a deadlock) stops the keep-alives and systemd restarts the
// service after WatchdogSec; other threads being alive proves nothing about it.
// Thread-safety: Start/Stop on the io thread or before it runs; the status function runs there.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/systemd/service_notifier.h"

namespace edgesplit::systemd {

struct IoWatchdogOptions {
  // How often the STATUS line is refreshed (also when no watchdog is configured).
  Duration status_period = std::chrono::seconds(5);
  // The STATUS text, e.g. "nodes alive=3 suspect=0 dead=0; deployments=1". Runs on the io thread.
  std::function<std::string()> status;
};

class IoWatchdog {
 public:
  IoWatchdog(boost::asio::io_context& io, ServiceNotifier notifier, IoWatchdogOptions options);
  // Does nothing outside systemd.
  void Start();
  void Stop();
  uint64_t keep_alives_sent() const { return keep_alives_; }

 private:
  void Arm();
  void OnTimer();
  boost::asio::steady_timer timer_;
  ServiceNotifier notifier_;
  IoWatchdogOptions options_;
  Duration period_{};
  std::chrono::steady_clock::time_point last_status_{};
  uint64_t keep_alives_ = 0;
  bool running_ = false;
};

// Test hook (off unless configured: debug.wedge_io_after_ms): after `after`, a handler on the io
// thread blocks it for good, as a deadlocked daemon would. Only the watchdog gets it out.
void ScheduleIoWedge(boost::asio::io_context& io, Duration after);

}  // namespace edgesplit::systemd
