#include "daemon/http/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <map>

#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include "daemon/privacy/key_file.hpp"

namespace estate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::optional<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen) {
  std::string host;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    host = std::string(listen.substr(0, colon));
    port_text = listen.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  unsigned port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535 || host.empty()) return std::nullopt;
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

namespace {

// What the server can close on stop(): every kind of session.
struct Closable {
  virtual ~Closable() = default;
  virtual void close() = 0;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, std::shared_ptr<Web> w, ServerOptions o)
      : io(io), web(std::move(w)), options(std::move(o)), acceptor(asio::make_strand(io)) {}

  void accept();
  // Takes a connection slot for `address`; false (nothing taken) over either cap.
  bool take(const std::string& address, const char*& why);
  void release(const std::string& address);
  void track(const std::shared_ptr<Closable>& s);

  asio::io_context& io;
  std::shared_ptr<Web> web;
  ServerOptions options;
  tcp::acceptor acceptor;
  std::atomic<bool> stopped{false};
  std::mutex sessions_mutex;
  std::size_t open = 0;                                // guarded by sessions_mutex
  std::map<std::string, std::size_t> open_per_client;  // guarded by sessions_mutex
  std::vector<std::weak_ptr<Closable>> sessions;
  std::uint16_t port = 0;
};

bool Server::Impl::take(const std::string& address, const char*& why) {
  std::lock_guard lock(sessions_mutex);
  if (open >= options.max_connections) {
    why = "too many connections open";
    return false;
  }
  auto& n = open_per_client[address];
  if (n >= options.max_connections_per_client) {
    why = "too many connections open from one address";
    return false;
  }
  ++n;
  ++open;
  return true;
}

void Server::Impl::release(const std::string& address) {
  std::lock_guard lock(sessions_mutex);
  --open;
  auto it = open_per_client.find(address);
  if (it != open_per_client.end() && --it->second == 0) open_per_client.erase(it);
}

void Server::Impl::track(const std::shared_ptr<Closable>& s) {
  std::lock_guard lock(sessions_mutex);
  std::erase_if(sessions, [](const auto& w) { return w.expired(); });
  sessions.push_back(s);
}

std::vector<std::pair<std::string, std::string>> security_headers(std::string_view content_type) {
  std::vector<std::pair<std::string, std::string>> h{
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
  };
  if (content_type.starts_with("text/html")) {
    // The pages load their own script, style and data only; no inline code, no framing.
    h.emplace_back("Content-Security-Policy",
                   "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                   "frame-ancestors 'none'");
  } else {
    h.emplace_back("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }
  return h;
}

std::shared_ptr<asio::ssl::context> make_tls_context(const std::filesystem::path& cert_file,
                                                     const std::filesystem::path& key_file) {
  try {
    privacy::check_key_file_mode(key_file);
  } catch (const privacy::KeyFileError& e) {
    throw std::runtime_error(std::string("http.tls_key_file: ") + e.what());
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  beast::error_code ec;
  ctx->use_certificate_chain_file(cert_file.string(), ec);
  if (ec) {
    throw std::runtime_error("http.tls_cert_file " + cert_file.string() +
                             ": not a readable PEM certificate chain (" + ec.message() + ")");
  }
  ctx->use_private_key_file(key_file.string(), asio::ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("http.tls_key_file " + key_file.string() +
                             ": not a readable PEM private key matching the certificate (" +
                             ec.message() + ")");
  }
  return ctx;
}

namespace {

Request to_request(const bhttp::request<bhttp::string_body>& msg, const std::string& remote,
                   std::optional<Response>& reject) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.remote = remote;
  std::string_view target(msg.target().data(), msg.target().size());
  if (target.empty() || target.front() != '/') {
    reject = Response::error(400, "bad_request", "request target must be an absolute path");
    return req;
  }
  auto q = target.find('?');
  auto path = percent_decode(target.substr(0, q), false);
  if (!path) {
    reject = Response::error(400, "bad_request", "malformed percent escape in the path");
    return req;
  }
  // "/a/../b" style paths never reach a handler: no route is written to expect them.
  if (path->find("/../") != std::string::npos || path->ends_with("/..") ||
      path->find("//") != std::string::npos) {
    reject = Response::error(400, "bad_request", "path must not contain '..' or empty segments");
    return req;
  }
  req.path = std::move(*path);
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      auto part = qs.substr(0, amp);
      auto eq = part.find('=');
      auto k = percent_decode(part.substr(0, eq), true);
      auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1),
                              true);
      if (!k || !v) {
        reject = Response::error(400, "bad_request", "malformed percent escape in the query");
        return req;
      }
      if (!k->empty()) req.query[*k] = *v;
      if (amp == std::string_view::npos) break;
      qs = qs.substr(amp + 1);
    }
  }
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[name] = std::string(f.value());
  }
  req.body = msg.body();
  return req;
}

