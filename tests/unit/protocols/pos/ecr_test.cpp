// The Transbank POS Integrado row of the ECR table against the frames of protocols/pos/testdata
// (published frames and frames built from the reference's layouts; README.md there names each).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "protocols/pos/ecr.hpp"

namespace estate::protocols::pos {
namespace {

namespace fs = std::filesystem;

const Protocol& tbk() { return *find_protocol("transbank-integrado"); }

fs::path testdata() { return fs::path(ESTATE_EDGE_SOURCE_DIR) / "protocols/pos/testdata"; }

Bytes frame(const std::string& name) {
  std::ifstream in(testdata() / (name + ".hex"));
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  auto b = parse_hex(text);
  EXPECT_TRUE(b) << name;
  return b ? *b : Bytes{};
}

Message decoded(const std::string& name) {
  auto m = decode(tbk(), frame(name));
  EXPECT_TRUE(m) << name << ": " << (m ? "" : m.error().describe());
  return m ? *m : Message{};
}

TEST(EcrTable, TheTableHasTheDocumentedRowAndRefusesOthers) {
  ASSERT_NE(find_protocol(default_protocol), nullptr);
  EXPECT_EQ(find_protocol("generic"), nullptr);  // the invented format is gone
  EXPECT_EQ(find_protocol("bcd"), nullptr);
  EXPECT_EQ(known_protocols(), "transbank-integrado");
  const auto& p = tbk();
  EXPECT_EQ(p.stx, 0x02);
  EXPECT_EQ(p.etx, 0x03);
  EXPECT_EQ(p.ack, 0x06);
  EXPECT_EQ(p.nak, 0x15);
  EXPECT_EQ(p.sends, 3);
  // Every command the driver uses has a layout.
  for (auto c : {p.sale_request, p.sale_response, p.query_request, p.query_response,
                 p.void_request, p.void_response, p.poll_request}) {
    EXPECT_NE(find_message(p, c), nullptr) << c;
  }
}

TEST(EcrTable, EveryTestdataFrameIsNamedInTheReadme) {
  std::ifstream in(testdata() / "README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  int frames = 0;
  for (const auto& e : fs::directory_iterator(testdata())) {
    if (e.path().extension() != ".hex") continue;
    ++frames;
    EXPECT_NE(ss.str().find("| " + e.path().stem().string() + " |"), std::string::npos)
        << e.path().filename() << " has no row in testdata/README.md";
  }
  EXPECT_GE(frames, 15);
}

TEST(EcrFrame, TheDocumentsLrcExample) {
  auto f = frame("lrc_example");
  EXPECT_EQ(lrc(tbk(), std::span(f).subspan(1, f.size() - 2)), 0x31);
  auto m = decode(tbk(), f);
  ASSERT_FALSE(m);  // a worked LRC example, not a complete sale
  EXPECT_NE(m.error().message.find("ticket"), std::string::npos) << m.error().describe();
}

TEST(EcrFrame, PublishedRequestsDecode) {
  auto sale = decoded("sale_request_sdk");
  EXPECT_EQ(sale.command, "0200");
  EXPECT_EQ(sale.get("amount"), "000025000");
  EXPECT_EQ(sale.get("ticket"), "000001");
  EXPECT_EQ(sale.get("send_status"), "0");
  EXPECT_EQ(decoded("poll_request").command, "0100");
  EXPECT_EQ(decoded("last_sale_request").command, "0250");
  auto v = decoded("void_request");
  EXPECT_EQ(v.command, "1200");
  EXPECT_EQ(v.get("operation"), "10");
}

TEST(EcrFrame, EncodesThePublishedBytes) {
  // Re-encoding what was decoded gives the published bytes: layout, separators, trailing
  // separator where the document has one, LRC.
  for (auto name : {"sale_request_sdk", "poll_request", "last_sale_request", "void_request",
                    "sale_request_gateway", "void_request_gateway", "void_response_approved"}) {
    auto f = frame(name);
    auto again = encode(tbk(), decoded(name));
    ASSERT_TRUE(again) << name << ": " << again.error().describe();
    EXPECT_EQ(to_hex(*again), to_hex(f)) << name;
  }
}

TEST(EcrFrame, ThePublishedLastSaleAnswer) {
  auto m = decoded("last_sale_response_sdk");
  EXPECT_EQ(m.command, "0260");
  EXPECT_EQ(m.get("code"), "00");
  EXPECT_EQ(m.get("merchant"), "597029414300");
  EXPECT_EQ(m.get("terminal"), "75001089");
  EXPECT_EQ(m.get("ticket"), "000002");
  EXPECT_EQ(m.get("auth"), "181278");
  EXPECT_EQ(m.get("amount"), "2500");
  EXPECT_EQ(m.get("last4"), "6590");
  EXPECT_EQ(m.get("operation"), "000063");
  EXPECT_EQ(m.get("card_type"), "CR");
  EXPECT_EQ(m.get("account"), std::nullopt);  // empty: credit sale
  EXPECT_EQ(m.get("card_brand"), "VI");
  EXPECT_EQ(m.get("date"), "14052019");
  EXPECT_EQ(m.get("tip"), "0");
}

TEST(EcrFrame, BadLrcFromThePublishedMocksNamesTheByte) {
  for (auto [name, want, got] : {std::tuple{"bad_lrc_sale_response_sdk", "0x38", "0x30"},
                                 std::tuple{"bad_lrc_void_response_sdk", "0x7b", "0x78"}}) {
    auto f = frame(name);
    auto m = decode(tbk(), f);
    ASSERT_FALSE(m) << name;
    EXPECT_EQ(m.error().offset, f.size() - 1) << name;
    EXPECT_NE(m.error().message.find("bad LRC"), std::string::npos) << m.error().describe();
    EXPECT_NE(m.error().message.find(want), std::string::npos) << m.error().describe();
    EXPECT_NE(m.error().message.find(got), std::string::npos) << m.error().describe();
  }
}

TEST(EcrFrame, ResultCodesAsTheDocumentSays) {
  const auto& p = tbk();
  auto code = [&](const std::string& name) { return decoded(name).get("code").value_or(""); };
  EXPECT_EQ(classify(p, Use::sale, code("sale_response_approved")), ResultClass::approved);
  EXPECT_EQ(classify(p, Use::sale, code("sale_response_declined")), ResultClass::declined);
  // 23 is not in the document's table: unknown, never a decline.
  EXPECT_EQ(classify(p, Use::sale, code("sale_response_undocumented_code")), ResultClass::unknown);
  EXPECT_EQ(classify(p, Use::sale, code("sale_response_progress")), ResultClass::in_progress);
  EXPECT_EQ(classify(p, Use::query, code("last_sale_response_no_sale")), ResultClass::not_found);
  EXPECT_EQ(classify(p, Use::void_, code("void_response_approved")), ResultClass::approved);
  EXPECT_EQ(classify(p, Use::void_, code("void_response_already_voided")), ResultClass::approved);
  // A refusal in the answer to the query says nothing about the sale asked about.
  EXPECT_EQ(classify(p, Use::query, "01"), ResultClass::unknown);
  for (auto c : {"", "0", "000", "AB", "99", "23", "8 "}) {
    EXPECT_EQ(classify(p, Use::sale, c), ResultClass::unknown) << "'" << c << "'";
    EXPECT_EQ(classify(p, Use::void_, c), ResultClass::unknown) << "'" << c << "'";
  }
  // The document's whole table: every code but 00 and the status codes refuses a sale.
  std::set<std::string_view> progress{"78", "79", "80", "81", "82"};
  for (const auto& c : p.codes) {
    auto want = c.code == "00" ? ResultClass::approved
                : progress.count(c.code) ? ResultClass::in_progress
                                         : ResultClass::declined;
    EXPECT_EQ(c.sale, want) << c.code;
  }
}

TEST(EcrFrame, RefusesWhatTheLayoutForbids) {
  const auto& p = tbk();
  Message m{"0200", {}};
  m.set("amount", "700").set("ticket", "E00001").set("send_status", "0");
  EXPECT_TRUE(encode(p, m));
  auto bad = [&](Message x, std::string_view what) {
    auto f = encode(p, x);
    ASSERT_FALSE(f) << what;
    EXPECT_NE(f.error().message.find(what), std::string::npos) << f.error().describe();
  };
  bad(Message{m}.set("amount", "1000000000"), "at most 9");
  bad(Message{m}.set("amount", "7.00"), "digits");
  bad(Message{m}.set("ticket", "E|0001"), "byte 0x7c");
  bad(Message{m}.set("ticket", ""), "needs field ticket");
  bad(Message{m}.set("tip", "1"), "no field tip");
  bad(Message{"0999", {}}, "unknown transbank-integrado command");
  // Decoding: unknown command, non-printable byte, missing ETX, too short.
  auto f = *encode(p, m);
  auto g = f;
  g[1] = '9';
  g.back() = lrc(p, std::span(g).subspan(1, g.size() - 2));
  EXPECT_FALSE(decode(p, g));
  g = f;
  g[6] = 0x01;
  g.back() = lrc(p, std::span(g).subspan(1, g.size() - 2));
  auto r = decode(p, g);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().offset, 6u);
  g = f;
  g[g.size() - 2] = '0';
  EXPECT_FALSE(decode(p, g));
  EXPECT_FALSE(decode(p, Bytes{0x02, 0x03}));
}

TEST(EcrScan, FindsAckNakFramesAndResynchronises) {
  const auto& p = tbk();
  auto ok = frame("sale_response_approved");
  Bytes buf{0x06, 0x15, 0xFF, 0x00};
  buf.insert(buf.end(), ok.begin(), ok.end());
  auto s = scan(p, buf);
  EXPECT_EQ(s.kind, Scan::ack);
  s = scan(p, std::span(buf).subspan(1));
  EXPECT_EQ(s.kind, Scan::nak);
  s = scan(p, std::span(buf).subspan(2));
  EXPECT_EQ(s.kind, Scan::garbage);
  EXPECT_EQ(s.size, 2u);
  s = scan(p, std::span(buf).subspan(4));
  EXPECT_EQ(s.kind, Scan::frame);
  EXPECT_EQ(s.size, ok.size());
  // Cut anywhere: need more.
  for (std::size_t n = 1; n < ok.size(); ++n) {
    EXPECT_EQ(scan(p, std::span(ok).first(n)).kind, Scan::need_more) << n;
  }
  // An STX followed by a control byte: drop the STX only, and find the frame after it.
  Bytes broken{0x02, '0', '2', 0x02};
  broken.insert(broken.end(), ok.begin() + 1, ok.end());
  s = scan(p, broken);
  EXPECT_EQ(s.kind, Scan::garbage);
  EXPECT_EQ(s.size, 1u);
  s = scan(p, std::span(broken).subspan(3));
  EXPECT_EQ(s.kind, Scan::frame);
  // A run of printable bytes longer than any message is dropped, not buffered forever.
  Bytes endless{0x02};
  endless.insert(endless.end(), 2000, 'A');
  EXPECT_EQ(scan(p, endless).kind, Scan::garbage);
}

TEST(EcrTicket, GatewayTicketsAndTheirOrder) {
  const auto& p = tbk();
  EXPECT_EQ(ticket_for(p, "test-gw-pay-1"), "E00001");
  EXPECT_EQ(ticket_for(p, "gw-pay-1234567"), "E34567");
  EXPECT_EQ(ticket_for(p, "gw-pay-"), std::nullopt);
  EXPECT_TRUE(ticket_after(p, "E00002", "E00001"));
  EXPECT_FALSE(ticket_after(p, "E00001", "E00002"));
  EXPECT_FALSE(ticket_after(p, "E00001", "E00001"));
  // Across the wrap: 100000 follows 99999.
  EXPECT_TRUE(ticket_after(p, "E00000", "E99999"));
  EXPECT_FALSE(ticket_after(p, "E99999", "E00000"));
  // A ticket keyed in by hand is never ordered against the gateway's.
  EXPECT_FALSE(ticket_after(p, "E00002", "000001"));
  EXPECT_FALSE(ticket_after(p, "E00002", ""));
}

TEST(EcrMask, CardNumbers) {
  EXPECT_EQ(mask_card_number("6222021234567891234"), "622202*********1234");
  EXPECT_EQ(mask_card_number("****1234"), "****1234");
  EXPECT_EQ(mask_card_numbers_in_text("card 4111111111111111 ok"), "card 411111******1111 ok");
}

}  // namespace
}  // namespace estate::protocols::pos
