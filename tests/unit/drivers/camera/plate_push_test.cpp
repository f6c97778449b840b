// The plate cameras' push formats (drivers/camera/plate_push.hpp): every frame of
// drivers/camera/testdata parsed, malformed ones refused with an error naming the field, and
// the vendor formats through the authenticated handler (camera named in the URL, its secret in
// the URL or a header, signatures as for our own format).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "drivers/camera/anpr_push.hpp"
#include "drivers/camera/plate_push.hpp"

namespace estate::drivers::camera {
namespace {

namespace fs = std::filesystem;

std::string frame(const std::string& name) {
  std::ifstream in(fs::path(ESTATE_EDGE_SOURCE_DIR) / "drivers/camera/testdata" / name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string multipart_type = "multipart/form-data; boundary=MIME_boundary_estate";

TEST(PushModels, NamesAndNoDefault) {
  EXPECT_FALSE(find_push_format(""));  // a camera names its model
  EXPECT_EQ(find_push_format("generic-json"), PushFormat::generic_json);
  EXPECT_EQ(find_push_format("vzenith"), PushFormat::vzenith);
  EXPECT_EQ(find_push_format("hikvision-isapi"), PushFormat::hikvision_isapi);
  EXPECT_EQ(find_push_format("json-fields"), PushFormat::json_fields);
  EXPECT_FALSE(find_push_format("hikvision"));
  EXPECT_EQ(push_model_names(), "vzenith, hikvision-isapi, generic-json, json-fields");
  // The JSON models are rows of data; the XML one and a site's own fields are not.
  ASSERT_NE(json_push_format(PushFormat::vzenith), nullptr);
  EXPECT_EQ(json_push_format(PushFormat::vzenith)->model, "vzenith");
  ASSERT_NE(json_push_format(PushFormat::generic_json), nullptr);
  EXPECT_EQ(json_push_format(PushFormat::generic_json)->model, "generic-json");
  EXPECT_EQ(json_push_format(PushFormat::hikvision_isapi), nullptr);
  EXPECT_EQ(json_push_format(PushFormat::json_fields), nullptr);
}

TEST(Base64, DecodesAndRefusesMalformed) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8"), "hello");
  EXPECT_EQ(decode_base64("aGVs\nbG8="), "hello");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_FALSE(decode_base64("aGVsbG8*"));
  EXPECT_FALSE(decode_base64("a"));
  EXPECT_FALSE(decode_base64("aG=Vs"));
}

TEST(Vzenith, PlateResultFrame) {
  auto p = parse_vzenith(frame("vzenith_plate_result.json"));
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->plate, "粤B12345");
  EXPECT_EQ(p.fields->colour, "blue");
  EXPECT_EQ(p.fields->confidence, 93);
  EXPECT_EQ(p.fields->channel, 0);
  EXPECT_EQ(p.fields->time, "2026-03-01T00:00:00Z");
  EXPECT_EQ(p.fields->snapshot, frame("scene.jpg"));  // the scene, not the plate close-up
  EXPECT_EQ(p.fields->snapshot_name, "imageFile");
  EXPECT_TRUE(p.fields->note.empty());
}

TEST(Vzenith, PlateCloseUpWhenNoScene) {
  auto p = parse_vzenith(frame("vzenith_fragment_only.json"));
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->plate, "粤B67890");
  EXPECT_EQ(p.fields->colour, "green");
  EXPECT_EQ(p.fields->snapshot, frame("plate.jpg"));
  EXPECT_EQ(p.fields->snapshot_name, "imageFragmentFile");
}

TEST(Vzenith, OfflineRecordIsNotDecided) {
  auto p = parse_vzenith(frame("vzenith_offline_record.json"));
  EXPECT_FALSE(p.fields);
  EXPECT_TRUE(p.error.empty());
  EXPECT_NE(p.ignored.find("isoffline"), std::string::npos);
}

TEST(Vzenith, MalformedFramesNameTheField) {
  EXPECT_EQ(parse_vzenith(frame("bad_vzenith_no_plate_result.json")).error,
            "AlarmInfoPlate.result.PlateResult: required (an object)");
  EXPECT_EQ(parse_vzenith(frame("bad_vzenith_confidence.json")).error,
            "AlarmInfoPlate.result.PlateResult.confidence: expected a whole number 0..100");
  EXPECT_EQ(parse_vzenith(frame("bad_vzenith_license_number.json")).error,
            "AlarmInfoPlate.result.PlateResult.license: required (a string)");
  EXPECT_EQ(parse_vzenith("{").error, "body is not a JSON object");
  EXPECT_EQ(parse_vzenith(R"({"plate":"A1"})").error,
            "AlarmInfoPlate: required (an object: a Vzenith plate result push)");
  EXPECT_EQ(parse_vzenith(std::string(100, '[')).error, "body is nested deeper than 16 levels");
  // A picture that is not base64 loses the picture, not the read.
  auto p = parse_vzenith(
      R"({"AlarmInfoPlate":{"result":{"PlateResult":{"license":"A1","imageFile":"@@@"}}}})");
  ASSERT_TRUE(p.fields);
  EXPECT_TRUE(p.fields->snapshot.empty());
  EXPECT_EQ(p.fields->note,
            "AlarmInfoPlate.result.PlateResult.imageFile: not base64; the read is kept without it");
}

TEST(Vzenith, AnswerCarriesTheOpenInstruction) {
  EXPECT_EQ(answer_push(PushFormat::vzenith, true).body,
            R"({"Response_AlarmInfoPlate":{"info":"ok"}})");
  EXPECT_EQ(answer_push(PushFormat::vzenith, false).body,
            R"({"Response_AlarmInfoPlate":{"info":"no"}})");
  EXPECT_EQ(answer_push(PushFormat::generic_json, true).body, R"({"ok":true})");
}

TEST(Hikvision, PlainXmlFrame) {
  auto p = parse_hikvision(frame("hikvision_anpr.xml"), "application/xml");
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->plate, "粤B12345");
  EXPECT_EQ(p.fields->colour, "blue");
  EXPECT_EQ(p.fields->confidence, 96);
  EXPECT_EQ(p.fields->channel, 1);
  EXPECT_EQ(p.fields->time, "2026-03-01T08:00:00+08:00");
  EXPECT_TRUE(p.fields->snapshot.empty());  // XML alone carries no picture
}

