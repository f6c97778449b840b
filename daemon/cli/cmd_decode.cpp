#include <iostream>
#include <iterator>

#include "daemon/cli/cli.hpp"
#include "daemon/cli/decode/decoders.hpp"
#include "protocols/common/hex.hpp"

namespace estate::cli {

void add_decode_command(CLI::App& app) {
  if (decoders().empty()) return;
  auto* cmd = app.add_subcommand("decode", "Decode a captured frame (hex) into JSON");
  cmd->require_subcommand(1);
  for (const auto& d : decoders()) {
    struct Options {
      std::vector<std::string> hex;
      DecodeOptions decode;
      bool pretty = false;
    };
    auto o = std::make_shared<Options>();
    auto* sub = cmd->add_subcommand(std::string(d.protocol), std::string(d.summary));
    sub->add_option("hex", o->hex,
                    "The frame as hex, with or without spaces; several arguments are joined; "
                    "'-' reads stdin")
        ->required();
    if (d.needs_model) {
      sub->add_option("--model", o->decode.model, "Register map name (config/models)")->required();
    }
    sub->add_flag("--pretty", o->pretty, "Indent the JSON");
    const Decoder* decoder = &d;
    sub->callback([o, decoder] {
      std::string text;
      for (const auto& h : o->hex) {
        if (h == "-") {
          text.append(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        } else {
          text += h;
        }
        text += ' ';
      }
      auto bytes = protocols::parse_hex(text);
      if (!bytes) {
        fail(exit_usage, "bad hex input: " + bytes.error().message + " at character " +
                             std::to_string(bytes.error().offset));
      }
      if (bytes->empty()) fail(exit_usage, "no bytes given");
      auto out = decoder->decode(*bytes, o->decode);
      if (!out) {
        fail(exit_runtime, std::string(decoder->protocol) + ": " + out.error().describe());
      }
      std::cout << out->dump(o->pretty ? 2 : -1) << "\n";
    });
  }
}

}  // namespace estate::cli
