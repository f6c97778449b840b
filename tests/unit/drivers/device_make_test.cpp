// The device families' make(): every family builds the driver object of a validated device,
// lines shared by several devices are opened once, and a setting that skipped its validator is
// a programming error, never a device built from it.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "daemon/config/site_config.hpp"
#include "drivers/device_families.hpp"
#include "drivers/device_make.hpp"

namespace estate::drivers {
namespace {

const std::string kSite = R"(site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {id: mbus, kind: serial, protocol: mbus, device: /dev/null}
  - {id: dlt, kind: serial, protocol: dlt645, device: /dev/null}
  - {id: cards, kind: serial, protocol: card, device: /dev/null}
  - {id: barriers, kind: serial, protocol: barrier, device: /dev/null}
  - {id: io-bus, kind: tcp, protocol: modbus, host: 127.0.0.1, port: 1503}
  - {id: pos-link, kind: tcp, protocol: pos, host: 127.0.0.1, port: 1504}
  - {id: printer-link, kind: tcp, protocol: escpos, host: 127.0.0.1, port: 1505}
devices:
  - {id: io-1, kind: io_module, bus: io-bus, address: "7"}
  - {id: gate-in, kind: gate, lane: entry, relay: "io-1:0", loop_input: "io-1:1", options: {loop_poll_ms: 250, open_timeout_s: 45}}
  - {id: gate-in2, kind: gate, lane: entry, relay: "io-1:2"}
  - {id: gate-out, kind: gate, lane: exit, barrier: serial_controller, bus: barriers, address: "2"}
  - {id: gate-out2, kind: gate, lane: exit, barrier: serial_controller, bus: barriers, address: "3"}
  - {id: m-mbus, kind: meter, bus: mbus, address: "12345678", medium: heat}
  - {id: m-dlt, kind: meter, bus: dlt, address: "230610000101", medium: electricity}
  - {id: r1, kind: card_reader, bus: cards, gate: gate-in, address: "1"}
  - {id: r2, kind: card_reader, bus: cards, gate: gate-out, lane: exit, address: "2"}
  - {id: cam, kind: camera, model: vzenith, gate: gate-in, secret: "a2aabfa8f455a033225c4a444f7ffec3"}
  - {id: pos-1, kind: pos, bus: pos-link, model: transbank-integrado, options: {unknown_retry_ms: 750}}
  - {id: printer-1, kind: printer, bus: printer-link, model: 58mm}
  - {id: kiosk-1, kind: kiosk}
)";

class DeviceMake : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics diag;
    auto cfg = config::load_site_config_text(kSite, "site.yaml", diag);
    ASSERT_TRUE(cfg) << diag.to_string();
    cfg_ = std::move(*cfg);
  }
  const DeviceConfig& device(const std::string& id) const {
    const auto* d = cfg_.find_device(id);
    if (!d) throw std::invalid_argument(id);
    return *d;
  }
  DeviceContext context() {
    return DeviceContext{io_.get_executor(), site_, &lines_, nullptr,
                         [this](const std::string& bus, const card::CardFrame&) {
                           frames_on_.push_back(bus);
                         }};
  }

  boost::asio::io_context io_;
  config::SiteConfig cfg_;
  DeviceSite site_{cfg_.buses, cfg_.devices};
  DeviceLines lines_;
  std::vector<std::string> frames_on_;
};

TEST_F(DeviceMake, GatesOnOneIoModuleShareItsLink) {
  auto ctx = context();
  auto a = make_device_as<GateDrive>(ctx, device("gate-in"));
  auto b = make_device_as<GateDrive>(ctx, device("gate-in2"));
  EXPECT_EQ(a.drive, "relay io-1:0, loop io-1:1");
  EXPECT_EQ(b.drive, "relay io-1:2, loop -");
  EXPECT_TRUE(a.io->has_loop());
  EXPECT_FALSE(b.io->has_loop());
  EXPECT_EQ(a.settings.id, "gate-in");
  EXPECT_EQ(a.settings.loop_poll, std::chrono::milliseconds(250));
  EXPECT_EQ(a.settings.open_timeout, std::chrono::seconds(45));
  EXPECT_EQ(b.settings.open_timeout, std::chrono::seconds(30));  // the default
  ASSERT_EQ(lines_.io_modules.size(), 1u);
  auto* module = make_device_as<IoModuleLink*>(ctx, device("io-1"));
  EXPECT_EQ(module, lines_.io_modules.at("io-1").get());
  EXPECT_EQ(module->unit, 7);
  EXPECT_EQ(a.strand, module->strand);  // the barriers run on the module's strand
}

