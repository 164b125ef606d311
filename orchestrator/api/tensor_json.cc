// TensorFromJson / TensorToJson (declared in json_codec.h): tensors as {"dtype","shape","data"},
// validated before allocation.
#include <cfloat>
#include <cmath>
#include <cstring>

#include <boost/json.hpp>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/json_int.h"

namespace edgesplit::orch {

namespace json = boost::json;

Result<HostTensor> TensorFromJson(const json::value& v, size_t max_bytes) {
  if (!v.is_object()) return InvalidArgument("tensor: body must be a JSON object with dtype, shape, data");
  const auto& o = v.as_object();
  ES_RETURN_IF_ERROR(CheckKeys(o, {"dtype", "shape", "data"}, "tensor"));
  const json::value* dt = o.if_contains("dtype");
  const json::value* sh = o.if_contains("shape");
  const json::value* data = o.if_contains("data");
  if (!dt || !dt->is_string()) return InvalidArgument("tensor.dtype: required string");
  if (!sh || !sh->is_array()) return InvalidArgument("tensor.shape: required array");
  if (!data || !data->is_array()) return InvalidArgument("tensor.data: required flat array");
  auto dtype = ParseDType(std::string(dt->as_string()));
  if (!dtype.ok()) return InvalidArgument("tensor.dtype: must be float32, int64 or int32");
  if (*dtype != DType::kFloat32 && *dtype != DType::kInt64 && *dtype != DType::kInt32)
    return InvalidArgument("tensor.dtype: JSON tensors support float32, int64 and int32 (use .npy for float16)");
  const auto& dims = sh->as_array();
  if (dims.size() > static_cast<size_t>(kMaxRank))
    return InvalidArgument("tensor.shape: rank " + std::to_string(dims.size()) + " exceeds " + std::to_string(kMaxRank));
  std::vector<int64_t> shape;
  for (size_t i = 0; i < dims.size(); ++i) {
    // Not to_number<int64_t>: it throws on a uint64 above INT64_MAX.
    const IntKind k = ClassifyInt(dims[i]);
    if (k == IntKind::kNotInteger) return InvalidArgument("tensor.shape[" + std::to_string(i) + "]: must be an integer");
    if (k == IntKind::kTooLarge)
      return InvalidArgument("tensor.shape[" + std::to_string(i) + "]: dimension exceeds the size limit");
    shape.push_back(AsInt64(dims[i]));
  }
  auto numel = CheckedNumel(shape, *dtype, max_bytes);
  if (!numel.ok()) return InvalidArgument("tensor.shape: " + numel.status().message());
  const auto& arr = data->as_array();
  if (arr.size() != *numel)
    return InvalidArgument("tensor.data: " + std::to_string(arr.size()) + " values for shape " + ShapeToString(shape) +
                           " (" + std::to_string(*numel) + " expected)");
  HostTensor t = HostTensor::Allocate(*dtype, shape);
  auto bad = [](size_t i, const char* what) {
    return InvalidArgument("tensor.data[" + std::to_string(i) + "]: " + what);
  };
  for (size_t i = 0; i < arr.size(); ++i) {
    const json::value& x = arr[i];
    if (!x.is_number()) return bad(i, "must be a number");
    switch (*dtype) {
      case DType::kFloat32: {
        // Out-of-range double-to-float conversion is undefined behaviour; inf comes from 1e400.
        const double d = x.to_number<double>();
        if (!std::isfinite(d) || std::fabs(d) > FLT_MAX) return bad(i, "out of float32 range");
        float f = static_cast<float>(d);
        std::memcpy(t.data + i * 4, &f, 4);
        break;
      }
      case DType::kInt64: {
        const IntKind k = ClassifyInt(x);
        if (k == IntKind::kNotInteger) return bad(i, "int64 values must be integers");
        if (k == IntKind::kTooLarge) return bad(i, "out of int64 range");
        int64_t y = AsInt64(x);
        std::memcpy(t.data + i * 8, &y, 8);
        break;
      }
      case DType::kInt32: {
        const IntKind k = ClassifyInt(x);
        if (k == IntKind::kNotInteger) return bad(i, "int32 values must be integers");
        if (k == IntKind::kTooLarge) return bad(i, "out of int32 range");
        const int64_t y = AsInt64(x);
        if (y < INT32_MIN || y > INT32_MAX) return bad(i, "out of int32 range");
        int32_t z = static_cast<int32_t>(y);
        std::memcpy(t.data + i * 4, &z, 4);
        break;
      }
      default:
        return InvalidArgument("tensor.dtype: unsupported");  // refused above, before allocation
    }
  }
  return t;
}

json::object TensorToJson(const HostTensor& t) {
  json::array shape;
  for (auto d : t.shape) shape.push_back(d);
  json::array data;
  const size_t n = t.numel();
  data.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kFloat32: {
        float f;
        std::memcpy(&f, t.data + i * 4, 4);
        data.push_back(Num(f));
        break;
      }
      case DType::kInt64: {
        int64_t x;
        std::memcpy(&x, t.data + i * 8, 8);
        data.push_back(x);
        break;
      }
      case DType::kInt32: {
        int32_t x;
        std::memcpy(&x, t.data + i * 4, 4);
        data.push_back(x);
        break;
      }
      case DType::kBFloat16: {
        uint16_t h;
        std::memcpy(&h, t.data + i * 2, 2);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;  // bfloat16 is a float32's top half
        float f;
        std::memcpy(&f, &bits, 4);
        data.push_back(Num(f));
        break;
      }
      case DType::kFloat16: {
        uint16_t h;
        std::memcpy(&h, t.data + i * 2, 2);
        // IEEE half to float.
        uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
        float f;
        if (exp == 0) {
          f = std::ldexp(static_cast<float>(man), -24);
          if (sign) f = -f;
        } else {
          uint32_t bits = sign | ((exp == 31 ? 255 : exp - 15 + 127) << 23) | (man << 13);
          std::memcpy(&f, &bits, 4);
        }
        data.push_back(Num(f));
        break;
      }
    }
  }
  return {{"dtype", DTypeName(t.dtype)}, {"shape", shape}, {"data", data}};
}

}  // namespace edgesplit::orch
