// The gates of a site as a daemon component: owns the access service and the parking sessions,
// takes credentials read at a gate (a plate pushed by a camera over HTTP, or any reader through
// submit()), decides, commands the barrier and keeps the parking sessions. Started when the
// config has `gate` devices (gate_configured()).
//
// Devices (docs/parking.md): a `gate` with `relay: io-device:coil` and optionally
// `loop_input: io-device:input` on an `io_module` reached over Modbus TCP; `camera` devices with
// `gate`, `secret` and `lane`; `card_reader` devices on a `card` bus with `gate`, `lane`, `model`
// (frame format, drivers/card/card_frames.cpp) and `address` (the reader's bus address). The
// camera push is mounted as POST /api/cameras/anpr (no token:
// the camera's own secret authenticates it). The downlink command `gate-open` opens a gate by
// hand ({"gate": id, "reason": text}) and records a manual-open event;
// `parking-pay` ({"session": N, "amount_fen": N, "reference": text}) is a payment the platform
// took (the driver's QR payment). The kiosk finds a session with GET /api/parking/sessions
// ?plate=P (or ?card=C) and pays with POST /api/parking/pay (same body), both with a kiosk token.
// The cloud bridge's lists (cards, plates, visitor-passes, blocklist, monthly-passes) reach the
// access service through
// daemon/access/bridge_lists.hpp (wired in daemon/wiring.cpp); at construction, a version the
// bridge stored while no gate was configured is copied into the access tables first.
//
// Thread-safety: constructed and started by the daemon; submit() may be called from any thread.
// Decisions, barrier commands and session writes run on one gate worker thread, in arrival order,
// so HTTP and MQTT threads never wait on the store.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/access/service.hpp"
#include "daemon/bridge/commands.hpp"
#include "daemon/http/server.hpp"
#include "daemon/parking/sessions.hpp"
#include "daemon/runtime/component.hpp"
#include "drivers/camera/anpr_push.hpp"
#include "drivers/camera/frame_queue.hpp"
#include "drivers/camera/qr_frame.hpp"
#include "drivers/card/card_reader.hpp"
#include "drivers/device_make.hpp"
#include "drivers/gate/barrier.hpp"
#include "drivers/gate/modbus_barrier.hpp"
#include "drivers/gate/serial_barrier.hpp"

namespace estate::gate {

bool gate_configured(const config::SiteConfig& cfg);

struct Credential {
  access::CredentialKind kind = access::CredentialKind::plate;
  std::string value;     // normalised
  std::string gate;      // gate device id
  access::Lane lane = access::Lane::entry;
  std::string source;    // the reader or camera device id
  std::optional<access::CameraRead> camera;  // a camera read: colour, snapshot
  // Called once the credential was decided, on the gate worker: true when the barrier was
  // told to open for it (a camera's answer carries that); false when refused, waiting for
  // payment, ignored, or the gates stopped.
  std::function<void(bool opened)> decided;
};

class GateComponent : public runtime::Component {
 public:
  // `web` and `commands` may be null (no HTTP listener / no cloud bridge). The devices were
  // checked when the config loaded (drivers/device_families.hpp); this only builds them.
  GateComponent(runtime::Services& services, std::shared_ptr<http::Web> web,
                bridge::CommandRegistry* commands);
  ~GateComponent() override;

  std::string_view name() const override { return "gate"; }
  void start() override;
  void stop(std::function<void()> done) override;
  void reload(std::shared_ptr<const config::SiteConfig> cfg) override;

  void submit(Credential credential);

  // The access service (lists, policy, arrears source), for wiring the cloud bridge's lists and
  // billing's arrears levels to it before start.
  std::shared_ptr<access::AccessService> access_service() const { return access_; }

  // A parking payment (platform QR, kiosk): the exact amount due; opens the exit barrier when
  // the vehicle waits there. A session still parked is priced at `priced_at` when given. Runs
  // on the caller's thread (blocks until the store committed). Refused once the gates stopped.
  parking::PayResult pay_parking(std::int64_t session, std::int64_t amount_fen,
                                 const std::string& reference, const std::string& via,
                                 std::optional<parking::Instant> priced_at = std::nullopt);
  // A session by id as a payer sees it, priced now; nullopt when there is no such session.
  std::optional<parking::SessionView> parking_session(std::int64_t session);

