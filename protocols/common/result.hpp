// Result type shared by the codecs: a value or a DecodeError naming what went wrong and where.
// Codecs never throw on bad input; they return an error with the byte offset of the fault.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <variant>

namespace estate::protocols {

struct DecodeError {
  std::string message;      // what is wrong, e.g. "bad checksum: expected 0x3c, got 0x3d"
  std::size_t offset = 0;   // byte offset in the input where the fault was found

  std::string describe() const { return message + " at byte " + std::to_string(offset); }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
  Result(DecodeError error) : v_(std::move(error)) {}       // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const DecodeError& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, DecodeError> v_;
};

inline DecodeError decode_error(std::string message, std::size_t offset) {
  return DecodeError{std::move(message), offset};
}

}  // namespace estate::protocols