// The answer to a request the parser refused; nullopt for an error nobody can be told of
// (the socket failed).
std::optional<Response> parse_error_response(const beast::error_code& ec) {
  int status = 400;
  std::string code = "bad_request";
  if (ec == bhttp::error::body_limit) {
    status = 413;
    code = "payload_too_large";
  } else if (ec == bhttp::error::header_limit) {
    status = 431;
    code = "headers_too_large";
  } else if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return std::nullopt;
  }
  return Response::error(status, code, "malformed request: " + ec.message());
}

void limit(bhttp::request_parser<bhttp::string_body>& parser, const ServerOptions& options) {
  parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
  parser.body_limit(options.body_limit);
}

// One open connection counted against the server's caps: released when the last session
// object holding it goes.
class Slot {
 public:
  Slot(std::shared_ptr<Server::Impl> server, std::string address)
      : server_(std::move(server)), address_(std::move(address)) {}
  Slot(Slot&& o) noexcept : server_(std::move(o.server_)), address_(std::move(o.address_)) {}
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  Slot& operator=(Slot&&) = delete;
  ~Slot() {
    if (server_) server_->release(address_);
  }
  Server::Impl& server() const { return *server_; }

 private:
  std::shared_ptr<Server::Impl> server_;
  std::string address_;
};

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

beast::tcp_stream& tcp_of(beast::tcp_stream& s) { return s; }
beast::tcp_stream& tcp_of(TlsStream& s) { return s.next_layer(); }

