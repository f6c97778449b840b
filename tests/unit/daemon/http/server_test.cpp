// The server on a loopback socket (ephemeral port), spoken to with raw bytes so malformed and
// hostile requests can be sent as they are.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon/http/server.hpp"

namespace estate::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    assets_ = std::filesystem::path(ESTATE_EDGE_TEST_BINARY_DIR) / "http-test-assets";
    std::filesystem::create_directories(assets_ / "kiosk");
    std::ofstream(assets_ / "kiosk" / "index.html") << "<html>kiosk</html>";
    web_ = std::make_shared<Web>();
    web_->router.set_tokens({{"kiosk-1", Role::kiosk, sha256("s3cret")}});
    mount_builtin_routes(web_, assets_);
    web_->router.add_route("POST", "/api/echo", Role::kiosk, [this](const Request& r) {
      ++calls_;
      return Response::json(200, {{"body", r.body}});
    });
    ServerOptions o;
    o.port = 0;
    o.body_limit = 1024;
    o.header_limit = 2048;
    o.read_timeout = std::chrono::milliseconds(2000);
    server_ = std::make_unique<Server>(io_, web_, o);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    io_.stop();
    thread_.join();
  }

  // Sends raw bytes, reads until the server closes (Connection: close) or the response ends.
  std::string exchange(const std::string& raw) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    asio::write(s, asio::buffer(raw));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      auto n = s.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }

  static int status_of(const std::string& response) {
    if (response.size() < 12) return 0;
    return std::stoi(response.substr(9, 3));
  }
  static std::string body_of(const std::string& response) {
    auto p = response.find("\r\n\r\n");
    return p == std::string::npos ? "" : response.substr(p + 4);
  }

  asio::io_context io_;
  std::shared_ptr<Web> web_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::filesystem::path assets_;
  std::atomic<int> calls_{0};
};

TEST_F(ServerTest, HealthzAnswersWithoutToken) {
  auto r = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 200);
  EXPECT_EQ(body_of(r), R"({"status":"ok"})");
  EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos);
}

TEST_F(ServerTest, MetricsCountRequests) {
  exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 200);
  EXPECT_NE(r.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(body_of(r).find("estate_http_requests_total{code=\"200\"}"), std::string::npos);
}

TEST_F(ServerTest, MetricsCanRequireAToken) {
  web_->router.set_metrics_token_required(true);
  auto r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 401);
  r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
               "Connection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 200);
}

