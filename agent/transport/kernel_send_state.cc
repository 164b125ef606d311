#include "agent/transport/kernel_send_state.h"

// linux/tcp.h, not netinet/tcp.h: glibc's struct tcp_info stops before tcpi_bytes_acked.
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>

namespace edgesplit::transport {

std::optional<KernelSendState> ReadKernelSendState(int fd) {
  struct tcp_info info {};
  socklen_t len = sizeof(info);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  // Kernels before 4.1 return a shorter struct, without the acknowledged-bytes counter.
  if (len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(info.tcpi_bytes_acked)) return std::nullopt;
  int outq = 0;
  if (ioctl(fd, SIOCOUTQ, &outq) != 0) return std::nullopt;
  KernelSendState s;
  s.unacked_bytes = outq > 0 ? static_cast<uint64_t>(outq) : 0;
  s.bytes_acked = info.tcpi_bytes_acked;
  return s;
}

}  // namespace edgesplit::transport
