#include "common/http/stream_writer.h"

#include <catch.hpp>

using namespace edgesplit;

TEST_CASE("a stream writer hands chunks over in order and reports the close after them") {
  int wakes = 0;
  StreamWriter w({}, [&] { ++wakes; });
  CHECK(w.Write("a"));
  CHECK(w.Write("b"));
  w.Close();
  CHECK_FALSE(w.Write("c"));  // after Close
  auto b = w.Take();
  CHECK(b.chunks == std::vector<std::string>{"a", "b"});
  CHECK(b.closed);
  CHECK_FALSE(b.gone);
  CHECK(wakes == 3);
  CHECK(w.Take().chunks.empty());
}

TEST_CASE("a stream writer refuses chunks beyond its bounds instead of queueing them") {
  StreamWriter by_count({2, 1000});
  CHECK(by_count.Write("1"));
  CHECK(by_count.Write("2"));
  CHECK_FALSE(by_count.Write("3"));
  CHECK(by_count.Take().chunks.size() == 2);
  CHECK(by_count.Write("3"));  // room again once the connection took the queue

  StreamWriter by_bytes({100, 10});
  CHECK(by_bytes.Write(std::string(6, 'x')));
  CHECK_FALSE(by_bytes.Write(std::string(5, 'x')));
  CHECK(by_bytes.Write(std::string(4, 'x')));
  CHECK_FALSE(by_bytes.Write(std::string(11, 'x')));
}

TEST_CASE("once the client is gone writes fail and the producer is told once") {
  StreamWriter w;
  int told = 0;
  w.OnClientGone([&] { ++told; });
  CHECK(w.Write("a"));
  w.MarkGone();
  w.MarkGone();
  CHECK(told == 1);
  CHECK(w.client_gone());
  CHECK_FALSE(w.Write("b"));
  auto b = w.Take();
  CHECK(b.gone);
  CHECK(b.chunks.empty());
  int late = 0;
  w.OnClientGone([&] { ++late; });  // registered after the fact: runs at once
  CHECK(late == 1);
}