// An HTTP session over a plain or a TLS stream.
template <class Stream>
class Session : public Closable, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream&& stream, beast::flat_buffer&& buffer, Slot&& slot, std::string remote)
      : stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        slot_(std::move(slot)),
        remote_(std::move(remote)) {}

  // Plain: reads at once. TLS: the handshake first, from what detection already read.
  void run() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      tcp_of(stream_).expires_after(server().options.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                              [self = this->shared_from_this()](beast::error_code ec,
                                                                std::size_t used) {
                                if (ec) {
                                  spdlog::debug("http: {}: TLS handshake: {}", self->remote_,
                                                ec.message());
                                  return self->close_now();
                                }
                                self->buffer_.consume(used);
                                self->read();
                              });
    } else {
      read();
    }
  }

  // A plain request on a TLS listener from an address that may not speak plain HTTP: one 403
  // naming https://, then close.
  void refuse_plain() {
    tcp_of(stream_).expires_after(server().options.read_timeout);
    parser_.emplace();
    limit(*parser_, server().options);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code, std::size_t) {
                        self->count(403);
                        self->send(Response::error(403, "https_required",
                                                   "this gateway answers plain HTTP on loopback "
                                                   "only: use https://"),
                                   false, 11);
                      });
  }

  void close() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      self->close_now();
    });
  }

 private:
  Server::Impl& server() const { return slot_.server(); }

  void read() {
    parser_.emplace();
    limit(*parser_, server().options);
    // The first request waits read_timeout; a kept-alive connection waits idle_timeout.
    tcp_of(stream_).expires_after(requests_ == 0 ? server().options.read_timeout
                                                 : server().options.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return close_now();
    }
    if (ec) {
      // A parse error: tell the client why, then close (the stream position is lost).
      auto answer = parse_error_response(ec);
      if (!answer) return close_now();  // a socket error: nobody to answer
      count(answer->status);
      spdlog::debug("http: {}: rejected request: {}", remote_, ec.message());
      return send(std::move(*answer), false, 11);
    }
    ++requests_;
    auto msg = parser_->release();
    // Bound the request: a body is expected on POST/PUT/PATCH only.
    std::optional<Response> reject;
    Request req = to_request(msg, remote_, reject);
    if (reject) return answer(std::move(*reject), false, msg.version());
    // An async route answers from its own thread: the answer comes back to this strand (a
    // synchronous route's answers at once, on it).
    server().web->router.dispatch_async(
        std::move(req), [self = this->shared_from_this(), keep_alive = msg.keep_alive(),
                         version = msg.version()](Response res) {
          asio::dispatch(self->stream_.get_executor(),
                         [self, res = std::move(res), keep_alive, version]() mutable {
                           self->answer(std::move(res), keep_alive, version);
                         });
        });
  }

  void answer(Response res, bool keep_alive, unsigned version) {
    count(res.status);
    const bool keep = keep_alive && res.status < 500;
    send(std::move(res), keep, version);
  }

  void count(int status) {
    server().web->metrics
        .counter("estate_http_requests_total", "HTTP requests answered, by status code",
                 {{"code", std::to_string(status)}})
        .inc();
  }

  void send(Response r, bool keep_alive, unsigned version) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(r.status));
    res->set(bhttp::field::server, "estate-edge");
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::cache_control, "no-store");
    for (auto& [k, v] : security_headers(r.content_type)) res->set(k, v);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    tcp_of(stream_).expires_after(server().options.write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res, keep_alive](beast::error_code ec,
                                                                          std::size_t) {
                         if (ec || self->server().stopped) return self->close_now();
                         if (!keep_alive) return self->linger_close();
                         self->read();
                       });
  }

  // Plain: half-closes and discards what the client still sends (the rest of a refused body)
  // for a moment, so closing with unread data does not reset the connection before the client
  // read our answer. TLS: sends close_notify and waits for the peer's, under a timeout.
  void linger_close() {
    tcp_of(stream_).expires_after(std::chrono::seconds(2));
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        self->close_now();
      });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      drain();
    }
  }

  void drain() {
    drain_buffer_.resize(4096);
    tcp_of(stream_).async_read_some(asio::buffer(drain_buffer_),
                                    [self = this->shared_from_this()](beast::error_code ec,
                                                                      std::size_t) {
                                      if (ec) return self->close_now();
                                      self->drain();
                                    });
  }

  void close_now() {
    beast::error_code ec;
    tcp_of(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_of(stream_).close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Slot slot_;
  std::string remote_;
  std::size_t requests_ = 0;
  std::vector<char> drain_buffer_;
};

// On a TLS listener: reads the first bytes to tell a TLS handshake from plain HTTP, then hands
// the connection to the session of its kind.
class Detector : public Closable, public std::enable_shared_from_this<Detector> {
 public:
  Detector(tcp::socket&& socket, Slot&& slot, std::string remote, asio::ip::address address)
      : stream_(std::move(socket)),
        slot_(std::move(slot)),
        remote_(std::move(remote)),
        address_(std::move(address)) {}

  void run() {
    stream_.expires_after(slot_.server().options.read_timeout);
    beast::async_detect_ssl(stream_, buffer_,
                            beast::bind_front_handler(&Detector::on_detect, shared_from_this()));
  }

  void close() override {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  void on_detect(beast::error_code ec, bool tls) {
    if (ec) {
      beast::error_code ignore;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignore);
      stream_.close();
      return;
    }
    Server::Impl& server = slot_.server();
    const auto& allowed = server.options.plain_allowed;
    if (tls) {
      auto s = std::make_shared<Session<TlsStream>>(
          TlsStream(std::move(stream_), *server.options.tls), std::move(buffer_),
          std::move(slot_), remote_);
      server.track(s);
      s->run();
    } else {
      auto s = std::make_shared<Session<beast::tcp_stream>>(std::move(stream_), std::move(buffer_),
                                                            std::move(slot_), remote_);
      server.track(s);
      if (allowed ? allowed(address_) : address_.is_loopback()) {
        s->run();
      } else {
        spdlog::debug("http: {}: plain HTTP refused (HTTPS only off loopback)", remote_);
        s->refuse_plain();
      }
    }
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  Slot slot_;
  std::string remote_;
  asio::ip::address address_;
};

}  // namespace

ParsedRequest parse_request(std::string_view data, const ServerOptions& options,
                            const std::string& remote) {
  ParsedRequest out;
  bhttp::request_parser<bhttp::string_body> parser;
  limit(parser, options);
  beast::error_code ec;
  while (!parser.is_done()) {
    std::size_t n =
        parser.put(asio::buffer(data.data() + out.consumed, data.size() - out.consumed), ec);
    out.consumed += n;
    if (ec == bhttp::error::need_more || (!ec && n == 0)) {
      if (n > 0) continue;
      // Everything there is was seen: the peer's end of stream, as beast::http::read sees it.
      if (!parser.got_some()) return out;  // nothing sent: the session just closes
      ec = {};
      parser.put_eof(ec);
      if (!ec && !parser.is_done()) return out;
    }
    if (ec) {
      out.reject = parse_error_response(ec);
      return out;
    }
  }
  auto msg = parser.release();
  out.keep_alive = msg.keep_alive();
  std::optional<Response> reject;
  Request req = to_request(msg, remote, reject);
  if (reject) {
    out.reject = std::move(reject);
  } else {
    out.request = std::move(req);
  }
  return out;
}

void Server::Impl::accept() {
  acceptor.async_accept(
      asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
        if (ec) {
          if (ec == asio::error::operation_aborted || self->stopped) return;
          spdlog::warn("http: accept: {}", ec.message());
        } else {
          beast::error_code peer_ec;
          const auto peer = s.remote_endpoint(peer_ec);
          const std::string address = peer_ec ? "?" : peer.address().to_string();
          const char* why = nullptr;
          if (!self->take(address, why)) {
            // Over a cap: refuse at once rather than queue unboundedly; one host cannot hold
            // every connection.
            beast::error_code ignore;
            s.close(ignore);
            self->web->metrics
                .counter("estate_http_connections_refused_total",
                         "connections closed at once because too many were open")
                .inc();
            spdlog::debug("http: {}: connection refused: {}", address, why);
          } else {
            Slot slot(self, address);
            std::string remote = peer_ec ? "?" : address + ":" + std::to_string(peer.port());
            if (self->options.tls) {
              auto d = std::make_shared<Detector>(std::move(s), std::move(slot), std::move(remote),
                                                  peer.address());
              self->track(d);
              d->run();
            } else {
              auto session = std::make_shared<Session<beast::tcp_stream>>(
                  beast::tcp_stream(std::move(s)), beast::flat_buffer(), std::move(slot),
                  std::move(remote));
              self->track(session);
              session->run();
            }
          }
        }
        if (!self->stopped) self->accept();
      });
}

