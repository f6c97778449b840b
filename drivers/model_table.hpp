#pragma once
// A driver's constant table of device models (card-reader frame formats, barrier controllers,
// camera push formats): looked up by name, and listed for the message that refuses an unknown one.

#include <functional>
#include <string>
#include <string_view>

namespace estate::drivers {

// The entry whose name (`name` is a member pointer or a callable) is `model`; nullptr when there is none.
template <class Table, class Name>
const typename Table::value_type* find_model(const Table& table, std::string_view model, Name name) {
  for (const auto& entry : table) {
    if (std::string_view(std::invoke(name, entry)) == model) return &entry;
  }
  return nullptr;
}

// "a, b, c": every name in the table's order.
template <class Table, class Name>
std::string model_names(const Table& table, Name name) {
  std::string out;
  for (const auto& entry : table) {
    if (!out.empty()) out += ", ";
    out += std::invoke(name, entry);
  }
  return out;
}

}  // namespace estate::drivers