TEST(Hikvision, MultipartFrameKeepsTheScenePicture) {
  auto p = parse_hikvision(frame("hikvision_anpr_multipart.bin"), multipart_type);
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->plate, "粤B12345");
  EXPECT_EQ(p.fields->snapshot, frame("scene.jpg"));
  EXPECT_EQ(p.fields->snapshot_name, "detectionPicture.jpg");
}

TEST(Hikvision, MultipartParts) {
  std::string error;
  // The parts are views into the body: it must outlive them.
  const std::string body = frame("hikvision_anpr_multipart.bin");
  auto parts = parse_multipart(body, multipart_type, error);
  ASSERT_TRUE(parts) << error;
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].content_type, "text/xml");
  EXPECT_EQ((*parts)[1].filename, "licensePlatePicture.jpg");
  EXPECT_EQ((*parts)[1].data, frame("plate.jpg"));
  EXPECT_FALSE(parse_multipart("x", "multipart/form-data", error));
  EXPECT_EQ(error, "Content-Type: a multipart body needs its boundary");
}

TEST(Hikvision, OtherEventTypesAreIgnored) {
  auto p = parse_hikvision(frame("hikvision_videoloss_heartbeat.xml"), "application/xml");
  EXPECT_FALSE(p.fields);
  EXPECT_TRUE(p.error.empty());
  EXPECT_EQ(p.ignored, "eventType videoloss is not ANPR");
}

