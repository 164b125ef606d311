// JSON forms of the orchestrator's domain structs, shared by the REST API and persistence.
// Parsing reports the offending key; unknown keys are errors. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "common/base/clock.h"
#include "common/base/json_escape.h"  // QuoteForError
#include "common/base/status.h"
#include "common/base/tensor.h"
#include "orchestrator/controller/controller.h"

namespace edgesplit::orch {

// {"name","model","entry_node","objective":{"kind","alpha","beta"} | "latency", "slo_latency_ms",
//  "trusted_prefix_layers","max_stages","kv_sessions","kv_context_tokens"}; `require_name` false
//  for plan previews. Checks that need the model (kv_* of a model without generation) are the
//  controller's (KvContextTokens).
Result<DeploymentSpec> DeploymentSpecFromJson(const boost::json::value& v, bool require_name = true);
boost::json::object DeploymentSpecToJson(const DeploymentSpec& s);

// Policy settings; every key optional in input (missing keys keep `base`).
Result<PolicySettings> PolicyFromJson(const boost::json::value& v, const PolicySettings& base);
boost::json::object PolicyToJson(const PolicySettings& p);

boost::json::object NodeToJson(const NodeRecord& n, TimePoint now);
boost::json::object ModelToJson(const CatalogModel& m);
boost::json::object DeploymentToJson(const Deployment& d, TimePoint now, Duration window);
// `origin_unix_ms` (0 = unknown) is the wall time at `origin`: events then carry unix_ms too.
boost::json::object EventToJson(const Event& e, TimePoint origin, int64_t origin_unix_ms = 0);
boost::json::object PlanResultToJsonObject(const planner::PlanResult& r);
boost::json::array StagesToJson(const std::vector<StageTarget>& s);
Result<std::vector<StageTarget>> StagesFromJson(const boost::json::value& v);

// Tensor as {"dtype","shape","data"} (data flat, row-major). Validated before allocation.
Result<HostTensor> TensorFromJson(const boost::json::value& v, size_t max_bytes);
boost::json::object TensorToJson(const HostTensor& t);

// Longest model, node or address name accepted in JSON input.
inline constexpr size_t kMaxJsonNameBytes = 256;
// Bound on layer indices, trusted_prefix_layers and max_stages in JSON input.
inline constexpr int kMaxJsonLayers = 1000000;
// Bounds on kv_sessions and kv_context_tokens in JSON input (their product stays exact in a double).
inline constexpr int kMaxJsonKvSessions = 1000000;
inline constexpr int kMaxJsonContextTokens = 100000000;
// Nesting deeper than this is malformed (bounds the parser's stack and ours).
inline constexpr int kMaxJsonDepth = 32;
// Parses text into a value; invalid_argument with the byte position on malformed JSON, trailing
// data, nesting deeper than kMaxJsonDepth, or a key repeated within one object.
Result<boost::json::value> ParseJson(const std::string& text);
// Checks that an object has only `allowed` keys; names the first unknown one.
Status CheckKeys(const boost::json::object& o, const std::vector<std::string>& allowed, const std::string& where);


// JSON number that is finite or null.
boost::json::value Num(double v);

}  // namespace edgesplit::orch
