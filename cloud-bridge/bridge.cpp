#include "cloud-bridge/bridge.hpp"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <stdexcept>

#include "cloud-bridge/topics.hpp"
#include "cloud-bridge/uplink.hpp"

namespace estate::cloud_bridge {

namespace asio = boost::asio;

const char* to_string(BrokerState s) {
  switch (s) {
    case BrokerState::connecting: return "connecting";
    case BrokerState::connected: return "connected";
    case BrokerState::disconnected: return "disconnected";
    case BrokerState::refused: return "refused";
    case BrokerState::stopped: return "stopped";
  }
  return "unknown";
}

namespace {

// Paho calls these on its own threads; each just forwards to a function that posts.
class Listener : public mqtt::iaction_listener {
 public:
  std::function<void(const mqtt::token&, bool)> fn;
  void on_success(const mqtt::token& t) override {
    if (fn) fn(t, true);
  }
  void on_failure(const mqtt::token& t) override {
    if (fn) fn(t, false);
  }
};

// CONNACK return codes with which the broker refuses us for a reason retrying soon cannot
// cure (MQTT 3.1.1 §3.2.2.3; Paho reports them as the connect token's return code). 3, "server
// unavailable", is the broker away.
const char* refusal_reason(int connack_rc) {
  switch (connack_rc) {
    case 1: return "unacceptable protocol version";
    case 2: return "client identifier rejected";
    case 4: return "bad user name or password";
    case 5: return "not authorised";
    default: return nullptr;
  }
}

void* as_context(std::uint64_t v) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(v)); }
std::uint64_t from_context(void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

}  // namespace