TEST_F(ServerTest, KioskAssetsAreServedAndTraversalIsNot) {
  auto r = exchange("GET /kiosk/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 200);
  EXPECT_EQ(body_of(r), "<html>kiosk</html>");
  EXPECT_NE(r.find("text/html"), std::string::npos);
  r = exchange("GET /kiosk/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 400);
  r = exchange("GET /kiosk/%2e%2e%2fsecret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_GE(status_of(r), 400);
  EXPECT_LT(status_of(r), 500);
  r = exchange("GET /kiosk/.hidden HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 404);
}

TEST_F(ServerTest, UnauthenticatedPostIs401AndHandlerDoesNotRun) {
  auto r = exchange("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\n{}");
  EXPECT_EQ(status_of(r), 401);
  EXPECT_EQ(nlohmann::json::parse(body_of(r))["error"], "unauthorized");
  EXPECT_EQ(calls_.load(), 0);
  r = exchange("POST /api/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
               "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(status_of(r), 200);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(ServerTest, OversizedBodyIs413) {
  std::string body(4096, 'x');
  auto r = exchange("POST /api/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(status_of(r), 413);
  EXPECT_EQ(nlohmann::json::parse(body_of(r))["error"], "payload_too_large");
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, OversizedHeadersAre431) {
  auto r = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(4096, 'a') +
                    "\r\n\r\n");
  EXPECT_EQ(status_of(r), 431);
}

TEST_F(ServerTest, GarbageIs400) {
  auto r = exchange("\x16\x03\x01\x02 garbage that is not http\r\n\r\n");
  EXPECT_EQ(status_of(r), 400);
  EXPECT_EQ(nlohmann::json::parse(body_of(r))["error"], "bad_request");
  r = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
  EXPECT_EQ(status_of(r), 400);
  r = exchange("GET healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(r), 400);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto r = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t n = 0;
  for (auto p = r.find("HTTP/1.1 200"); p != std::string::npos; p = r.find("HTTP/1.1 200", p + 1)) ++n;
  EXPECT_EQ(n, 2u);
}

TEST_F(ServerTest, SilentClientIsDisconnectedByTheReadTimeout) {
  // Sends half a request line and waits: the server closes after read_timeout (2 s) without
  // answering. The read below returns at the close; it would hang without the timeout.
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
  asio::write(s, asio::buffer(std::string("GET /heal")));
  char buf[64];
  boost::system::error_code ec;
  auto n = s.read_some(asio::buffer(buf), ec);
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(ec);
}

TEST_F(ServerTest, AnswersCarrySecurityHeaders) {
  auto r = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos);
  EXPECT_NE(r.find("X-Frame-Options: DENY\r\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"),
            std::string::npos);
  r = exchange("GET /kiosk/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("X-Frame-Options: DENY\r\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Security-Policy: default-src 'self'; script-src 'self'; "),
            std::string::npos);
  EXPECT_NE(r.find("frame-ancestors 'none'\r\n"), std::string::npos);
  EXPECT_NE(r.find("Referrer-Policy: no-referrer\r\n"), std::string::npos);
}

// A server of the test's own options, on loopback, with its own I/O thread.
class OwnServer {
 public:
  OwnServer(ServerOptions o) : web_(std::make_shared<Web>()) {
    mount_builtin_routes(web_, std::filesystem::path(ESTATE_EDGE_TEST_BINARY_DIR) /
                                   "http-test-assets");
    o.port = 0;
    server_ = std::make_unique<Server>(io_, web_, std::move(o));
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~OwnServer() {
    server_->stop();
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return server_->port(); }

 private:
  asio::io_context io_;
  std::shared_ptr<Web> web_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

// A connection from `source` (any 127.0.0.0/8 address is this host on Linux).
tcp::socket connect_from(asio::io_context& io, const std::string& source, std::uint16_t port) {
  tcp::socket s(io);
  s.open(tcp::v4());
  s.bind({asio::ip::make_address(source), 0});
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  return s;
}

// One keep-alive request; the answer's status, 0 when the server closed instead.
int ask(tcp::socket& s, const std::string& path = "/healthz") {
  boost::system::error_code ec;
  asio::write(s, asio::buffer("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"), ec);
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos || got.find("}") == std::string::npos) {
    auto n = s.read_some(asio::buffer(buf), ec);
    if (ec) return 0;
    got.append(buf, n);
  }
  return std::stoi(got.substr(9, 3));
}

TEST(ServerLimits, OneAddressCannotHoldEveryConnection) {
  ServerOptions o;
  o.max_connections = 16;
  o.max_connections_per_client = 3;
  OwnServer server(o);
  asio::io_context io;
  std::vector<tcp::socket> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(connect_from(io, "127.0.0.1", server.port()));
    ASSERT_EQ(ask(held.back()), 200);  // answered: the connection is open and counted
  }
  auto fourth = connect_from(io, "127.0.0.1", server.port());
  EXPECT_EQ(ask(fourth), 0);  // closed at once
  auto other = connect_from(io, "127.0.0.2", server.port());
  EXPECT_EQ(ask(other), 200);  // another address is still served
  // A closed connection frees its slot (the server notices the close asynchronously).
  held.front().close();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    auto again = connect_from(io, "127.0.0.1", server.port());
    status = ask(again);
  }
  EXPECT_EQ(status, 200);
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(ESTATE_EDGE_TEST_BINARY_DIR) /
           ("http-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    cert_ = dir_ / "cert.pem";
    key_ = dir_ / "key.pem";
    const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                            "-nodes -days 1 -subj /CN=localhost -keyout " + key_.string() +
                            " -out " + cert_.string() + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    ::chmod(key_.c_str(), 0600);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_, cert_, key_;
};

TEST_F(TlsServerTest, HttpsForEveryonePlainHttpForLoopbackOnly) {
  ServerOptions o;
  o.tls = make_tls_context(cert_, key_);
  // "Loopback" here is 127.0.0.1 only, so 127.0.0.2 plays a kiosk on another box.
  o.plain_allowed = [](const asio::ip::address& a) { return a == asio::ip::make_address("127.0.0.1"); };
  OwnServer server(o);
  asio::io_context io;

  asio::ssl::context client(asio::ssl::context::tls_client);
  client.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<tcp::socket> tls(connect_from(io, "127.0.0.2", server.port()), client);
  tls.handshake(asio::ssl::stream_base::client);
  asio::write(tls, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string got;
  char buf[4096];
  boost::system::error_code ec;
  while (got.find("\"ok\"}") == std::string::npos && !ec) {
    got.append(buf, tls.read_some(asio::buffer(buf), ec));
  }
  EXPECT_EQ(got.substr(0, 12), "HTTP/1.1 200");

  auto local = connect_from(io, "127.0.0.1", server.port());
  EXPECT_EQ(ask(local), 200);

  auto lan = connect_from(io, "127.0.0.2", server.port());
  asio::write(lan, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string refused;
  for (;;) {
    auto n = lan.read_some(asio::buffer(buf), ec);
    refused.append(buf, n);
    if (ec) break;
  }
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 403");
  EXPECT_NE(refused.find("https_required"), std::string::npos);
}

TEST_F(TlsServerTest, AKeyReadableByItsGroupIsRefused) {
  ::chmod(key_.c_str(), 0640);
  try {
    make_tls_context(cert_, key_);
    FAIL() << "a group-readable key was accepted";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(key_.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("its group"), std::string::npos) << msg;
    EXPECT_NE(msg.find("chmod 600"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace estate::http