  // The kiosk's sales (daemon/kiosk, KioskComponent::sales), before start: a session found by
  // a search is answered with a sale handle for it, the only way a kiosk pays it. Without them
  // a search carries no handle.
  struct KioskSales {
    std::function<std::string(const std::string& token, const std::string& room)> open_sale;
  };
  void set_kiosk_sales(KioskSales sales) { kiosk_sales_ = std::move(sales); }

 private:
  struct Gate {
    config::DeviceConfig device;
    access::Lane lane = access::Lane::entry;
    std::shared_ptr<drivers::gate::Barrier> barrier;
    std::string drive;  // "relay io-1:0, loop io-1:0", "controller 2 on bus barrier-line"
  };
  // The HTTP routes (gate_routes.cpp) and the downlink commands (gate_downlinks.cpp), wired
  // by the constructor.
  void add_routes(std::shared_ptr<http::Web> web);
  // The barriers, cameras and card reader lines of the config (gate_devices.cpp).
  void build_devices(const config::SiteConfig& cfg, const access::AccessConfig& ac);
  void add_downlinks(bridge::CommandRegistry& commands);
  bool process(const Credential& c);  // true when the barrier was told to open
  // Opens the barrier and records the event (and `audit`) durably; throws store::Error.
  void manual_open(const std::string& gate, const std::string& reason,
                   const std::optional<audit::Entry>& audit = std::nullopt);
  http::Response on_parking_search(const http::Request& req);
  http::Response on_parking_pay(const http::Request& req);
  void on_card(const std::string& bus, const drivers::card::CardFrame& f);
  void on_barrier_event(const std::string& gate, const drivers::gate::BarrierEvent& ev);
  // A plate push in the camera's format; answered once its read was decided (the answer of a
  // Vzenith camera carries the open instruction).
  void on_camera_push(const http::Request& req, http::Reply reply);
  // The push's picture written under the state dir's snapshots/<UTC day>/; the reference
  // relative to the state dir, or "" (no picture, not a JPEG, or the write failed).
  std::string store_snapshot(const drivers::camera::PlateRead& read, std::int64_t now);
  // Deletes snapshot days no access event refers to any more (retention follows the events'):
  // at start and at most hourly after a push, on the gate worker (a directory listing and one
  // indexed query: it does not hold decisions up noticeably).
  void sweep_snapshots();
  // Checks the frame here, decodes it on frames_ and answers through `reply` (qr_frame.hpp).
  void on_camera_frame(const http::Request& req, http::Reply reply);
  http::Response answer_frame(drivers::camera::FramePush r);  // hands a decoded code to the gate

  runtime::Services& services_;
  std::shared_ptr<const config::SiteConfig> cfg_;
  std::shared_ptr<access::AccessService> access_;
  std::unique_ptr<parking::ParkingSessions> parking_;
  // The I/O modules and the barrier and card reader lines, shared by the devices on them;
  // declared before the gates, whose barriers use them.
  drivers::DeviceLines lines_;
  std::map<std::string, Gate> gates_;
  std::vector<drivers::camera::CameraSecret> cameras_;
  drivers::camera::PushGuard push_guard_;  // signed pushes: time window, replays refused
  std::map<std::string, std::string> camera_gate_;  // camera id -> gate id
  std::unique_ptr<drivers::camera::FrameDecodeQueue> frames_;  // with cameras and a listener
  std::atomic<std::uint64_t> snapshot_seq_{0};     // makes snapshot names unique
  std::atomic<std::int64_t> last_sweep_{0};        // Unix seconds of the last snapshot sweep
  struct Reader {
    std::string id;
    std::string gate;
    access::Lane lane = access::Lane::entry;
  };
  struct CardLine {
    std::shared_ptr<drivers::card::CardReaderLine> line;
    std::map<int, Reader> readers;  // by bus address (-1: the one reader of a format without)
  };
  std::map<std::string, CardLine> card_lines_;  // by bus id
  boost::asio::thread_pool worker_{1};
  std::shared_ptr<std::atomic<bool>> alive_;
  KioskSales kiosk_sales_;
};

}  // namespace estate::gate