TEST(Hikvision, MalformedFramesNameTheField) {
  EXPECT_EQ(parse_hikvision(frame("bad_hikvision_dtd.xml"), "application/xml").error,
            "XML with a DTD or entity declarations is refused");
  EXPECT_EQ(parse_hikvision(frame("bad_hikvision_confidence.xml"), "application/xml").error,
            "ANPR.confidenceLevel: expected a whole number 0..100, got 'ninety'");
  EXPECT_EQ(parse_hikvision(frame("bad_hikvision_no_plate.xml"), "application/xml").error,
            "ANPR.licensePlate: required");
  EXPECT_EQ(parse_hikvision(frame("bad_hikvision_multipart_truncated.bin"), multipart_type).error,
            "multipart: part 3 has no end of headers");
  EXPECT_EQ(parse_hikvision(R"({"plate":"A1"})", "application/json").error,
            "EventNotificationAlert: required (an ISAPI event notification)");
  EXPECT_EQ(parse_hikvision("<EventNotificationAlert><eventType>ANPR</eventType>"
                            "</EventNotificationAlert>", "application/xml").error,
            "EventNotificationAlert.ANPR: required with eventType ANPR");
  // Entities: the predefined ones and character references only.
  auto p = parse_hikvision("<EventNotificationAlert><eventType>ANPR</eventType><ANPR>"
                           "<licensePlate>&#x7CA4;B1&amp;2</licensePlate></ANPR>"
                           "</EventNotificationAlert>", "text/xml");
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->plate, "粤B1&2");
  EXPECT_EQ(parse_hikvision("<EventNotificationAlert><eventType>ANPR</eventType><ANPR>"
                            "<licensePlate>&bogus;</licensePlate></ANPR></EventNotificationAlert>",
                            "text/xml").error,
            "ANPR.licensePlate: required");
}

TEST(GenericJson, FrameAndItsPicture) {
  auto p = parse_generic_json(frame("generic_json.json"));
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->camera, "cam-in");
  EXPECT_EQ(p.fields->plate, "粤B12345");
  EXPECT_EQ(p.fields->lane, "entry");
  EXPECT_EQ(p.fields->snapshot, frame("scene.jpg"));
}

// ---- JSON pushes as data ----

TEST(JsonTable, VzenithFramesDecodeThroughTheRow) {
  const auto& row = *json_push_format(PushFormat::vzenith);
  EXPECT_EQ(row.plate.pointer, "/AlarmInfoPlate/result/PlateResult/license");
  EXPECT_EQ(row.colour.conversion, JsonConversion::colour_code);
  struct Expected {
    const char* frame;
    const char* plate;
    const char* colour;
    int confidence;
    const char* picture;       // testdata file the snapshot must equal
    const char* picture_name;
  };
  for (const auto& e : {Expected{"vzenith_plate_result.json", "粤B12345", "blue", 93, "scene.jpg",
                                 "imageFile"},
                        Expected{"vzenith_fragment_only.json", "粤B67890", "green", -1, "plate.jpg",
                                 "imageFragmentFile"}}) {
    const std::string body = frame(e.frame);
    auto p = parse_json_push(row, body);
    ASSERT_TRUE(p.fields) << e.frame << ": " << p.error;
    EXPECT_EQ(p.fields->plate, e.plate) << e.frame;
    EXPECT_EQ(p.fields->colour, e.colour) << e.frame;
    if (e.confidence >= 0) {
      EXPECT_EQ(p.fields->confidence, e.confidence) << e.frame;
    }
    EXPECT_EQ(p.fields->snapshot, frame(e.picture)) << e.frame;
    EXPECT_EQ(p.fields->snapshot_name, e.picture_name) << e.frame;
    EXPECT_EQ(p.fields->camera, "");  // a vendor body never names our camera
    // The model's own entry point reads the same row.
    auto q = parse_vzenith(body);
    ASSERT_TRUE(q.fields);
    EXPECT_EQ(q.fields->plate, p.fields->plate);
    EXPECT_EQ(q.fields->time, p.fields->time);
    EXPECT_EQ(q.fields->channel, p.fields->channel);
  }
  EXPECT_NE(parse_json_push(row, frame("vzenith_offline_record.json")).ignored.find("isoffline 1"),
            std::string::npos);
  for (const char* bad : {"bad_vzenith_no_plate_result.json", "bad_vzenith_confidence.json",
                          "bad_vzenith_license_number.json"}) {
    EXPECT_EQ(parse_json_push(row, frame(bad)).error, parse_vzenith(frame(bad)).error) << bad;
    EXPECT_FALSE(parse_json_push(row, frame(bad)).error.empty()) << bad;
  }
  // Colour codes outside the row's table are no colour; a time beyond 2100 is refused.
  auto p = parse_json_push(row, R"({"AlarmInfoPlate":{"result":{"PlateResult":{"license":"A1",)"
                                R"("colorType":9}}}})");
  ASSERT_TRUE(p.fields);
  EXPECT_EQ(p.fields->colour, "");
  EXPECT_EQ(parse_json_push(row, R"({"AlarmInfoPlate":{"result":{"PlateResult":{"license":"A1",)"
                                 R"("timeStamp":{"Timeval":{"sec":9999999999}}}}}})")
                .error,
            "AlarmInfoPlate.result.PlateResult.timeStamp.Timeval.sec: expected a whole number "
            "0..4102444800");
}

