#include "daemon/demo/demo_site.hpp"

namespace estate::demo {

std::string_view demo_site_yaml() {
  return R"yaml(# estate-edge demo site (embedded). Records flow to the MQTT broker under
# estate/demo-garden/demo-gw/<stream>; commands are accepted on estate/demo-garden/demo-gw/cmd/<name>.
site:
  id: demo-garden
  name: Demo Garden (simulated)
  utc_offset: "+08:00"
gateway:
  id: demo-gw
mqtt:
  keepalive_s: 30
  inflight: 32
  batch: 20
  drain_timeout_s: 5
demo:
  heartbeat_interval_ms: 1000
logging:
  level: info
)yaml";
}

}  // namespace estate::demo
