// The local HTTP/1.1 server (Boost.Beast): one listener, one strand per connection, every read
// and write under a timeout, header and body size limits, keep-alive with an idle timeout, a
// cap on open connections and on those of one client address. Requests go to a Router;
// protocol errors (malformed, oversized, hostile) are answered with a 4xx JSON error and the
// connection is closed — no handler runs. With a TLS context the listener speaks HTTPS; it
// tells a TLS handshake from plain HTTP by the first byte, and answers plain HTTP only to the
// addresses `plain_allowed` admits (loopback by default), others get a 403 naming https://.
// Every answer carries X-Content-Type-Options, X-Frame-Options and a Content-Security-Policy
// (pages: their own origin only; the API: nothing).
// Thread-safety: start()/stop() from any thread; sessions run on their own strands.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <functional>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"

namespace estate::http {

// What the HTTP server shares with the components that mount routes or publish metrics.
struct Web {
  Router router;
  MetricsRegistry metrics;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port (see Server::port())
  std::chrono::milliseconds read_timeout{10000};   // whole request, from its first byte
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};   // keep-alive wait for the next request
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 64 * 1024;
  std::size_t max_connections = 256;
  std::size_t max_connections_per_client = 32;  // open connections of one client address
  // HTTPS when set (make_tls_context). Plain HTTP is then answered only to the addresses
  // `plain_allowed` admits (empty: loopback addresses).
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::function<bool(const boost::asio::ip::address&)> plain_allowed;
};

// A TLS server context from PEM files (TLS 1.2 and later). Throws std::runtime_error naming the
// file: unreadable, not PEM, a key that does not match the certificate, or a key file readable
// by its group or others (privacy::check_key_file_mode).
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::filesystem::path& cert_file,
                                                            const std::filesystem::path& key_file);

// The security headers of an answer of `content_type` (text/html: the page policy).
std::vector<std::pair<std::string, std::string>> security_headers(std::string_view content_type);

// What a connection makes of the bytes of one request, without the socket (the fuzz target
// and tests): Beast's parser with the header and body limits of `options`, then the target's
// path and query decoded, exactly as a session does before the router. `request` is set when
// the router would get it; `reject` holds the 4xx answer the session would send instead. Both
// are empty when the bytes end inside a request and the session would just close.
// `consumed` counts the bytes the request used (a kept-alive connection parses the next one
// from the rest); `keep_alive` is the request's own wish.
struct ParsedRequest {
  std::optional<Request> request;
  std::optional<Response> reject;
  std::size_t consumed = 0;
  bool keep_alive = false;
};
ParsedRequest parse_request(std::string_view data, const ServerOptions& options,
                            const std::string& remote);

// Splits "HOST:PORT" (IPv6 as "[::1]:8080"); nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen);

class Server {
 public:
  Server(boost::asio::io_context& io, std::shared_ptr<Web> web, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Throws boost::system::system_error when the address cannot be
  // bound (naming it).
  void start();
  // Stops accepting and closes every open connection.
  void stop();
  std::uint16_t port() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Mounts /healthz, /metrics and the static kiosk assets (/kiosk/ from `assets_dir`/kiosk).
void mount_builtin_routes(const std::shared_ptr<Web>& web, const std::filesystem::path& assets_dir);

// Where the static assets are: $ESTATE_EDGE_ASSETS_DIR, the installed share dir, or the source.
std::filesystem::path default_assets_dir();

}  // namespace estate::http