TEST_F(DeviceMake, ControllersOnOneBusShareTheLine) {
  auto ctx = context();
  auto a = make_device_as<GateDrive>(ctx, device("gate-out"));
  auto b = make_device_as<GateDrive>(ctx, device("gate-out2"));
  ASSERT_EQ(lines_.controllers.size(), 1u);
  const auto& line = lines_.controllers.at("barriers");
  EXPECT_EQ(line.model, "generic-485");
  EXPECT_EQ(a.strand, line.strand);
  EXPECT_EQ(b.strand, line.strand);
  EXPECT_NE(a.io, b.io);  // one controller each, one line
  EXPECT_EQ(a.drive.rfind("controller 2 on bus barriers (generic-485, ", 0), 0u) << a.drive;
  EXPECT_EQ(b.drive.rfind("controller 3 on bus barriers", 0), 0u) << b.drive;
}

TEST_F(DeviceMake, CardReadersOnOneBusShareTheLine) {
  auto ctx = context();
  auto r1 = make_device_as<CardReaderSeat>(ctx, device("r1"));
  auto r2 = make_device_as<CardReaderSeat>(ctx, device("r2"));
  EXPECT_EQ(r1.bus, "cards");
  EXPECT_EQ(r1.address, 1);
  EXPECT_EQ(r2.address, 2);
  ASSERT_NE(r1.line, nullptr);
  EXPECT_EQ(r1.line, r2.line);
  EXPECT_EQ(r1.line, lines_.card_readers.at("cards").line);
}

TEST_F(DeviceMake, KioskDevicesCamerasAndMeters) {
  auto ctx = context();
  auto cam = make_device_as<camera::CameraSecret>(ctx, device("cam"));
  EXPECT_EQ(cam.id, "cam");
  EXPECT_EQ(cam.secret, "a2aabfa8f455a033225c4a444f7ffec3");
  EXPECT_EQ(cam.lane, "");  // the gate's lane, which the gate component fills in

  auto pos = make_device_as<PosDevice>(ctx, device("pos-1"));
  EXPECT_NE(pos.terminal, nullptr);
  EXPECT_EQ(pos.unknown_retry, std::chrono::milliseconds(750));
  auto printer = make_device_as<PrinterDevice>(ctx, device("printer-1"));
  EXPECT_NE(printer.printer, nullptr);
  EXPECT_EQ(printer.width, protocols::escpos::PaperWidth::mm58);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(make_device(ctx, device("kiosk-1")).device));

  // A meter is built on its bus's port, by the family of the port's protocol.
  EXPECT_THROW(make_device(ctx, device("m-dlt")), std::logic_error);
  for (const char* id : {"m-mbus", "m-dlt"}) {
    const auto& d = device(id);
    BusPort port;
    port.config = *cfg_.find_bus(d.bus);
    auto strand = boost::asio::make_strand(io_);
    auto transport = make_bus_transport(strand, port);
    DeviceContext meter_ctx{strand, site_, nullptr, &port};
    EXPECT_NE(make_device_as<std::unique_ptr<MeterDriver>>(meter_ctx, d), nullptr) << id;
    EXPECT_THROW(make_device_as<GateDrive>(meter_ctx, d), std::logic_error) << id;
  }
}

// make() builds only what validated: a setting the loader never saw is refused loudly, never
// turned into a device with a guessed format.
TEST_F(DeviceMake, AnUnvalidatedSettingIsAProgrammingError) {
  auto ctx = context();
  DeviceConfig bad = device("gate-out");
  bad.model = "acme";
  try {
    make_device(ctx, bad);
    FAIL() << "built a controller of an unknown model";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "devices.gate-out.model was not validated by its device family");
  }
  EXPECT_TRUE(lines_.controllers.empty());  // no line opened for it
  DeviceContext no_lines{io_.get_executor(), site_};
  EXPECT_THROW(make_device(no_lines, device("r1")), std::logic_error);
}

// Each family the table lists builds: the table and make() agree.
TEST_F(DeviceMake, EveryFamilyHasAMake) {
  for (const auto& f : device_families()) {
    EXPECT_NE(f.make, nullptr) << f.name;
    EXPECT_NE(f.validate, nullptr) << f.name;
  }
}

}  // namespace
}  // namespace estate::drivers
