// Fixed threads draining one bounded FIFO of jobs (the compute pool for libtorch, the loader).
// Thread-safe. TrySubmit never blocks: a full queue is the caller's "overloaded".
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgesplit::agent {

class WorkerPool {
 public:
  WorkerPool(std::string name, int threads, size_t max_queued);
  ~WorkerPool();  // finishes queued jobs, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // false when max_queued jobs are already waiting (running jobs do not count).
  bool TrySubmit(std::function<void()> job);
  size_t queued() const;
  size_t busy() const;

 private:
  void Loop();
  const std::string name_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t busy_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace edgesplit::agent
