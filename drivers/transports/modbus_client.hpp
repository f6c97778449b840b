// Modbus master through libmodbus (RTU on a serial line, or Modbus TCP). libmodbus blocks, so
// each client owns one worker thread that makes every call; results are posted back to the
// bus strand given to the constructor, as error_code values (modbus_error() maps errno at this
// wrapper, nowhere else). The connection is opened lazily and reopened after a line error with
// capped, jittered backoff.
// Thread-safety: the async_* functions may be called from any thread; completions run on the
// strand. The modbus_t context is touched only by the worker. As a ModbusMaster (read,
// write_single) it is used from the strand.
#pragma once

#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "drivers/transports/backoff.hpp"
#include "drivers/transports/errors.hpp"
#include "drivers/transports/modbus_master.hpp"
#include "drivers/transports/stream.hpp"

struct _modbus;

namespace estate::drivers {

struct ModbusSettings {
  bool tcp = false;             // Modbus TCP (MBAP) when true, RTU on `serial` otherwise
  std::string host;
  int port = 502;
  SerialSettings serial;
  std::chrono::milliseconds timeout{1000};
  bool debug = false;           // libmodbus prints frames on stderr (technician tools)
};

class ModbusClient final : public ModbusMaster {
 public:
  ModbusClient(boost::asio::any_io_executor strand, ModbusSettings settings);
  ~ModbusClient() override;
  ModbusClient(const ModbusClient&) = delete;
  ModbusClient& operator=(const ModbusClient&) = delete;

  // Reads `count` registers (tables 3/4; at most 125) or bits (tables 1/2; at most 2000).
  // Registers come back as 16-bit words; bits as 0/1 words.
  template <class Token>
  auto async_read(int unit, ModbusTable table, int address, int count, Token&& token) {
    return run<std::vector<std::uint16_t>>(
        [=, this](std::vector<std::uint16_t>& out) { return read_blocking(unit, table, address, count, out); },
        std::forward<Token>(token));
  }
  // Writes one coil (function 5) or one holding register (function 6).
  template <class Token>
  auto async_write_single(int unit, ModbusTable table, int address, std::uint16_t value,
                          Token&& token) {
    return run<int>(
        [=, this](int&) { return write_blocking(unit, table, address, value); },
        std::forward<Token>(token));
  }

  boost::asio::awaitable<boost::system::error_code> read(int unit, ModbusTable table, int address,
                                                         int count,
                                                         std::vector<std::uint16_t>& out) override;
  boost::asio::awaitable<boost::system::error_code> write_single(int unit, ModbusTable table,
                                                                 int address,
                                                                 std::uint16_t value) override;
  const ModbusCounters& counters() const override { return counters_; }
  std::string describe() const override;

 private:
  template <class T, class F, class Token>
  auto run(F f, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, T)>(
        [this, f = std::move(f)](auto handler) mutable {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          boost::asio::post(worker_, [this, f = std::move(f), h]() mutable {
            T out{};
            boost::system::error_code ec = f(out);
            boost::asio::post(strand_, [h, ec, out = std::move(out)]() mutable {
              (*h)(ec, std::move(out));
            });
          });
        },
        token);
  }
  boost::system::error_code connect_blocking();
  boost::system::error_code read_blocking(int unit, ModbusTable table, int address, int count,
                                          std::vector<std::uint16_t>& out);
  // One libmodbus read of `table`: its return value (-1 with errno set on failure).
  int read_once(ModbusTable table, int address, int count, std::vector<std::uint16_t>& out);
  boost::system::error_code write_blocking(int unit, ModbusTable table, int address,
                                           std::uint16_t value);
  boost::system::error_code after_failure(int err);

  boost::asio::any_io_executor strand_;
  ModbusSettings settings_;
  boost::asio::thread_pool worker_{1};
  _modbus* ctx_ = nullptr;      // worker only
  bool connected_ = false;      // worker only
  Backoff backoff_{std::chrono::milliseconds(200), std::chrono::milliseconds(30000)};
  std::chrono::steady_clock::time_point next_connect_{};  // worker only
  ModbusCounters counters_;
};

}  // namespace estate::drivers
