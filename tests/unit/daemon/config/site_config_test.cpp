#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/config/site_config.hpp"

namespace estate::config {
namespace {

const std::string head = "site:\n  id: s1\ngateway:\n  id: g1\n";

std::vector<std::string> errors_of(const std::string& text, const std::string& name = "t.yaml") {
  Diagnostics diag;
  auto cfg = load_site_config_text(text, name, diag);
  EXPECT_EQ(cfg.has_value(), diag.ok());
  std::vector<std::string> out;
  for (const auto& e : diag.errors()) out.push_back(e.to_string());
  return out;
}

// The example ships with placeholder secrets that are refused (test_example_config.py); with
// secrets of its own, as a technician writes them, it is valid and draws no warning.
TEST(SiteConfig, ExampleConfigIsValid) {
  std::ifstream in(std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "config/site.example.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto replace = [&text](const std::string& from, const std::string& to) {
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  replace("change-me-entry-camera", "8f2b6c0d4e1a9f7351c2d8e6a0b4f913");
  replace("change-me-exit-camera", "1c7e93a05b2d64f8e0a9c3d7b15f2e86");
  for (const char* h : {"9b00c618b8de8caa4554360e9d1582e31e8b447c3b984bc0d1156768f8eaa5f4",
                        "f39ee02400086c7b09a5d60289c3d826effa3375acd8246b9f9ed2bd5076fd1a",
                        "ba30f59c2ec033f40fcd0f8dc89c9765a4d4ed51ee5140e915a8b3ccd2b43986"}) {
    replace(h, std::string(64, 'a').replace(0, 1, std::string(1, h[1])));
  }
  Diagnostics diag;
  auto cfg = load_site_config_text(text, "site.example.yaml", diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  EXPECT_TRUE(diag.warnings().empty()) << diag.warnings_to_string();
  EXPECT_EQ(cfg->site.id, "sunrise-garden");
  EXPECT_EQ(cfg->gateway.id, "sg-gw-01");
  EXPECT_EQ(cfg->site.utc_offset_minutes, 480);
  ASSERT_NE(cfg->find_bus("mbus-heat"), nullptr);
  EXPECT_EQ(cfg->find_bus("mbus-heat")->parity, 'E');  // M-Bus default 8E1
  EXPECT_EQ(cfg->find_bus("mbus-heat")->baud, 2400);
  EXPECT_EQ(cfg->find_bus("rs485-power")->parity, 'N');
  ASSERT_NE(cfg->find_device("gate-in"), nullptr);
  EXPECT_EQ(cfg->find_device("gate-in")->lane, "entry");
}

TEST(SiteConfig, MisspeltTopLevelKeyNamesFileLineColumn) {
  auto e = errors_of(head + "mqqt:\n  url: mqtt://x:1\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:5:1: mqqt: unknown key (did you mean 'mqtt'?)");
}

// security.command_max_age_s names commands: a misspelt or unknown one is refused, not kept as a
// limit that never applies.
TEST(SiteConfig, CommandMaxAgeNamesOnlyKnownCommands) {
  auto e = errors_of(head + "security:\n  command_max_age_s: { default: 100, gate-opn: 5 }\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:6:38: security.command_max_age_s.gate-opn: unknown key (did you mean "
                  "'gate-open'?)");
  EXPECT_TRUE(errors_of(head + "security:\n  command_max_age_s: { default: 100, gate-open: 5, "
                               "visitor-passes: 600 }\n")
                  .empty());
}

TEST(SiteConfig, UnknownNestedKey) {
  auto e = errors_of(head + "storage:\n  state_dir: /tmp/x\n  retention: 3\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:7:3: storage.retention: unknown key");
}

TEST(SiteConfig, WrongTypeAndOutOfRange) {
  auto e = errors_of(head + "mqtt:\n  keepalive_s: thirty\n  inflight: 0\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "t.yaml:6:16: mqtt.keepalive_s: expected an integer, got 'thirty'");
  EXPECT_EQ(e[1], "t.yaml:7:13: mqtt.inflight: 0 is out of range [1, 65535]");
}

TEST(SiteConfig, ListWhereScalarExpected) {
  auto e = errors_of(head + "mqtt:\n  url: [a, b]\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:6:8: mqtt.url: expected a single value, not a list or mapping");
}

TEST(SiteConfig, BadEnumListsTheChoices) {
  auto e = errors_of(head + "buses:\n  - id: b\n    kind: serial\n    protocol: bacnet\n"
                            "    device: /dev/ttyS0\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:8:15: buses[0].protocol: 'bacnet' is not one of: modbus, mbus, "
                  "dlt645, cjt188, card, barrier, pos, escpos");
}

TEST(SiteConfig, NonStandardBaud) {
  auto e = errors_of(head + "buses:\n  - id: b\n    kind: serial\n    protocol: modbus\n"
                            "    device: /dev/ttyS0\n    baud: 9601\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:10:11: buses[0].baud: 9601 is not a standard baud rate (300 ... 115200)");
}

TEST(SiteConfig, MissingRequiredKeyNamesTheMapping) {
  auto e = errors_of(head + "buses:\n  - id: b\n    protocol: modbus\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:6:5: buses[0].kind: required key is missing");
}

TEST(SiteConfig, SerialBusNeedsDeviceTcpNeedsHost) {
  auto e = errors_of(head + "buses:\n  - {id: a, kind: serial, protocol: modbus}\n"
                            "  - {id: b, kind: tcp, protocol: modbus, port: 502}\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "t.yaml:6:5: buses[0].device: required key is missing");
  EXPECT_EQ(e[1], "t.yaml:7:5: buses[1].host: required key is missing");
}

TEST(SiteConfig, UsbBusNamesItsReaderAndCarriesCardsOnly) {
  Diagnostics diag;
  auto cfg = load_site_config_text(
      head + "buses:\n  - {id: u, kind: usb, protocol: card, device: \"ffff:0035@1-1.4\"}\n",
      "t.yaml", diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  EXPECT_EQ(cfg->buses[0].kind, BusKind::usb);
  EXPECT_EQ(cfg->buses[0].device, "ffff:0035@1-1.4");
  auto e = errors_of(head + "buses:\n  - {id: a, kind: usb, protocol: card, device: /dev/ttyUSB0}\n"
                            "  - {id: b, kind: usb, protocol: modbus, device: \"ffff:0035\"}\n"
                            "  - {id: c, kind: usb, protocol: card, device: \"ffff:0035\", host: x}\n");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0], "t.yaml:6:48: buses[0].device: USB device '/dev/ttyUSB0' is not VID:PID in hex (e.g. ffff:0035)");
  EXPECT_EQ(e[1].substr(0, 8), "t.yaml:7");
  EXPECT_NE(e[1].find("buses[1].protocol: a usb bus carries a keyboard-wedge card reader (protocol card) or a receipt printer"), std::string::npos);
  EXPECT_NE(e[2].find("buses[2].host: a usb bus has no host"), std::string::npos);
}

TEST(SiteConfig, DuplicateIdsPointAtTheFirstDefinition) {
  auto e = errors_of(head +
                     "buses:\n  - {id: a, kind: tcp, protocol: modbus, host: h, port: 502}\n"
                     "  - {id: a, kind: tcp, protocol: modbus, host: h, port: 503}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:7:5: buses.a: duplicate bus id; first defined at t.yaml:6:5");
}

TEST(SiteConfig, DanglingReferences) {
  auto e = errors_of(head +
                     "devices:\n"
                     "  - {id: m1, kind: meter, bus: nowhere, address: '1', medium: water}\n"
                     "  - {id: c1, kind: camera, gate: no-gate, model: vzenith}\n"
                     "  - {id: g1, kind: gate, relay: 'io9:0'}\n");
  // Each error points at the key's value; the camera's family then misses its secret.
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0], "t.yaml:6:32: devices.m1.bus: no bus with id 'nowhere'");
  EXPECT_EQ(e[1], "t.yaml:7:34: devices.c1.gate: no device with id 'no-gate'");
  EXPECT_EQ(e[2], "t.yaml:8:33: devices.g1.relay: no device with id 'io9'");
  EXPECT_EQ(e[3], "t.yaml:7:5: devices.c1.secret: a camera needs the secret of its HTTP push");
}

TEST(SiteConfig, CameraModelIsAPushFormat) {
  const std::string devices =
      "devices:\n"
      "  - {id: io1, kind: io_module, bus: io, address: '1'}\n"
      "  - {id: g, kind: gate, relay: 'io1:0'}\n";
  const std::string bus =
      "buses:\n  - {id: io, kind: tcp, protocol: modbus, host: 127.0.0.1, port: 502}\n";
  auto e = errors_of(head + bus + devices +
                     "  - {id: c1, kind: camera, gate: g, model: hikvision, "
                     "secret: 0123456789abcdef0123456789abcdef}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:10:44: devices.c1.model: unknown camera model 'hikvision' (plate push "
                  "formats: vzenith, hikvision-isapi, generic-json, json-fields)");
  for (const char* model : {"generic-json", "vzenith", "hikvision-isapi"}) {
    EXPECT_TRUE(errors_of(head + bus + devices + "  - {id: c1, kind: camera, gate: g, model: " +
                          model + ", secret: 0123456789abcdef0123456789abcdef}\n")
                    .empty())
        << model;
  }
}

TEST(SiteConfig, AddressesAreCheckedAgainstTheBusProtocol) {
  auto e = errors_of(head +
                     "buses:\n"
                     "  - {id: d, kind: serial, protocol: dlt645, device: /dev/ttyS1}\n"
                     "  - {id: m, kind: serial, protocol: modbus, device: /dev/ttyS2}\n"
                     "devices:\n"
                     "  - {id: e1, kind: meter, bus: d, address: '12345', medium: electricity}\n"
                     "  - {id: e2, kind: meter, bus: m, address: '248', medium: electricity, "
                     "model: eastron-sdm630}\n"
                     "  - {id: e3, kind: meter, bus: m, address: '7', medium: electricity}\n");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0], "t.yaml:9:44: devices.e1.address: a DL/T 645 address is 12 digits, got '12345'");
  EXPECT_EQ(e[1], "t.yaml:10:44: devices.e2.address: a Modbus unit id is 1..247, got '248'");
  EXPECT_EQ(e[2], "t.yaml:11:5: devices.e3.model: a Modbus meter needs a model (a register map "
                  "from config/models)");
}

TEST(SiteConfig, YamlSyntaxErrorHasLocation) {
  auto e = errors_of(head + "mqtt:\n  url: x\n  - y\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:7:3: YAML syntax: end of map not found");
}

TEST(SiteConfig, MissingIdentity) {
  auto e = errors_of("mqtt:\n  url: mqtt://h:1883\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "t.yaml: site.id: required key is missing");
  EXPECT_EQ(e[1], "t.yaml: gateway.id: required key is missing");
}

TEST(SiteConfig, BadUtcOffset) {
  auto e = errors_of("site:\n  id: s\n  utc_offset: '8'\ngateway:\n  id: g\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:3:15: site.utc_offset: expected an offset such as \"+08:00\", got '8'");
}

class DropIns : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("estate-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "conf.d");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ / rel) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(DropIns, ListsAppendAndMappingsOverrideInNameOrder) {
  write("site.yaml", head + "mqtt:\n  url: mqtt://a:1883\n  inflight: 8\n"
                            "buses:\n  - {id: a, kind: tcp, protocol: modbus, host: h, port: 1}\n");
  write("conf.d/20-more.yaml", "buses:\n  - {id: c, kind: tcp, protocol: modbus, host: h, port: 3}\n"
                               "mqtt:\n  inflight: 64\n");
  write("conf.d/10-first.yaml", "buses:\n  - {id: b, kind: tcp, protocol: modbus, host: h, port: 2}\n");
  write("conf.d/ignored.txt", "not yaml: [");
  Diagnostics diag;
  auto cfg = load_site_config(dir_ / "site.yaml", diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  ASSERT_EQ(cfg->buses.size(), 3u);
  EXPECT_EQ(cfg->buses[1].id, "b");
  EXPECT_EQ(cfg->buses[2].id, "c");
  EXPECT_EQ(cfg->mqtt.url, "mqtt://a:1883");
  EXPECT_EQ(cfg->mqtt.inflight, 64);
  EXPECT_EQ(cfg->files.size(), 3u);
}

TEST_F(DropIns, ErrorsNameTheDropInFile) {
  write("site.yaml", head);
  write("conf.d/50-bad.yaml", "\nhttp:\n  listen: nocolon\n");
  Diagnostics diag;
  auto cfg = load_site_config(dir_ / "site.yaml", diag);
  ASSERT_FALSE(cfg);
  ASSERT_EQ(diag.errors().size(), 1u);
  EXPECT_EQ(diag.errors()[0].to_string(),
            (dir_ / "conf.d/50-bad.yaml").string() +
                ":3:11: http.listen: expected HOST:PORT such as 127.0.0.1:8080, got 'nocolon'");
}

TEST_F(DropIns, DuplicateAcrossFiles) {
  write("site.yaml", head + "buses:\n  - {id: a, kind: tcp, protocol: modbus, host: h, port: 1}\n");
  write("conf.d/a.yaml", "buses:\n  - {id: a, kind: tcp, protocol: modbus, host: h, port: 2}\n");
  Diagnostics diag;
  ASSERT_FALSE(load_site_config(dir_ / "site.yaml", diag));
  ASSERT_EQ(diag.errors().size(), 1u);
  EXPECT_NE(diag.errors()[0].message.find("first defined at " + (dir_ / "site.yaml").string() +
                                          ":6:5"),
            std::string::npos)
      << diag.to_string();
}

TEST_F(DropIns, DuplicateParkingRuleAcrossFiles) {
  write("site.yaml", head + "parking_rules:\n  - {id: visitor, free_minutes: 30, unit_minutes: 60, unit_price_fen: 500}\n");
  write("conf.d/a.yaml", "parking_rules:\n  - {id: visitor, free_minutes: 0, unit_minutes: 30, unit_price_fen: 300}\n");
  Diagnostics diag;
  ASSERT_FALSE(load_site_config(dir_ / "site.yaml", diag));
  ASSERT_EQ(diag.errors().size(), 1u) << diag.to_string();
  EXPECT_EQ(diag.errors()[0].to_string(),
            (dir_ / "conf.d/a.yaml").string() + ":2:10: parking_rules.visitor: duplicate parking "
            "rule id; first defined at " + (dir_ / "site.yaml").string() + ":6:10");
}

// A candidate drop-in is validated in place of the file of its name, which stays untouched
// until write_dropin; empty text means the drop-in is gone.
TEST_F(DropIns, CandidateReplacesTheFileOfItsNameAndIsWrittenAtomically) {
  write("site.yaml", head);
  write("conf.d/90-platform.yaml", "mqtt:\n  inflight: 8\n");
  Diagnostics diag;
  auto cfg = load_site_config(dir_ / "site.yaml", DropIn{"90-platform.yaml", "mqtt:\n  inflight: 64\n"}, diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  EXPECT_EQ(cfg->mqtt.inflight, 64);
  Diagnostics bad;
  EXPECT_FALSE(load_site_config(dir_ / "site.yaml", DropIn{"90-platform.yaml", "mqtt:\n  inflite: 1\n"}, bad));
  EXPECT_NE(bad.to_string().find((dir_ / "conf.d/90-platform.yaml").string() + ":2:3: mqtt.inflite"),
            std::string::npos) << bad.to_string();
  auto gone = load_site_config(dir_ / "site.yaml", DropIn{"90-platform.yaml", ""}, diag);
  ASSERT_TRUE(gone);
  EXPECT_NE(gone->mqtt.inflight, 8);
  // On disk: still the old file, then the new one, then none.
  EXPECT_EQ(load_site_config(dir_ / "site.yaml", diag)->mqtt.inflight, 8);
  write_dropin(dir_ / "site.yaml", DropIn{"90-platform.yaml", "mqtt:\n  inflight: 64\n"});
  EXPECT_EQ(load_site_config(dir_ / "site.yaml", diag)->mqtt.inflight, 64);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "conf.d/.90-platform.yaml.new"));
  write_dropin(dir_ / "site.yaml", DropIn{"90-platform.yaml", ""});
  EXPECT_FALSE(std::filesystem::exists(dir_ / "conf.d/90-platform.yaml"));
  EXPECT_THROW(write_dropin(dir_ / "site.yaml", DropIn{"../escape.yaml", "a: 1\n"}), std::runtime_error);
}

TEST(SiteConfig, CameraSecretsAreRefusedWhenPlaceholderOrWeak) {
  const std::string cams =
      "devices:\n"
      "  - { id: g, kind: gate }\n"
      "  - { id: c1, kind: camera, gate: g, secret: change-me-entry-camera-0123456789abcdef, model: vzenith }\n"
      "  - { id: c2, kind: camera, gate: g, secret: cam-secret-for-tests, model: vzenith }\n"
      "  - { id: c3, kind: camera, gate: g, secret: 0123456789abcdef0123456789abcde, model: vzenith }\n"
      "  - { id: c4, kind: camera, gate: g, secret: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, model: vzenith }\n"
      "  - { id: c5, kind: camera, gate: g, secret: 0123456789abcdef0123456789abcdef, model: vzenith }\n"
      "  - { id: c6, kind: camera, gate: g, secret: \"q3Zr8Kx0Vb2Lm5Tn9Pw1Yd\", model: vzenith }\n";
  auto e = errors_of(head + cams);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0], "t.yaml:7:46: devices[1].secret: this is a placeholder: put a random secret of at "
                  "least 128 bits here (openssl rand -hex 16)");
  EXPECT_EQ(e[1], "t.yaml:8:46: devices[2].secret: too weak (about 117 bits): use a random secret of "
                  "at least 128 bits, e.g. 32 hex digits (openssl rand -hex 16)");
  EXPECT_NE(e[2].find("t.yaml:9:46: devices[3].secret: too weak (about 124 bits)"), std::string::npos);
  EXPECT_NE(e[3].find("t.yaml:10:46: devices[4].secret: too weak"), std::string::npos);
  for (const auto& m : e) EXPECT_EQ(m.find("cam-secret"), std::string::npos) << "value echoed";
}

