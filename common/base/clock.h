// Injected time. Components take a Clock; tests use FakeClock and advance it by hand,
// so time-driven logic (heartbeats, liveness, cool-downs) is tested without sleeping.
#pragma once

#include <atomic>
#include <chrono>

namespace edgesplit {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// Monotonic wall clock. Thread-safe.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  static SteadyClock* Default();
};

// Manually advanced clock. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1000))) : now_ns_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(Duration(now_ns_.load())); }
  void Advance(Duration d) { now_ns_ += d.count(); }
  void Set(TimePoint t) { now_ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<long long> now_ns_;
};

inline double ToMillis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace edgesplit
