// Integer handling shared by the API's JSON decoders (private to orchestrator/api).
#pragma once

#include <cstdint>

#include <boost/json/value.hpp>

namespace edgesplit::orch {

// JSON integers are int64 or, above INT64_MAX only when parsed, uint64; 2.0 is a double.
enum class IntKind { kInt64, kTooLarge, kNotInteger };
IntKind ClassifyInt(const boost::json::value& v);
// Only for kInt64.
int64_t AsInt64(const boost::json::value& v);

}  // namespace edgesplit::orch