TEST(SiteConfig, PlaceholderTokenHashesAreRefused) {
  auto e = errors_of(head + "http:\n  tokens:\n    - { name: k, role: kiosk, sha256: "
                            "9b00c618b8de8caa4554360e9d1582e31e8b447c3b984bc0d1156768f8eaa5f4 }\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("t.yaml:7:39: http.tokens[0].sha256: the hash of a placeholder token"),
            std::string::npos)
      << e[0];
}

TEST(SiteConfig, HttpsNeedsBothFilesAndPlainLanListenersAreWarnedOf) {
  auto e = errors_of(head + "http:\n  listen: \"0.0.0.0:8080\"\n  tls_cert_file: c.pem\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:6:11: http.tls_key_file: HTTPS needs both http.tls_cert_file and "
                  "http.tls_key_file");

  Diagnostics diag;
  auto cfg = load_site_config_text(head + "http:\n  listen: \"0.0.0.0:8080\"\n"
                                          "mqtt:\n  url: mqtt://broker:1883\n  password: pw\n",
                                   "t.yaml", diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  ASSERT_EQ(diag.warnings().size(), 3u) << diag.warnings_to_string();
  EXPECT_EQ(diag.warnings_to_string(),
            "t.yaml:6:11: http.listen: warning: plain HTTP on a non-loopback address: tokens and "
            "camera secrets cross the LAN in clear; set http.tls_cert_file and "
            "http.tls_key_file\n"
            "t.yaml:8:3: mqtt.url: warning: a password over mqtt:// crosses the network in clear; "
            "use mqtts://\n"
            "t.yaml:8:3: security.platform_public_keys: warning: not set: commands from the "
            "platform (gate-open, topup, valve, config ...) are obeyed without a signature; list "
            "the platform's Ed25519 key (docs/security.md)\n");

  Diagnostics quiet;
  cfg = load_site_config_text(head + "http:\n  listen: \"127.0.0.1:8080\"\n"
                                     "  max_connections_per_client: 8\n"
                                     "mqtt:\n  url: mqtts://broker:8883\n  password: pw\n"
                                     "security:\n  platform_public_keys: [d75a980182b10ab7d54bfed3"
                                     "c964073a0ee172f3daa62325af021a68f707511a]\n",
                              "t.yaml", quiet);
  ASSERT_TRUE(cfg) << quiet.to_string();
  EXPECT_TRUE(quiet.warnings().empty()) << quiet.warnings_to_string();
  EXPECT_EQ(cfg->http.max_connections_per_client, 8);
  cfg = load_site_config_text(head + "http:\n  listen: \"0.0.0.0:8443\"\n"
                                     "  tls_cert_file: /etc/e/c.pem\n  tls_key_file: k.pem\n",
                              "/etc/e/site.yaml", quiet);
  ASSERT_TRUE(cfg) << quiet.to_string();
  EXPECT_TRUE(quiet.warnings().empty()) << quiet.warnings_to_string();
  EXPECT_EQ(cfg->http.tls_key_file, "/etc/e/k.pem");  // relative: beside the file naming it
}

TEST(SiteConfig, SecretFilesOpenToOthersAreRefusedOrWarnedOf) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("site-config-modes-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto key = (dir / "http-key.pem").string(), pw = (dir / "mqtt-password").string();
  std::ofstream(key) << "k";
  std::ofstream(pw) << "p";
  ::chmod(key.c_str(), 0640);
  ::chmod(pw.c_str(), 0644);
  auto e = errors_of(head + "http:\n  listen: \"127.0.0.1:8443\"\n  tls_cert_file: c.pem\n"
                            "  tls_key_file: " + key + "\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "t.yaml:6:11: http.tls_key_file: file " + key +
                      " is accessible by its group (mode 640): chmod 600 " + key);
  Diagnostics diag;
  auto cfg = load_site_config_text(head + "mqtt:\n  url: mqtts://b:8883\n  password_file: " + pw +
                                       "\n", "t.yaml", diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  EXPECT_NE(diag.warnings_to_string().find("t.yaml:6:3: mqtt.password_file: warning: file " + pw +
                                            " is accessible by other users (mode 644): chmod 600 " +
                                            pw + "\n"),
            std::string::npos)
      << diag.warnings_to_string();
  ::chmod(key.c_str(), 0600);
  EXPECT_TRUE(errors_of(head + "http:\n  listen: \"127.0.0.1:8443\"\n  tls_cert_file: c.pem\n"
                               "  tls_key_file: " + key + "\n").empty());
  std::filesystem::remove_all(dir);
}

TEST(SiteConfig, MissingFile) {
  Diagnostics diag;
  EXPECT_FALSE(load_site_config("/nonexistent/site.yaml", diag));
  ASSERT_FALSE(diag.ok());
  EXPECT_EQ(diag.errors()[0].to_string(),
            "/nonexistent/site.yaml: cannot read file: No such file or directory");
}

}  // namespace
}  // namespace estate::config
