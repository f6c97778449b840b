// Vzenith (臻识) style HTTP plate result push ("model: vzenith"): its row of the JSON push
// formats (plate_push.hpp JsonPushFormat), data read by parse_json_push. The camera POSTs JSON:
//   {"AlarmInfoPlate": {"channel": 0, "deviceName": ..., "ipaddr": ..., "serialno": ...,
//     "result": {"PlateResult": {"license": "京A12345", "colorType": 1, "confidence": 93,
//       "type": 1, "direction": 4, "triggerType": 8, "isoffline": 0, "plateid": 12,
//       "timeStamp": {"Timeval": {"sec": 1767225600, "usec": 0}},
//       "imageFile": "<base64 JPEG, the scene>", "imageFragmentFile": "<base64 JPEG, the plate>",
//       ...}}}}
// PlateResult's members are those of the vendor's TCP SDK (vzenith/vzenith_tcp_protocol,
// commandanalysis.cpp ParsePlateResultResponse); colorType is its LC_* table (0 unknown,
// 1 blue, 2 yellow, 3 white, 4 black, 5 green). A record the camera kept while the server was
// unreachable comes later with isoffline 1: a past read, recorded nowhere and never decided
// (opening a gate for a car that left long ago would let the next one in).
#include "drivers/camera/plate_push.hpp"
#include "drivers/camera/push_detail.hpp"

namespace estate::drivers::camera {

namespace detail {

const JsonPushFormat& vzenith_push_format() {
  static const std::string result = "/AlarmInfoPlate/result/PlateResult";
  static const JsonPushFormat row{
      .model = "vzenith",
      .envelope = {{"/AlarmInfoPlate", "an object: a Vzenith plate result push"},
                   {"/AlarmInfoPlate/result", "an object"},
                   {result, "an object"}},
      .plate = {result + "/license", JsonConversion::required_text},
      .colour = {result + "/colorType", JsonConversion::colour_code},
      .confidence = {result + "/confidence", JsonConversion::whole_number, 0, 100},
      .lane = {},
      .channel = {"/AlarmInfoPlate/channel", JsonConversion::whole_number, 0, 255},
      .time = {result + "/timeStamp/Timeval/sec", JsonConversion::unix_seconds},
      .camera = {},
      .offline = {result + "/isoffline", JsonConversion::offline_flag},
      // The scene picture first; the plate's close-up when the camera sends only that.
      .snapshots = {{result + "/imageFile", JsonConversion::base64_picture},
                    {result + "/imageFragmentFile", JsonConversion::base64_picture}},
      // LC_* of the SDK (testdata README source 1); 6 yellow-green on some firmware (source 2).
      .colour_codes = {{1, "blue"}, {2, "yellow"}, {3, "white"}, {4, "black"}, {5, "green"},
                       {6, "yellow-green"}},
  };
  return row;
}

}  // namespace detail

ParsedPush parse_vzenith(std::string_view body) {
  return parse_json_push(detail::vzenith_push_format(), body);
}

}  // namespace estate::drivers::camera
