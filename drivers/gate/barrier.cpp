#include "drivers/gate/barrier.hpp"

#include <boost/asio/post.hpp>

namespace estate::drivers::gate {

namespace asio = boost::asio;

std::string_view to_string(BarrierEventKind k) {
  switch (k) {
    case BarrierEventKind::opened: return "opened";
    case BarrierEventKind::closed: return "closed";
    case BarrierEventKind::close_held: return "close_held";
    case BarrierEventKind::vehicle_arrived: return "vehicle_arrived";
    case BarrierEventKind::vehicle_passed: return "vehicle_passed";
    case BarrierEventKind::fault: return "fault";
  }
  return "fault";
}

Barrier::Barrier(asio::any_io_executor strand, std::shared_ptr<BarrierIo> io, BarrierSettings settings,
                 std::function<void(const BarrierEvent&)> on_event)
    : strand_(std::move(strand)),
      io_(std::move(io)),
      settings_(std::move(settings)),
      on_event_(std::move(on_event)),
      timer_(strand_) {}

void Barrier::start() {
  asio::post(strand_, [self = shared_from_this()] {
    // The relay's state is unknown after a restart: close it, but only once the loop is read
    // clear (a vehicle may be under the arm).
    self->written_ = true;
    self->close_pending_ = true;
    self->poll();
  });
}

void Barrier::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
  });
}

void Barrier::open() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    self->want_open_ = true;
    ++self->passages_due_;
    self->close_pending_ = false;
    self->held_reported_ = false;
    self->open_deadline_ = std::chrono::steady_clock::now() + self->settings_.open_timeout;
    if (self->settings_.anti_tailgate) self->ready_ = false;
    // Opening does not wait for the next poll: the driver is at the arm.
    if (!self->relay_open_.load() || !self->written_) {
      self->written_ = false;
      if (!self->writing_) self->write_relay(true);
    }
  });
}

void Barrier::close() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    // Carried out after the next fresh read of the loop (poll), never on a stale reading.
    self->passages_due_ = 0;
    self->close_pending_ = true;
  });
}

void Barrier::schedule_poll() {
  if (stopped_) return;
  timer_.expires_after(settings_.loop_poll);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_) return;
    self->poll();
  });
}

void Barrier::poll() {
  if (stopped_) return;
  auto step = [this] {
    if (!written_ && !writing_) write_relay(want_open_);
    if (want_open_ && passages_due_ > 0 && !vehicle_on_loop_ &&
        std::chrono::steady_clock::now() >= open_deadline_) {
      // Nobody came: close, and take credentials again.
      passages_due_ = 0;
      ready_ = true;
      close_pending_ = true;
    }
    if (close_pending_) try_close();
    schedule_poll();
  };
  if (!io_->has_loop()) {
    on_loop(false);
    step();
    return;
  }
  io_->read_loop([self = shared_from_this(), step](boost::system::error_code ec, bool occupied) {
    if (self->stopped_) return;
    if (ec) {
      // Unknown loop state counts as occupied: never close blind.
      if (!self->occupied_.load()) {
        self->emit(BarrierEventKind::fault, "loop read: " + ec.message());
      }
      self->occupied_ = true;
    } else {
      self->on_loop(occupied);
    }
    step();
  });
}

void Barrier::on_loop(bool occupied) {
  occupied_ = occupied;
  if (!want_open_) return;
  if (occupied) {
    if (!vehicle_on_loop_) emit(BarrierEventKind::vehicle_arrived);
    vehicle_on_loop_ = true;
    return;
  }
  if (!vehicle_on_loop_) return;
  vehicle_on_loop_ = false;
  emit(BarrierEventKind::vehicle_passed);
  if (passages_due_ > 0) --passages_due_;
  if (passages_due_ == 0) {
    close_pending_ = true;
    ready_ = true;
  } else {
    open_deadline_ = std::chrono::steady_clock::now() + settings_.open_timeout;
  }
}

void Barrier::try_close() {
  if (occupied_.load()) {
    if (!held_reported_) {
      held_reported_ = true;
      emit(BarrierEventKind::close_held, "loop occupied");
    }
    return;
  }
  close_pending_ = false;
  held_reported_ = false;
  want_open_ = false;
  vehicle_on_loop_ = false;
  written_ = false;
  if (!writing_) write_relay(false);
}

void Barrier::write_relay(bool open) {
  writing_ = true;
  io_->drive(open, [self = shared_from_this(), open](boost::system::error_code ec) {
    self->writing_ = false;
    if (ec) {
      self->written_ = false;
      // Reported once per outage, not on every retry.
      if (!self->write_fault_) {
        self->write_fault_ = true;
        self->emit(BarrierEventKind::fault,
                   std::string(open ? "open" : "close") + " command: " + ec.message());
      }
      return;  // repeated on the next poll
    }
    self->write_fault_ = false;
    const bool was_open = self->relay_open_.exchange(open);
    if (open == self->want_open_) {
      self->written_ = true;
      // The first drive after a start makes the arm's state known: reported even when it
      // matches the assumed closed state.
      if (open != was_open || open || !self->drive_reported_) {
        self->drive_reported_ = true;
        self->emit(open ? BarrierEventKind::opened : BarrierEventKind::closed);
      }
    } else if (!self->stopped_) {
      // Wanted state changed while writing. A close is only ever decided after a fresh
      // loop read, so writing the newer wish at once is safe.
      self->write_relay(self->want_open_);
    }
  });
}

void Barrier::emit(BarrierEventKind kind, std::string detail) {
  if (on_event_) on_event_(BarrierEvent{kind, std::move(detail)});
}

}  // namespace estate::drivers::gate
