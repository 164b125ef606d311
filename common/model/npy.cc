#include "common/model/npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace edgesplit {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMaxHeaderLen = 1 << 16;

// Returns the value text following 'key': inside the header dict.
Result<std::string_view> DictValue(std::string_view header, std::string_view key) {
  std::string quoted1 = "'" + std::string(key) + "'";
  std::string quoted2 = "\"" + std::string(key) + "\"";
  size_t pos = header.find(quoted1);
  size_t qlen = quoted1.size();
  if (pos == std::string_view::npos) {
    pos = header.find(quoted2);
    qlen = quoted2.size();
  }
  if (pos == std::string_view::npos) return InvalidArgument("npy header: missing '" + std::string(key) + "'");
  size_t colon = header.find(':', pos + qlen);
  if (colon == std::string_view::npos) return InvalidArgument("npy header: malformed entry for '" + std::string(key) + "'");
  size_t start = colon + 1;
  while (start < header.size() && header[start] == ' ') ++start;
  return header.substr(start);
}

Result<DType> ParseDescr(std::string_view v) {
  if (v.empty() || (v[0] != '\'' && v[0] != '"')) return InvalidArgument("npy header: descr is not a string");
  size_t end = v.find(v[0], 1);
  if (end == std::string_view::npos) return InvalidArgument("npy header: unterminated descr");
  std::string_view d = v.substr(1, end - 1);
  if (d == "<f4") return DType::kFloat32;
  if (d == "<f2") return DType::kFloat16;
  if (d == "<i8") return DType::kInt64;
  if (d == "<i4") return DType::kInt32;
  return InvalidArgument("npy: unsupported dtype '" + std::string(d) +
                         "' (supported: <f4 float32, <f2 float16, <i8 int64, <i4 int32)");
}

Result<std::vector<int64_t>> ParseShape(std::string_view v) {
  if (v.empty() || v[0] != '(') return InvalidArgument("npy header: shape is not a tuple");
  size_t end = v.find(')');
  if (end == std::string_view::npos) return InvalidArgument("npy header: unterminated shape");
  std::vector<int64_t> shape;
  size_t i = 1;
  while (i < end) {
    while (i < end && (v[i] == ' ' || v[i] == ',')) ++i;
    if (i >= end) break;
    int64_t x = 0;
    size_t digits = 0;
    while (i < end && v[i] >= '0' && v[i] <= '9') {
      if (x > (int64_t{1} << 50)) return InvalidArgument("npy header: dimension too large");
      x = x * 10 + (v[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return InvalidArgument("npy header: bad character in shape");
    shape.push_back(x);
    if (shape.size() > static_cast<size_t>(kMaxRank)) return InvalidArgument("npy: rank exceeds " + std::to_string(kMaxRank));
  }
  return shape;
}

}  // namespace

Result<HostTensor> DecodeNpy(std::string_view bytes, size_t max_bytes) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    return InvalidArgument("npy: not an .npy file (bad magic or shorter than 10 bytes)");
  const uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return InvalidArgument("npy: truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    return InvalidArgument("npy: unsupported format version " + std::to_string(major));
  }
  if (header_len > kMaxHeaderLen) return InvalidArgument("npy: header length " + std::to_string(header_len) + " too large");
  if (bytes.size() < header_start + header_len) return InvalidArgument("npy: truncated header");
  std::string_view header = bytes.substr(header_start, header_len);

  ES_ASSIGN_OR_RETURN(auto descr_v, DictValue(header, "descr"));
  ES_ASSIGN_OR_RETURN(DType dtype, ParseDescr(descr_v));
  ES_ASSIGN_OR_RETURN(auto fo_v, DictValue(header, "fortran_order"));
  if (fo_v.substr(0, 5) == "True") return InvalidArgument("npy: fortran_order arrays are not supported");
  if (fo_v.substr(0, 5) != "False") return InvalidArgument("npy header: fortran_order is not a boolean");
  ES_ASSIGN_OR_RETURN(auto shape_v, DictValue(header, "shape"));
  ES_ASSIGN_OR_RETURN(auto shape, ParseShape(shape_v));
  for (auto d : shape)
    if (d == 0) return InvalidArgument("npy: zero-sized dimension in shape " + ShapeToString(shape));
  auto numel = CheckedNumel(shape, dtype, max_bytes);
  if (!numel.ok()) return numel.status();
  const size_t nbytes = *numel * DTypeSize(dtype);
  const size_t data_start = header_start + header_len;
  const size_t have = bytes.size() - data_start;
  if (have < nbytes)
    return InvalidArgument("npy: truncated data (" + std::to_string(have) + " of " + std::to_string(nbytes) + " bytes)");
  if (have > nbytes) return InvalidArgument("npy: " + std::to_string(have - nbytes) + " trailing bytes after the data");
  return HostTensor::CopyOf(dtype, std::move(shape), bytes.data() + data_start, nbytes);
}

namespace {
// NumPy has no bfloat16: widen to float32, which holds every bfloat16 value exactly.
HostTensor WidenBFloat16(const HostTensor& t) {
  HostTensor f = HostTensor::Allocate(DType::kFloat32, t.shape);
  const size_t n = t.numel();
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, t.data + i * 2, 2);
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    std::memcpy(f.data + i * 4, &bits, 4);
  }
  return f;
}
}  // namespace

std::string EncodeNpy(const HostTensor& in) {
  const HostTensor& t = in.dtype == DType::kBFloat16 ? WidenBFloat16(in) : in;
  const char* descr = "<f4";
  switch (t.dtype) {
    case DType::kFloat32: descr = "<f4"; break;
    case DType::kFloat16: descr = "<f2"; break;
    case DType::kInt64: descr = "<i8"; break;
    case DType::kInt32: descr = "<i4"; break;
    case DType::kBFloat16: break;  // widened above
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    shape += std::to_string(t.shape[i]);
    if (t.shape.size() == 1 || i + 1 < t.shape.size()) shape += ",";
    if (i + 1 < t.shape.size()) shape += " ";
  }
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so data starts 64-byte aligned; header ends with '\n'.
  size_t total = 10 + header.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  header.append(pad, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(t.data), t.nbytes);
  return out;
}

Result<HostTensor> ReadNpyFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return NotFound("cannot open " + path);
  auto size = static_cast<size_t>(in.tellg());
  if (size > max_bytes + kMaxHeaderLen + 16) return ResourceExhausted(path + ": file exceeds the size limit");
  in.seekg(0);
  std::string buf(size, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(size));
  if (!in) return DataLoss("read error on " + path);
  auto r = DecodeNpy(buf, max_bytes);
  if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().message());
  return r;
}

Status WriteNpyFile(const HostTensor& t, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Unavailable("cannot write " + path);
  auto bytes = EncodeNpy(t);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) return Unavailable("write failed on " + path);
  return Status::Ok();
}

}  // namespace edgesplit
