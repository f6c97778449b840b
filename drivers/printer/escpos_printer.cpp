#include "drivers/printer/escpos_printer.hpp"

namespace estate::drivers::printer {

namespace escpos = protocols::escpos;

EscposPrinter::EscposPrinter(std::unique_ptr<BlockingLink> link, milliseconds timeout)
    : link_(std::move(link)), timeout_(timeout) {}

std::optional<escpos::Status> EscposPrinter::status(std::string& error) {
  escpos::Status s;
  for (int n : {1, 2, 4}) {
    auto req = escpos::status_request(n);
    if (auto ec = link_->write(req, timeout_)) {
      error = "printer link: " + ec.message();
      return std::nullopt;
    }
    std::vector<std::uint8_t> rx;
    if (auto ec = link_->read_some(rx, timeout_); ec || rx.empty()) {
      error = ec == boost::system::errc::timed_out || !ec ? "printer did not answer DLE EOT " + std::to_string(n)
                                                          : "printer link: " + ec.message();
      link_->close();  // a late answer must not be taken for the next request's
      return std::nullopt;
    }
    // One byte answers each request; more is noise from an earlier exchange, the last counts.
    auto r = escpos::apply_status(n, rx.back(), s);
    if (!r) {
      error = "printer: " + r.error().message;
      link_->close();
      return std::nullopt;
    }
  }
  return s;
}

std::string describe(const escpos::Status& s) {
  if (s.offline && s.paper_end) return "offline, paper out";
  if (s.paper_end) return "paper out";
  if (s.cover_open) return "cover open";
  if (s.offline) return "offline";
  if (s.error) return "error";
  if (s.paper_near_end) return "paper near end";
  return "ok";
}

PrintOutcome EscposPrinter::print(const std::vector<std::uint8_t>& job) {
  PrintOutcome out;
  auto st = status(out.error);
  if (!st) return out;
  out.status = *st;
  if (st->offline || st->paper_end || st->cover_open || st->error) {
    out.error = describe(*st);
    return out;
  }
  if (auto ec = link_->write(job, timeout_)) {
    out.error = "printer link: " + ec.message();
    link_->close();
    return out;
  }
  // Status after the job: the printer answers only once it has processed what came before,
  // so a good answer here means the job was taken.
  std::string err;
  auto after = status(err);
  if (!after) {
    out.error = err;
    return out;
  }
  out.status = *after;
  if (after->paper_end || after->offline) {
    out.error = describe(*after);
    return out;
  }
  out.printed = true;
  return out;
}

}  // namespace estate::drivers::printer