std::map<std::string, std::string> nested_fields() {
  return {{"plate", "/data/vehicle/plate/number"},
          {"colour", "/data/vehicle/plate/color"},
          {"confidence", "/data/vehicle/plate/score"},
          {"lane", "/device/lane"},
          {"snapshot", "/data/pictures/0/base64"},
          {"time", "/data/captured_at"}};
}

TEST(JsonFields, ACameraDescribedByItsFieldsDecodes) {
  std::vector<JsonFieldsProblem> problems;
  auto format = json_fields_format(nested_fields(), problems);
  ASSERT_TRUE(format) << (problems.empty() ? "" : problems[0].message);
  auto p = parse_json_push(*format, frame("json_fields_nested.json"));
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->plate, "粤B54321");  // trimmed
  EXPECT_EQ(p.fields->colour, "yellow");
  EXPECT_EQ(p.fields->confidence, 88);
  EXPECT_EQ(p.fields->lane, "exit");
  EXPECT_EQ(p.fields->time, "2026-03-01T08:15:00+08:00");
  EXPECT_EQ(p.fields->snapshot, frame("scene.jpg"));
  EXPECT_EQ(p.fields->snapshot_name, "base64");
  // Only the plate is required; an absent optional field is "not given".
  format = json_fields_format({{"plate", "/p"}}, problems);
  ASSERT_TRUE(format);
  p = parse_json_push(*format, R"({"p":"A1","score":5})");
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->confidence, -1);
  EXPECT_EQ(parse_json_push(*format, R"({"q":"A1"})").error, "p: required (a string)");
  // Escaped member names (RFC 6901: ~1 is '/', ~0 is '~').
  format = json_fields_format({{"plate", "/a~1b/c~0d"}}, problems);
  ASSERT_TRUE(format);
  p = parse_json_push(*format, R"({"a/b":{"c~d":"A2"}})");
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->plate, "A2");
  // A wrong value names its path.
  format = json_fields_format(nested_fields(), problems);
  EXPECT_EQ(parse_json_push(*format, R"({"data":{"vehicle":{"plate":{"number":"A1","score":"x"}}}})")
                .error,
            "data.vehicle.plate.score: expected a whole number 0..100");
  EXPECT_EQ(parse_json_push(*format, R"({"device":{"lane":"up"},"data":{"vehicle":{"plate":)"
                                     R"({"number":"A1"}}}})")
                .error,
            "device.lane: expected entry or exit, got 'up'");
}

