#include "drivers/printer/gb18030.hpp"

#include <iconv.h>

#include <cerrno>

namespace estate::drivers::printer {

std::optional<std::vector<std::uint8_t>> to_gb18030(std::string_view utf8) {
  iconv_t cd = iconv_open("GB18030", "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::vector<std::uint8_t> out(utf8.size() * 2 + 16);
  // iconv's interface is not const-correct; it does not write through the input pointer.
  char* in = const_cast<char*>(utf8.data());
  std::size_t in_left = utf8.size();
  char* dst = reinterpret_cast<char*>(out.data());
  std::size_t out_left = out.size();
  std::size_t rc = iconv(cd, &in, &in_left, &dst, &out_left);
  bool ok = rc != static_cast<std::size_t>(-1) && in_left == 0;
  if (ok) ok = iconv(cd, nullptr, nullptr, &dst, &out_left) != static_cast<std::size_t>(-1);
  iconv_close(cd);
  if (!ok) return std::nullopt;
  out.resize(out.size() - out_left);
  return out;
}

}  // namespace estate::drivers::printer
