// Config diagnostics (file:line:column and the key path of every problem): defined with the
// device families in drivers/diagnostics.hpp, used under these names by the whole config.
#pragma once

#include "drivers/diagnostics.hpp"

namespace estate::config {

using drivers::ConfigError;
using drivers::Diagnostics;
using drivers::Location;

}  // namespace estate::config
