#include "common/systemd/io_watchdog.h"

#include <thread>

#include "common/base/log.h"

namespace edgesplit::systemd {

IoWatchdog::IoWatchdog(boost::asio::io_context& io, ServiceNotifier notifier, IoWatchdogOptions options)
    : timer_(io), notifier_(notifier), options_(std::move(options)) {}

void IoWatchdog::Start() {
  if (!notifier_.enabled() || running_) return;
  period_ = options_.status_period;
  if (auto wd = notifier_.watchdog_interval()) period_ = std::min(period_, KeepAlivePeriod(*wd));
  running_ = true;
  last_status_ = std::chrono::steady_clock::now();
  if (notifier_.watchdog_interval()) {
    LogInfo("systemd_watchdog").Kv("interval_ms", ToMillis(*notifier_.watchdog_interval())).Kv("keep_alive_ms", ToMillis(period_));
  }
  Arm();
}

void IoWatchdog::Stop() {
  running_ = false;
  timer_.cancel();
}

void IoWatchdog::Arm() {
  timer_.expires_after(std::chrono::duration_cast<boost::asio::steady_timer::duration>(period_));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !running_) return;
    OnTimer();
    Arm();
  });
}

void IoWatchdog::OnTimer() {
  // Running here is the proof of responsiveness: this handler waited behind every other handler
  // queued on the io thread.
  if (notifier_.watchdog_interval()) {
    notifier_.KeepAlive();
    ++keep_alives_;
  }
  const auto now = std::chrono::steady_clock::now();
  if (options_.status && now - last_status_ >= options_.status_period) {
    notifier_.Status(options_.status());
    last_status_ = now;
  }
}

void ScheduleIoWedge(boost::asio::io_context& io, Duration after) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io);
  timer->expires_after(std::chrono::duration_cast<boost::asio::steady_timer::duration>(after));
  LogWarn("debug_wedge_io_scheduled").Kv("after_ms", ToMillis(after)).Kv("note", "test hook: the io thread will block for good");
  timer->async_wait([timer](boost::system::error_code ec) {
    if (ec) return;
    LogWarn("debug_wedge_io").Kv("note", "io thread blocked by the test hook");
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  });
}

}  // namespace edgesplit::systemd