TEST(JsonFields, ColourCodesAreData) {
  std::vector<JsonFieldsProblem> problems;
  auto format = json_fields_format(
      {{"plate", "/plate"}, {"colour", "/plateColor"}, {"colour_codes", "0=blue, 1=yellow, 5=green"}},
      problems);
  ASSERT_TRUE(format) << (problems.empty() ? "" : problems[0].message);
  auto p = parse_json_push(*format, R"({"plate":"A1","plateColor":5})");
  ASSERT_TRUE(p.fields) << p.error;
  EXPECT_EQ(p.fields->colour, "green");
}

TEST(JsonFields, OptionsAreCheckedOneProblemEach) {
  std::vector<JsonFieldsProblem> problems;
  EXPECT_FALSE(json_fields_format({{"colour", "/c"}}, problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].option, "plate");
  problems.clear();
  EXPECT_FALSE(json_fields_format({{"plate", "data.plate"},
                                   {"lane", "/a~2"},
                                   {"speed", "/s"},
                                   {"colour_codes", "1=mauve"}},
                                  problems));
  ASSERT_EQ(problems.size(), 4u);
  std::map<std::string, std::string> by_option;
  for (const auto& p : problems) by_option[p.option] = p.message;
  EXPECT_EQ(by_option["plate"],
            "expected a JSON pointer (RFC 6901) such as /result/plate, got 'data.plate'");
  EXPECT_EQ(by_option["lane"], "expected a JSON pointer (RFC 6901) such as /result/plate, got '/a~2'");
  EXPECT_NE(by_option["speed"].find("not an option of a json-fields camera"), std::string::npos);
  EXPECT_NE(by_option["colour_codes"].find("got '1=mauve'"), std::string::npos);
  EXPECT_TRUE(valid_json_pointer("/a/0/b"));
  EXPECT_FALSE(valid_json_pointer("/"));
  EXPECT_FALSE(valid_json_pointer(""));
  EXPECT_FALSE(valid_json_pointer("a/b"));
}

// ---- through the authenticated handler ----

std::vector<CameraSecret> vendor_cams() {
  std::vector<CameraSecret> cams{{"cam-vz", "vz-secret", "entry"},
                                 {"cam-hik", "hik-secret", "exit"},
                                 {"cam-json", "json-secret", "entry"}};
  cams[0].format = PushFormat::vzenith;
  cams[1].format = PushFormat::hikvision_isapi;
  return cams;
}

TEST(VendorPush, CameraAndSecretInTheUrl) {
  const auto cams = vendor_cams();
  auto r = handle_plate_push(frame("vzenith_plate_result.json"), {},
                             {{"camera", "cam-vz"}, {"secret", "vz-secret"}}, cams);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.read);
  EXPECT_EQ(r.read->camera, "cam-vz");
  EXPECT_EQ(r.read->format, PushFormat::vzenith);
  EXPECT_EQ(r.read->plate, "粤B12345");
  EXPECT_EQ(r.read->lane, "entry");
  EXPECT_EQ(r.read->snapshot, frame("scene.jpg"));

  r = handle_plate_push(frame("hikvision_anpr_multipart.bin"), {{"Content-Type", multipart_type}},
                        {{"camera", "cam-hik"}, {"secret", "hik-secret"}}, cams);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.read);
  EXPECT_EQ(r.read->lane, "exit");
  EXPECT_EQ(r.read->channel, 1);
  EXPECT_EQ(r.read->snapshot_name, "detectionPicture.jpg");
}