class Bridge::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, BridgeOptions o, OutboxSource& source, CommandSink& sink,
       StateListener on_state)
      : options_(std::move(o)),
        source_(source),
        sink_(sink),
        on_state_(std::move(on_state)),
        topics_(options_.site, options_.gateway),
        strand_(asio::make_strand(io)),
        reconnect_timer_(strand_),
        poll_timer_(strand_),
        drain_timer_(strand_),
        backoff_(options_.reconnect),
        started_at_(std::chrono::steady_clock::now()) {
    auto uri = paho_uri(options_.url);
    if (!uri) throw std::invalid_argument("mqtt.url: cannot use '" + options_.url + "'");
    uri_ = *uri;
    if (options_.inflight < 1) options_.inflight = 1;
    if (!options_.timestamp) options_.timestamp = [] { return std::string(); };
  }

  ~Impl() {
    if (client_) {
      try {
        client_->disable_callbacks();
      } catch (const std::exception& e) {
        // Paho refuses while a connect is still in progress (a stop soon after start, or a
        // broker that accepted TCP but never answered). Its callbacks only hold a weak_ptr to
        // us, so letting them run into nothing is safe; throwing here would abort the process.
        spdlog::debug("mqtt: callbacks not removed: {}", e.what());
      }
      client_.reset();
    }
  }

  void start() {
    std::weak_ptr<Impl> w = weak_from_this();
    connect_listener_.fn = [w](const mqtt::token& t, bool ok) {
      auto gen = from_context(t.get_user_context());
      int rc = ok ? 0 : t.get_return_code();
      post(w, [gen, ok, rc](Impl& s) { ok ? s.on_connected(gen) : s.on_connect_failed(gen, rc, ""); });
    };
    publish_listener_.fn = [w](const mqtt::token& t, bool ok) {
      auto key = from_context(t.get_user_context());
      post(w, [key, ok](Impl& s) { s.on_published(key, ok); });
    };
    other_listener_.fn = [w](const mqtt::token& t, bool ok) {
      if (!ok) {
        int rc = t.get_return_code();
        post(w, [rc](Impl&) { spdlog::warn("mqtt: state/ack publish or subscribe failed ({})", rc); });
      }
    };
    disconnect_listener_.fn = [w](const mqtt::token&, bool) {
      post(w, [](Impl& s) { s.on_disconnected_for_stop(); });
    };
    mqtt::create_options create(MQTTVERSION_3_1_1);
    // Paho queues every request (publish, ack, state) until its thread sends it; its default
    // limit of 100 would refuse publishes of a larger in-flight window. Nothing is buffered
    // while disconnected: the outbox is the buffer.
    create.set_max_buffered_messages(options_.inflight + 1000);
    create.set_send_while_disconnected(false);
    client_ = std::make_unique<mqtt::async_client>(uri_, options_.gateway, create,
                                                   static_cast<mqtt::iclient_persistence*>(nullptr));
    client_->set_connection_lost_handler([w](const std::string& cause) {
      post(w, [cause](Impl& s) { s.on_lost(cause.empty() ? "connection lost" : cause); });
    });
    client_->set_message_callback([w](mqtt::const_message_ptr m) {
      post(w, [m](Impl& s) { s.on_message(m); });
    });
    post(w, [](Impl& s) { s.connect(); });
  }

  void stop(std::function<void()> done) {
    post(weak_from_this(), [done = std::move(done)](Impl& s) mutable { s.begin_stop(std::move(done)); });
  }

  Stats stats() const {
    Stats st;
    st.published_messages = published_messages_;
    st.published_records = published_records_;
    st.acked_records = acked_records_;
    st.connects = connects_;
    st.commands = commands_;
    return st;
  }

 private:
  template <class F>
  static void post(const std::weak_ptr<Impl>& w, F f) {
    auto s = w.lock();
    if (!s) return;
    asio::post(s->strand_, [w, f = std::move(f)]() mutable {
      if (auto s = w.lock()) f(*s);
    });
  }

  void set_state(BrokerState st, const std::string& detail) {
    state_ = st;
    if (on_state_) on_state_(st, detail);
  }

  void connect() {
    if (stopped_ || stopping_) return;
    ++gen_;
    // Attempts during an outage or a refusal leave the state as it is: "disconnected since"
    // or "refused since" stay true, and nothing is written per attempt.
    if (state_ != BrokerState::disconnected && state_ != BrokerState::refused) {
      set_state(BrokerState::connecting, options_.url);
    }
    auto ts = options_.timestamp();
    auto will = mqtt::message(topics_.state(), offline_payload(options_.gateway, options_.version, ts, false),
                              1, true);
    mqtt::connect_options_builder b;
    b.mqtt_version(MQTTVERSION_3_1_1)
        .clean_session(false)
        .keep_alive_interval(options_.keepalive)
        .connect_timeout(std::chrono::seconds(10))
        .max_inflight(65535)  // our own window (options_.inflight) is the limit that matters
        .will(will);
    if (!options_.username.empty()) b.user_name(options_.username);
    if (!options_.password.empty()) b.password(options_.password);
    if (is_tls(options_.url)) {
      mqtt::ssl_options_builder ssl;
      ssl.enable_server_cert_auth(true).verify(true);
      if (!options_.ca_file.empty()) ssl.trust_store(options_.ca_file);
      if (!options_.cert_file.empty()) ssl.key_store(options_.cert_file);
      if (!options_.key_file.empty()) ssl.private_key(options_.key_file);
      ssl.error_handler([](const std::string& msg) { spdlog::warn("mqtt tls: {}", msg); });
      b.ssl(ssl.finalize());
    }
    try {
      client_->connect(b.finalize(), as_context(gen_), connect_listener_);
    } catch (const mqtt::exception& e) {
      on_connect_failed(gen_, e.get_return_code(), e.what());
    }
  }

  void on_connected(std::uint64_t gen) {
    if (gen != gen_ || stopped_) return;
    connected_ = true;
    ++connects_;
    backoff_.connected(std::chrono::steady_clock::now());
    if (!refusal_.empty()) {
      spdlog::info("mqtt: {} accepted the connection (it had refused it: {})", options_.url, refusal_);
      refusal_.clear();
    }
    spdlog::info("mqtt: connected to {}", options_.url);
    set_state(BrokerState::connected, options_.url);
    try {
      client_->subscribe(topics_.command_filter(), 1, nullptr, other_listener_);
      std::int64_t backlog = 0;
      try {
        backlog = source_.backlog();
      } catch (const std::exception& e) {
        spdlog::warn("mqtt: cannot count the backlog for the birth message: {}", e.what());
      }
      auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now() - started_at_).count();
      auto birth = birth_payload(options_.gateway, options_.version, uptime, backlog,
                                 options_.timestamp());
      client_->publish(mqtt::make_message(topics_.state(), birth, 1, true), nullptr,
                       other_listener_);
    } catch (const mqtt::exception& e) {
      spdlog::warn("mqtt: after connect: {}", e.what());
    }
    if (stopping_) {
      finish();
      return;
    }
    pump();
  }

  void on_connect_failed(std::uint64_t gen, int rc, const std::string& what) {
    if (gen != gen_ || stopped_) return;
    const auto now = std::chrono::steady_clock::now();
    if (const char* reason = refusal_reason(rc)) {
      auto why = std::string(reason) + " (CONNACK " + std::to_string(rc) + ")";
      set_state(BrokerState::refused, why);
      if (stopping_) {
        finish();
        return;
      }
      auto delay = backoff_.refused(now);
      if (why != refusal_) {
        // Once per refusal, not per attempt: the technician has to act (credentials, ACL).
        spdlog::error("mqtt: {} refused the connection: {}; check mqtt.username, the "
                      "password and the broker's ACL; retrying every {}-{} s until it accepts",
                      options_.url, why, backoff_.policy().cap.count() / 2000,
                      backoff_.policy().cap.count() / 1000);
        refusal_ = why;
      } else {
        spdlog::debug("mqtt: refused again: {}; next attempt in {} ms", why, delay.count());
      }
      arm_reconnect(delay);
      return;
    }
    auto why = what.empty() ? "connect failed (code " + std::to_string(rc) + ")" : what;
    if (!refusal_.empty()) {
      spdlog::info("mqtt: {} no longer refuses but is unreachable: {}", options_.url, why);
      refusal_.clear();
    }
    went_down(why);
  }

  void on_lost(const std::string& cause) {
    if (!connected_) return;
    connected_ = false;
    backoff_.lost(std::chrono::steady_clock::now());
    rewind();
    spdlog::warn("mqtt: connection to {} lost: {}", options_.url, cause);
    went_down(cause);
  }

  // Disconnected: finished when stopping, otherwise a reconnect after the backoff's delay.
  void went_down(const std::string& why) {
    set_state(BrokerState::disconnected, why);
    if (stopping_) {
      finish();
      return;
    }
    schedule_reconnect(why);
  }

  void schedule_reconnect(const std::string& why) {
    auto delay = backoff_.away(std::chrono::steady_clock::now());
    spdlog::info("mqtt: {}; reconnecting in {} ms", why, delay.count());
    arm_reconnect(delay);
  }

  void arm_reconnect(std::chrono::milliseconds delay) {
    reconnect_timer_.expires_after(delay);
    reconnect_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto s = w.lock()) s->connect();
    });
  }

  // Everything not acknowledged on the lost connection is sent again, from its lowest seq, so
  // the platform sees the stream in order (with possible duplicates it removes by id).
  void rewind() {
    std::int64_t lowest = -1;
    for (auto& [key, f] : inflight_) {
      if (lowest < 0 || f.front() < lowest) lowest = f.front();
    }
    if (lowest < 0 && !pending_.empty()) lowest = pending_.front().seq;
    if (lowest > 0) cursor_ = lowest - 1;
    inflight_.clear();
    pending_.clear();
  }

  void pump() {
    if (!connected_ || stopping_ || stopped_) return;
    const auto window = static_cast<std::size_t>(options_.inflight);
    const int batch = std::max(1, options_.batch);
    while (inflight_.size() < window) {
      if (pending_.empty()) {
        std::vector<OutboxRecord> rows;
        try {
          rows = source_.read_pending(cursor_, window * static_cast<std::size_t>(batch));
        } catch (const std::exception& e) {
          spdlog::error("mqtt: reading the outbox failed: {}", e.what());
          arm_poll();
          return;
        }
        if (rows.empty()) {
          arm_poll();
          return;
        }
        cursor_ = rows.back().seq;
        for (auto& r : rows) pending_.push_back(std::move(r));
      }
      auto m = take_message(pending_, batch);
      auto key = next_key_++;
      const auto n = m.seqs.size();
      const auto first = m.seqs.front();
      inflight_.emplace(key, std::move(m.seqs));
      try {
        client_->publish(mqtt::make_message(topics_.stream(m.stream), m.payload, 1, false),
                         as_context(key), publish_listener_);
      } catch (const mqtt::exception& e) {
        // Paho refused it (not connected any more, or its queue is full): this message was
        // not sent; take it again from the outbox, after a pause or after the reconnect.
        spdlog::warn("mqtt: publish of seq {} failed: {}", first, e.what());
        inflight_.erase(key);
        cursor_ = first - 1;
        pending_.clear();
        if (!client_->is_connected()) on_lost(e.what());
        else arm_poll();
        return;
      }
      ++published_messages_;
      published_records_ += n;
    }
  }

  void arm_poll() {
    if (poll_armed_) return;
    poll_armed_ = true;
    poll_timer_.expires_after(options_.poll_interval);
    poll_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto s = w.lock();
      if (!s) return;
      s->poll_armed_ = false;
      if (!ec) s->pump();
    });
  }

  void on_published(std::uint64_t key, bool ok) {
    auto it = inflight_.find(key);
    if (it == inflight_.end()) return;  // from a connection already given up; resent since
    if (!ok) {
      // A delivery Paho gave up on while connected: start over from a fresh connection.
      spdlog::warn("mqtt: delivery of seq {} failed; reconnecting", it->second.front());
      if (connected_) {
        try {
          client_->disconnect(std::chrono::milliseconds(0));
        } catch (const mqtt::exception&) {
        }
        on_lost("delivery failed");
      }
      return;
    }
    auto seqs = std::move(it->second);
    inflight_.erase(it);
    acked_records_ += seqs.size();
    source_.acknowledge(std::move(seqs));
    if (stopping_) {
      if (inflight_.empty()) finish();
      return;
    }
    pump();
  }

  void on_message(const mqtt::const_message_ptr& m) {
    if (stopped_) return;
    auto name = topics_.command_name(m->get_topic());
    if (!name) return;
    ++commands_;
    auto reply = [w = weak_from_this()](CommandAck ack) {
      post(w, [ack = std::move(ack)](Impl& s) { s.publish_ack(ack); });
    };
    const auto& payload = m->get_payload_str();
    if (payload.size() > options_.max_command_bytes) {
      CommandAck ack;
      ack.command = *name;
      ack.error = "message of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                  std::to_string(options_.max_command_bytes) + " bytes";
      spdlog::warn("mqtt: cmd/{} refused: {}", *name, ack.error);
      publish_ack(ack);
      return;
    }
    sink_.on_command(*name, payload, std::move(reply));
  }

  void publish_ack(const CommandAck& ack) {
    if (!connected_ || stopped_) {
      // The platform sends the command again (same id) and gets the stored answer.
      spdlog::info("mqtt: not connected, ack for command {} not sent", ack.id.value_or("(none)"));
      return;
    }
    try {
      client_->publish(mqtt::make_message(topics_.acks(), encode_ack(ack, options_.timestamp()), 1,
                                          false),
                       nullptr, other_listener_);
    } catch (const mqtt::exception& e) {
      spdlog::warn("mqtt: ack publish failed: {}", e.what());
    }
  }

  void begin_stop(std::function<void()> done) {
    if (stopping_) {
      if (done) done();
      return;
    }
    stopping_ = true;
    stop_done_ = std::move(done);
    poll_timer_.cancel();
    reconnect_timer_.cancel();
    if (!connected_ || inflight_.empty()) {
      finish();
      return;
    }
    spdlog::info("mqtt: waiting up to {} s for {} message(s) in flight",
                 options_.drain_timeout.count(), inflight_.size());
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto s = w.lock()) {
        spdlog::warn("mqtt: drain timeout: {} message(s) unacknowledged stay in the outbox",
                     s->inflight_.size());
        s->finish();
      }
    });
  }

  void finish() {
    if (stopped_) return;
    stopped_ = true;
    drain_timer_.cancel();
    poll_timer_.cancel();
    reconnect_timer_.cancel();
    if (connected_) {
      try {
        client_->publish(
            mqtt::make_message(topics_.state(),
                               offline_payload(options_.gateway, options_.version,
                                               options_.timestamp(), true),
                               1, true),
            nullptr, other_listener_);
        client_->disconnect(std::chrono::seconds(2), nullptr, disconnect_listener_);
        // Paho answers a disconnect; the timer only guards against it never doing so.
        drain_timer_.expires_after(std::chrono::seconds(5));
        drain_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
          if (ec) return;
          if (auto s = w.lock()) s->on_disconnected_for_stop();
        });
        return;
      } catch (const mqtt::exception& e) {
        spdlog::warn("mqtt: disconnect: {}", e.what());
      }
    }
    on_disconnected_for_stop();
  }

  void on_disconnected_for_stop() {
    if (finished_) return;
    finished_ = true;
    drain_timer_.cancel();
    connected_ = false;
    set_state(BrokerState::stopped, "");
    spdlog::info("mqtt: stopped ({} record(s) acknowledged this run)", acked_records_.load());
    if (stop_done_) {
      auto d = std::move(stop_done_);
      d();
    }
  }

  BridgeOptions options_;
  OutboxSource& source_;
  CommandSink& sink_;
  StateListener on_state_;
  Topics topics_;
  std::string uri_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer reconnect_timer_, poll_timer_, drain_timer_;
  drivers::Backoff backoff_;
  std::string refusal_;  // why the broker refuses us, once reported; empty when it does not
  std::chrono::steady_clock::time_point started_at_;

  BrokerState state_ = BrokerState::stopped;  // not started yet
  bool connected_ = false, stopping_ = false, stopped_ = false, finished_ = false;
  bool poll_armed_ = false;
  std::uint64_t gen_ = 0;
  std::int64_t cursor_ = 0;  // highest seq read from the outbox on this connection
  std::deque<OutboxRecord> pending_;
  std::map<std::uint64_t, std::vector<std::int64_t>> inflight_;  // message key -> its seqs
  std::uint64_t next_key_ = 1;
  std::function<void()> stop_done_;
  std::atomic<std::uint64_t> published_messages_{0}, published_records_{0}, acked_records_{0},
      connects_{0}, commands_{0};

  Listener connect_listener_, publish_listener_, other_listener_, disconnect_listener_;
  std::unique_ptr<mqtt::async_client> client_;  // last: destroyed first, before the listeners
};

Bridge::Bridge(asio::io_context& io, BridgeOptions options, OutboxSource& source,
               CommandSink& sink, StateListener on_state)
    : impl_(std::make_shared<Impl>(io, std::move(options), source, sink, std::move(on_state))) {}

Bridge::~Bridge() = default;

void Bridge::start() { impl_->start(); }
void Bridge::stop(std::function<void()> done) { impl_->stop(std::move(done)); }
Bridge::Stats Bridge::stats() const { return impl_->stats(); }

}  // namespace estate::cloud_bridge
