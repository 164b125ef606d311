#include "agent/transport/buffer_pool.h"

#include <cstdlib>
#include <new>

namespace edgesplit::transport {

BufferPool::~BufferPool() {
  for (auto& [n, v] : free_)
    for (std::byte* p : v) std::free(p);
}

BufferPool* BufferPool::Default() {
  static BufferPool* pool = new BufferPool();
  return pool;
}

HostTensor BufferPool::Allocate(DType dtype, std::vector<int64_t> shape) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.nbytes = t.numel() * DTypeSize(dtype);
  if (t.nbytes < options_.min_pooled_bytes) return HostTensor::Allocate(dtype, std::move(t.shape));
  std::byte* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(t.nbytes);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      pooled_ -= t.nbytes;
    }
  }
  if (!p) {
    p = static_cast<std::byte*>(std::aligned_alloc(64, (t.nbytes + 63) / 64 * 64));
    if (!p) throw std::bad_alloc();
  }
  const size_t n = t.nbytes;
  t.storage = std::shared_ptr<std::byte>(p, [this, n](std::byte* q) { Release(q, n); });
  t.data = p;
  return t;
}

void BufferPool::Release(std::byte* p, size_t n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& v = free_[n];
    if (v.size() < options_.max_per_size && pooled_ + n <= options_.max_pooled_total_bytes) {
      v.push_back(p);
      pooled_ += n;
      return;
    }
  }
  std::free(p);
}

size_t BufferPool::pooled_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pooled_;
}

}  // namespace edgesplit::transport