Server::Server(asio::io_context& io, std::shared_ptr<Web> web, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(web), std::move(options))) {}

Server::~Server() { stop(); }

void Server::start() {
  auto addr = asio::ip::make_address(impl_->options.host);
  tcp::endpoint ep(addr, impl_->options.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  beast::error_code ec;
  a.bind(ep, ec);
  if (ec) {
    throw boost::system::system_error(ec, "http: cannot listen on " + impl_->options.host + ":" +
                                              std::to_string(impl_->options.port));
  }
  a.listen(asio::socket_base::max_listen_connections);
  impl_->port = a.local_endpoint().port();
  impl_->accept();
}

void Server::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  asio::dispatch(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  std::vector<std::shared_ptr<Closable>> live;
  {
    std::lock_guard lock(impl_->sessions_mutex);
    for (auto& w : impl_->sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    impl_->sessions.clear();
  }
  for (auto& s : live) s->close();
}

std::uint16_t Server::port() const { return impl_->port; }

std::filesystem::path default_assets_dir() {
  if (const char* env = std::getenv("ESTATE_EDGE_ASSETS_DIR"); env && *env) return env;
  std::filesystem::path installed = "/usr/share/estate-edge/assets";
  std::error_code ec;
  if (std::filesystem::is_directory(installed / "kiosk", ec)) return installed;
  return std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "daemon" / "http" / "assets";
}

namespace {

std::string content_type_of(std::string_view name) {
  auto ends = [&](std::string_view s) { return name.ends_with(s); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

bool safe_asset_name(std::string_view n) {
  if (n.empty() || n.front() == '.' || n.size() > 64) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void mount_builtin_routes(const std::shared_ptr<Web>& web, const std::filesystem::path& assets_dir) {
  std::weak_ptr<Web> weak = web;
  web->router.add_route("GET", "/healthz", Role::none, [](const Request&) {
    return Response::json(200, {{"status", "ok"}});
  });
  web->router.add_route("GET", "/metrics", Role::none, [weak](const Request& req) {
    auto w = weak.lock();
    if (!w) return Response::error(503, "unavailable", "shutting down");
    if (w->router.metrics_token_required()) {
      auto tok = w->router.authenticate(req);
      if (!tok) {
        return Response::error(401, "unauthorized",
                               "metrics need a token (http.metrics_token_required)");
      }
    }
    return Response::text(200, w->metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  web->router.add_route("GET", "/kiosk", Role::none, [](const Request&) {
    Response r = Response::text(308, "", "text/plain");
    r.headers.emplace_back("Location", "/kiosk/");
    return r;
  });
  auto dir = assets_dir / "kiosk";
  web->router.add_route("GET", "/kiosk/", Role::none, [dir](const Request& req) {
    std::string name = req.rest.empty() ? "index.html" : req.rest;
    if (!safe_asset_name(name)) return Response::error(404, "not_found", "no such asset");
    std::ifstream f(dir / name, std::ios::binary);
    if (!f) return Response::error(404, "not_found", "no such asset: " + name);
    std::ostringstream ss;
    ss << f.rdbuf();
    return Response::text(200, ss.str(), content_type_of(name));
  });
}

}  // namespace estate::http
