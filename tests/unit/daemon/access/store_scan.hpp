// Where a value occurs in a store: every table and column is searched (case-sensitive), so a
// test can assert that no card UID, plate or QR code was written in clear anywhere.
#pragma once

#include <string>
#include <vector>

#include "daemon/store/sqlite.hpp"

namespace estate::testing {

// "table.column: needle" for each column of each table holding one of `needles`.
inline std::vector<std::string> occurrences(store::Database& db,
                                            const std::vector<std::string>& needles) {
  std::vector<std::string> tables, out;
  auto t = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'");
  while (t.step()) tables.push_back(t.text(0));
  for (const auto& table : tables) {
    std::vector<std::string> columns;
    auto c = db.prepare("SELECT name FROM pragma_table_info(?1)");
    c.bind(1, table);
    while (c.step()) columns.push_back(c.text(0));
    for (const auto& column : columns) {
      auto q = db.prepare("SELECT count(*) FROM \"" + table + "\" WHERE instr(CAST(\"" + column +
                          "\" AS TEXT), ?1) > 0");
      for (const auto& n : needles) {
        q.bind(1, n);
        q.step();
        if (q.int64(0) > 0) out.push_back(table + "." + column + ": " + n);
        q.reset();
      }
    }
  }
  return out;
}

}  // namespace estate::testing
