// The plate cameras' push formats, selected by the camera device's `model` (required: there is
// no default format; docs/config.md, docs/parking.md "Plate cameras"):
//   vzenith          Vzenith (臻识) style HTTP "plate result" push: JSON {"AlarmInfoPlate":
//                    {"channel", "serialno", "result": {"PlateResult": {"license", "colorType",
//                    "confidence", "imageFile", "imageFragmentFile", ...}}}}; answered with
//                    {"Response_AlarmInfoPlate": {"info": "ok"|"no", ...}} ("ok" opens)
//   hikvision-isapi  Hikvision ISAPI ANPR alarm push: an EventNotificationAlert XML (eventType
//                    ANPR, ANPR {licensePlate, plateColor, confidenceLevel, ...}) alone or as
//                    the XML part of a multipart/form-data body whose other parts are the
//                    pictures (licensePlatePicture.jpg, detectionPicture.jpg); answered 200
//   generic-json     a flat JSON of our own (anpr_push.hpp), for forwarders that translate
//   json-fields      any other JSON push, described by the camera's options: a JSON pointer
//                    per field (json_fields_format below)
// The JSON formats are data: a JsonPushFormat row each (vzenith_push.cpp, plate_push.cpp) read
// by one decoder (parse_json_push); hikvision-isapi (XML, multipart) is code.
// Field layouts and their sources: drivers/camera/testdata/README.md.
// Pure functions: bytes in, typed fields or an error naming the field out. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace estate::drivers::camera {

enum class PushFormat { vzenith, hikvision_isapi, generic_json, json_fields };

// The format of a camera `model`; nullopt for an unknown model and for "" (a camera names its
// model: no format is assumed).
std::optional<PushFormat> find_push_format(std::string_view model);
std::string_view to_string(PushFormat f);
// "vzenith, hikvision-isapi, generic-json, json-fields", for errors.
std::string push_model_names();

// ---- JSON pushes as data ----

// How a JSON value becomes a field of PlateFields. An absent or null value is "not given".
enum class JsonConversion {
  text,           // a string, kept as sent
  required_text,  // a string, trimmed; absent or not a string: "required (a string)"
  colour_word,    // a string: blue, yellow, white, black, green, yellow-green as such,
                  // "unknown" none, any other word "other"
  colour_code,    // a whole number 0..255 looked up in the format's colour_codes; others none
  whole_number,   // a whole number lo..hi (confidence 0..100, a channel 0..255)
  unix_seconds,   // a whole number 0..4102444800 -> "YYYY-MM-DDThh:mm:ssZ" (UTC)
  offline_flag,   // a whole number 0..1; 1: a record the camera kept while we were unreachable
  base64_picture, // a string of base64 (a JPEG); not base64 loses the picture, not the read
};

// Where one field is (an RFC 6901 JSON pointer; "" when the format has no such field) and how
// its value converts.
struct JsonField {
  std::string pointer;
  JsonConversion conversion = JsonConversion::text;
  std::int64_t lo = 0, hi = 0;  // whole_number's range
};

// An object the body must have for it to be a push of this format ("required (<what>)").
struct JsonEnvelope {
  std::string pointer;
  std::string what;
};

// A JSON push format: one row of the table of models, or a site's json-fields camera.
struct JsonPushFormat {
  std::string model;
  std::vector<JsonEnvelope> envelope;  // outermost first
  JsonField plate;                     // required in every format
  JsonField colour, confidence, lane, channel, time, camera, offline;
  std::vector<JsonField> snapshots;    // tried in order: the first one given is the picture
  std::vector<std::pair<std::int64_t, std::string>> colour_codes;  // colour_code's table
};

// The row of a JSON model (vzenith, generic-json); nullptr for hikvision-isapi and json-fields.
const JsonPushFormat* json_push_format(PushFormat f);

// The options of a json-fields camera (`plate` required; `colour`, `confidence`, `lane`,
// `snapshot`, `time` optional), each a JSON pointer (RFC 6901, "/a/b"). What is wrong, one
// entry per option key ("plate", ...) with its message; the format when nothing is.
struct JsonFieldsProblem {
  std::string option;
  std::string message;
};
std::optional<JsonPushFormat> json_fields_format(const std::map<std::string, std::string>& options,
                                                 std::vector<JsonFieldsProblem>& problems);
// "plate, colour, confidence, lane, snapshot, time", for errors.
std::string json_fields_option_names();
// True when `text` is a JSON pointer naming a member ("/a/b", "~0" and "~1" escapes only).
bool valid_json_pointer(std::string_view text);

// What one push says about one read plate.
struct PlateFields {
  std::string camera;         // a camera id the body names (generic-json "camera"), else ""
  std::string plate;          // as the camera read it
  std::string colour;         // blue, yellow, white, black, green, yellow-green, other; "" unknown
  int confidence = -1;        // 0..100, -1 when not given
  std::string lane;           // entry or exit when the body says; "" otherwise
  int channel = -1;           // the camera's video channel / lane number, -1 when not given
  std::string time;           // the camera's time of the read as it sent it, "" when none
  std::string snapshot;       // the picture's bytes (JPEG) when the push carries one
  std::string snapshot_name;  // the picture's name in the push (e.g. detectionPicture.jpg)
  std::string note;           // a problem that did not stop the read (a picture not decodable)
};

struct ParsedPush {
  std::optional<PlateFields> fields;  // set when the push carries a plate read
  std::string error;                  // why the body was refused (400), naming the field
  std::string ignored;                // a well-formed push that is no plate read (e.g. another
                                      // ISAPI event type): answered 200, nothing decided
};

// A push in a JSON format: the envelope, then each field the format names, converted; errors
// name the field by its path ("AlarmInfoPlate.result.PlateResult.license").
ParsedPush parse_json_push(const JsonPushFormat& format, std::string_view body);
// The rows of the table: parse_json_push(*json_push_format(...), body).
ParsedPush parse_generic_json(std::string_view body);
ParsedPush parse_vzenith(std::string_view body);
// `content_type` is the request's Content-Type (multipart needs its boundary).
ParsedPush parse_hikvision(std::string_view body, std::string_view content_type);
// A push of model `f`; a json-fields camera's pushes go to parse_json_push with its format.
ParsedPush parse_push(PushFormat f, std::string_view body, std::string_view content_type);

// The body a camera of `f` expects once its read was decided (`open`: the gate opened for it).
struct PushAnswer {
  std::string content_type = "application/json";
  std::string body;
};
PushAnswer answer_push(PushFormat f, bool open);

// Standard base64 (RFC 4648, padding optional, whitespace skipped); nullopt when malformed.
std::optional<std::string> decode_base64(std::string_view text);

// multipart/form-data (RFC 7578) as cameras send it.
struct MultipartPart {
  std::string name;          // Content-Disposition name
  std::string filename;      // Content-Disposition filename, "" when none
  std::string content_type;  // the part's Content-Type, lower-cased, "" when none
  std::string_view data;     // a view into the body
};
// The parts of `body`, or nullopt with `error` set (no boundary, no closing delimiter, ...).
std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view content_type,
                                                          std::string& error);

}  // namespace estate::drivers::camera
