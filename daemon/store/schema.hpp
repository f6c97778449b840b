// The store's schema, in areas. Each area (core, readings, billing, access, parking, payments,
// audit ...) owns its tables and an append-only list of migrations; its version is the number
// of migrations applied, kept in schema_versions. Never edit a released migration: append one.
#pragma once

#include <span>
#include <string_view>

namespace estate::store {

struct SchemaArea {
  std::string_view name;
  std::span<const std::string_view> migrations;  // migrations[i] takes the area to version i+1
};

std::span<const SchemaArea> schema_areas();

}  // namespace estate::store
