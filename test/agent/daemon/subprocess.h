// Spawns a child process (stdout/stderr to a log file) and stops it with a signal (tests only).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace edgesplit::testing {

class Subprocess {
 public:
  Subprocess(const std::string& binary, const std::vector<std::string>& args, const std::string& log_path);
  ~Subprocess();  // SIGKILL if still running
  bool running() const { return pid_ > 0; }
  // Sends `sig` and waits up to `timeout_s` for exit; returns the exit code, -1 on timeout/crash.
  int Stop(int sig, double timeout_s);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

}  // namespace edgesplit::testing