TEST(VendorPush, WrongOrMissingCredentialIsRefusedBeforeParsing) {
  const auto cams = vendor_cams();
  // A wrong secret, another camera's secret, none at all, an unknown camera: one answer.
  for (const auto& q : std::vector<std::map<std::string, std::string>>{
           {{"camera", "cam-vz"}, {"secret", "wrong"}},
           {{"camera", "cam-vz"}, {"secret", "hik-secret"}},
           {{"camera", "cam-vz"}},
           {{"camera", "cam-nope"}, {"secret", "vz-secret"}}}) {
    auto r = handle_plate_push(frame("vzenith_plate_result.json"), {}, q, cams);
    EXPECT_EQ(r.status, 401);
    EXPECT_FALSE(r.read);
    EXPECT_EQ(r.body, R"({"error":"unknown camera or wrong secret","ok":false})");
  }
  // A malformed body of an unauthenticated sender gets 401, never a parse error.
  auto r = handle_plate_push("<EventNotificationAlert>", {}, {{"camera", "cam-hik"}}, cams);
  EXPECT_EQ(r.status, 401);
  // The body cannot name a vendor camera: only the URL or X-Camera-Id does.
  r = handle_plate_push(R"({"camera":"cam-vz","plate":"A1"})", {{"X-Camera-Secret", "vz-secret"}},
                        {}, cams);
  EXPECT_EQ(r.status, 401);
  // Oversized bodies are refused before anything is read.
  r = handle_plate_push(std::string(2000, 'x'), {}, {{"camera", "cam-vz"}}, cams, 1000);
  EXPECT_EQ(r.status, 413);
}

TEST(VendorPush, RequireSignatureRefusesTheUrlSecret) {
  auto cams = vendor_cams();
  cams[0].require_signature = true;
  auto r = handle_plate_push(frame("vzenith_plate_result.json"), {},
                             {{"camera", "cam-vz"}, {"secret", "vz-secret"}}, cams);
  EXPECT_EQ(r.status, 401);
  // Signed with the camera's secret (a forwarder in front of the camera), it is taken.
  PushGuard guard;
  const std::string body = frame("hikvision_anpr.xml");
  const std::string ts = std::to_string(guard.now());
  cams[1].require_signature = true;
  r = handle_plate_push(body,
                        {{"X-Camera-Id", "cam-hik"}, {"Content-Type", "application/xml"},
                         {"X-Estate-Timestamp", ts},
                         {"X-Estate-Signature", push_signature("hik-secret", ts, body)}},
                        {}, cams, 4 * 1024 * 1024, &guard);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.read);
  EXPECT_EQ(r.read->plate, "粤B12345");
}

TEST(VendorPush, AJsonFieldsCameraNamedInTheUrl) {
  std::vector<CameraSecret> cams{{"cam-site", "site-secret", "entry"}};
  cams[0].format = PushFormat::json_fields;
  std::vector<JsonFieldsProblem> problems;
  cams[0].json_fields = json_fields_format(nested_fields(), problems);
  auto r = handle_plate_push(frame("json_fields_nested.json"), {},
                             {{"camera", "cam-site"}, {"secret", "site-secret"}}, cams);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.read);
  EXPECT_EQ(r.read->format, PushFormat::json_fields);
  EXPECT_EQ(r.read->plate, "粤B54321");
  EXPECT_EQ(r.read->lane, "exit");  // the body's lane before the camera's
  EXPECT_EQ(r.body, R"({"ok":true})");
}

TEST(VendorPush, MalformedBodyOfAnAuthenticatedCamera) {
  const auto cams = vendor_cams();
  auto r = handle_plate_push(frame("bad_vzenith_confidence.json"), {},
                             {{"camera", "cam-vz"}, {"secret", "vz-secret"}}, cams);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":"AlarmInfoPlate.result.PlateResult.confidence: expected a whole )"
                    R"(number 0..100","ok":false})");
  r = handle_plate_push(frame("hikvision_videoloss_heartbeat.xml"), {},
                        {{"camera", "cam-hik"}, {"secret", "hik-secret"}}, cams);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.read);
  EXPECT_EQ(r.ignored, "eventType videoloss is not ANPR");
}

}  // namespace
}  // namespace estate::drivers::camera
