// The plate cameras' push formats, one parser per vendor protocol, selected by the camera
// device's `model` (docs/config.md, docs/parking.md "Plate cameras"):
//   generic-json     our own JSON (anpr_push.hpp), the default when `model` is empty
//   vzenith          Vzenith (臻识) style HTTP "plate result" push: JSON {"AlarmInfoPlate":
//                    {"channel", "serialno", "result": {"PlateResult": {"license", "colorType",
//                    "confidence", "imageFile", "imageFragmentFile", ...}}}}; answered with
//                    {"Response_AlarmInfoPlate": {"info": "ok"|"no", ...}} ("ok" opens)
//   hikvision-isapi  Hikvision ISAPI ANPR alarm push: an EventNotificationAlert XML (eventType
//                    ANPR, ANPR {licensePlate, plateColor, confidenceLevel, ...}) alone or as
//                    the XML part of a multipart/form-data body whose other parts are the
//                    pictures (licensePlatePicture.jpg, detectionPicture.jpg); answered 200
// Field layouts and their sources: drivers/camera/testdata/README.md.
// Pure functions: bytes in, typed fields or an error naming the field out. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace estate::drivers::camera {

enum class PushFormat { generic_json, vzenith, hikvision_isapi };

inline constexpr std::string_view default_push_model = "generic-json";

// The format of a camera `model` ("" is generic-json); nullopt for an unknown model.
std::optional<PushFormat> find_push_format(std::string_view model);
std::string_view to_string(PushFormat f);
// "generic-json, vzenith, hikvision-isapi", for errors.
std::string push_model_names();

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

ParsedPush parse_generic_json(std::string_view body);
ParsedPush parse_vzenith(std::string_view body);
// `content_type` is the request's Content-Type (multipart needs its boundary).
ParsedPush parse_hikvision(std::string_view body, std::string_view content_type);
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
