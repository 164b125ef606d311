// The kernel's view of a real loopback TCP connection (agent/transport/kernel_send_state.h):
// bytes a reader has not taken stay outstanding, and are counted as acknowledged once it has.
#include <catch.hpp>

#include <boost/asio.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "agent/transport/kernel_send_state.h"

using namespace edgesplit;
namespace asio = boost::asio;
using asio::ip::tcp;

TEST_CASE("outstanding and acknowledged bytes of a real TCP connection") {
  CHECK_FALSE(transport::ReadKernelSendState(-1).has_value());
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket writer(io), reader(io);
  writer.connect(acceptor.local_endpoint());
  acceptor.accept(reader);
  // A small receive buffer, so that a reader that does not read leaves bytes outstanding.
  reader.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
  writer.non_blocking(true);
  const auto before = transport::ReadKernelSendState(writer.native_handle());
  REQUIRE(before.has_value());
  CHECK(before->unacked_bytes == 0);
  std::vector<char> data(4 << 20, 'x');
  boost::system::error_code ec;
  const size_t written = writer.write_some(asio::buffer(data), ec);  // as much as the buffers take
  REQUIRE(written > 0);
  const auto stuck = transport::ReadKernelSendState(writer.native_handle());
  REQUIRE(stuck.has_value());
  CHECK(stuck->unacked_bytes > 0);  // the reader has not read: not all of it can be acknowledged
  CHECK(stuck->bytes_acked < before->bytes_acked + written);
  // The reader takes everything: every byte is acknowledged, none outstanding.
  std::vector<char> sink(1 << 20);
  size_t got = 0;
  while (got < written) got += reader.read_some(asio::buffer(sink));
  std::optional<transport::KernelSendState> done;
  for (int i = 0; i < 200; ++i) {  // acknowledgements are asynchronous: up to 2 s
    done = transport::ReadKernelSendState(writer.native_handle());
    if (done && done->unacked_bytes == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(done.has_value());
  CHECK(done->unacked_bytes == 0);
  CHECK(done->bytes_acked >= before->bytes_acked + written);
}
