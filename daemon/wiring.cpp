// Wiring: which components a site runs, in start order. Stopped in reverse order.
#include "daemon/runtime/component.hpp"

namespace estate::runtime {

std::vector<std::unique_ptr<Component>> make_components(Services& services) {
  std::vector<std::unique_ptr<Component>> out;
  (void)services;
  return out;
}

}  // namespace estate::runtime
