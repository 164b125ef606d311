// What the kernel knows of a TCP connection's sending side (Linux TCP_INFO and SIOCOUTQ). A
// frame's write completes once the socket's buffer has taken it, which on a capped link is long
// before the link has carried it: with a few hundred KiB of buffer, a 3 Mbit/s uplink reads as
// Gbit/s from write times alone until the buffer is full (seen in the netns demo: ~1 s of fast
// readings after the cap). Acknowledged bytes are what the link really carried.
// (The kernel's own delivery-rate field was tried first: it keeps the highest app-limited sample,
// so on our bursty traffic it stayed at its old Gbit/s figure for seconds after the cap.)
#pragma once

#include <cstdint>
#include <optional>

namespace edgesplit::transport {

struct KernelSendState {
  uint64_t unacked_bytes = 0;  // written by the application, not yet acknowledged (sent or not)
  uint64_t bytes_acked = 0;    // cumulative, acknowledged by the peer
};

// nullopt when the socket is not TCP or the kernel does not report these fields.
std::optional<KernelSendState> ReadKernelSendState(int fd);

}  // namespace edgesplit::transport
