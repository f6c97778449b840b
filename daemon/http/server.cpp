#include "daemon/http/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

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

class Session;

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, std::shared_ptr<Web> w, ServerOptions o)
      : io(io), web(std::move(w)), options(std::move(o)), acceptor(asio::make_strand(io)) {}

  void accept();

  asio::io_context& io;
  std::shared_ptr<Web> web;
  ServerOptions options;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> open{0};
  std::atomic<bool> stopped{false};
  std::mutex sessions_mutex;
  std::vector<std::weak_ptr<Session>> sessions;
  std::uint16_t port = 0;
};

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

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Server::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~Session() { server_->open.fetch_sub(1); }

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::read, shared_from_this()));
  }

  void close() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  void read() {
    parser_.emplace();
    limit(*parser_, server_->options);
    // The first request waits read_timeout; a kept-alive connection waits idle_timeout.
    stream_.expires_after(requests_ == 0 ? server_->options.read_timeout
                                         : server_->options.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
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
    Response res = reject ? *reject : server_->web->router.dispatch(std::move(req));
    count(res.status);
    bool keep = msg.keep_alive() && !reject && res.status < 500;
    send(std::move(res), keep, msg.version());
  }

  void count(int status) {
    server_->web->metrics
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
    res->set("X-Content-Type-Options", "nosniff");
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(server_->options.write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, keep_alive](beast::error_code ec,
                                                                    std::size_t) {
                         if (ec || self->server_->stopped) return self->close_now();
                         if (!keep_alive) return self->linger_close();
                         self->read();
                       });
  }

  // Half-closes and discards what the client still sends (the rest of a refused body) for a
  // moment, so closing with unread data does not reset the connection before the client read
  // our answer.
  void linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    drain();
  }

  void drain() {
    drain_buffer_.resize(4096);
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close_now();
                              self->drain();
                            });
  }

  void close_now() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Server::Impl> server_;
  std::string remote_;
  std::size_t requests_ = 0;
  std::vector<char> drain_buffer_;
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
        } else if (self->open.load() >= self->options.max_connections) {
          // Over the cap: refuse at once rather than queue unboundedly.
          beast::error_code ignore;
          s.close(ignore);
          self->web->metrics
              .counter("estate_http_connections_refused_total",
                       "connections closed at once because too many were open")
              .inc();
        } else {
          self->open.fetch_add(1);
          auto session = std::make_shared<Session>(std::move(s), self);
          {
            std::lock_guard lock(self->sessions_mutex);
            std::erase_if(self->sessions, [](const auto& w) { return w.expired(); });
            self->sessions.push_back(session);
          }
          session->run();
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
  std::vector<std::shared_ptr<Session>> live;
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
