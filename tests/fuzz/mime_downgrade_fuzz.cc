// The 8-bit -> quoted-printable downgrade.
//
// Mode A (first byte even): the fuzz bytes become the parts of a
// multipart/mixed message, each part 8bit text, binary application, base64
// or without a Content-Transfer-Encoding. Then: every 8bit/binary part
// comes out relabelled quoted-printable, 7-bit, no line over 76 characters
// and none ending in white space, and decoding it gives back exactly the
// part's bytes; every other part and every delimiter comes out unchanged.
// The whole message is 7-bit.
// Mode B (first byte odd): any bytes as a message. The output must not
// depend on how the input is chunked, and the DATA bytes (BodyEncoder) have
// no bare CR or LF and no line longer than the 998 limit allows.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/mime_downgrade.h"

namespace {

using authrelay::BodyEncoder;
using authrelay::MimeDowngrader;
using authrelay::MimeOptions;

constexpr std::string_view kBoundary = "--=_fz";

std::string Downgrade(std::string_view in, std::size_t chunk) {
  MimeDowngrader d{MimeOptions{}};
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += chunk) d.Feed(in.substr(i, chunk), out);
  d.Finish(out);
  return out;
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) abort();  // the converter ends every line
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  abort();  // only upper-case hex digits are written
}

// Checks one quoted-printable line and appends what it decodes to.
void DecodeQpLine(const std::string& line, std::string& decoded) {
  if (line.size() > 76) abort();
  if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) abort();
  bool soft = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c >= 127 || (c < 32 && c != '\t')) abort();
    if (c != '=') {
      decoded.push_back(line[i]);
      continue;
    }
    if (i + 1 == line.size()) {
      soft = true;
      break;
    }
    if (i + 2 >= line.size()) abort();
    decoded.push_back(static_cast<char>(Hex(line[i + 1]) * 16 + Hex(line[i + 2])));
    i += 2;
  }
  if (!soft) decoded.push_back('\n');
}

void StructuredMode(std::string_view data, std::size_t chunk) {
  static const char* const kHeaders[] = {
      "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n",
      "Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n",
      "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n",
      "Content-Type: text/plain\n",
  };
  struct Part {
    int kind;
    std::string wire;  // as it goes into the message
    std::string body;  // its lines as the converter reads them, each ending with LF
  };
  std::vector<Part> parts;
  std::size_t start = 0;
  while (start < data.size() && parts.size() < 16) {
    std::size_t end = data.find('\xf5', start);
    if (end == std::string_view::npos) end = data.size();
    std::string_view raw = data.substr(start, end - start);
    start = end + 1;
    Part p{raw.empty() ? 0 : static_cast<unsigned char>(raw[0]) % 4, {}, {}};
    if (!raw.empty()) raw.remove_prefix(1);
    bool converted = p.kind < 2;
    // The part as it goes into the message: raw bytes (a part sent as is
    // gets no 8-bit byte and no CR, which DataEncoder would end a line at),
    // ending with LF, and no line that could be read as a delimiter.
    std::string wire;
    bool line_start = true;
    for (char c : raw) {
      if (!converted) {
        c = static_cast<char>(c & 0x7f);
        if (c == '\r') c = 'r';
      }
      if (line_start && c == '-') wire.push_back('X');
      wire.push_back(c);
      line_start = c == '\n';
    }
    if (wire.empty() || wire.back() != '\n') wire.push_back('\n');
    p.wire = wire;
    // What the part is to the converter: CRLF and LF end a line, a lone CR
    // is data.
    for (std::size_t i = 0; i < wire.size(); ++i) {
      if (wire[i] == '\r' && i + 1 < wire.size() && wire[i + 1] == '\n') continue;
      p.body.push_back(wire[i]);
    }
    parts.push_back(std::move(p));
  }
  std::string message = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"=_fz\"\n\npreamble\n";
  for (const Part& p : parts) {
    message += std::string(kBoundary) + "\n" + kHeaders[p.kind] + "\n" + p.wire;
  }
  message += std::string(kBoundary) + "--\nepilogue\n";

  std::string out = Downgrade(message, chunk);
  for (char c : out) {
    if (static_cast<unsigned char>(c) >= 128) abort();  // 8 bits left over
  }
  std::vector<std::string> lines = Lines(out);
  std::size_t at = 0;
  auto expect = [&](std::string_view want) {
    if (at >= lines.size() || lines[at] != want) abort();
    ++at;
  };
  expect("MIME-Version: 1.0");
  expect("Content-Type: multipart/mixed; boundary=\"=_fz\"");
  expect("");
  expect("preamble");
  for (const Part& p : parts) {
    expect(kBoundary);
    std::string_view header = kHeaders[p.kind];
    std::size_t first_end = header.find('\n');
    expect(header.substr(0, first_end));
    if (p.kind < 2) {
      expect("Content-Transfer-Encoding: quoted-printable");
      expect("");
      std::string decoded;
      while (at < lines.size() && lines[at].rfind(kBoundary, 0) != 0) DecodeQpLine(lines[at++], decoded);
      if (decoded != p.body) abort();  // the conversion lost or changed bytes
    } else {
      if (first_end + 1 < header.size()) expect(header.substr(first_end + 1, header.size() - first_end - 2));
      expect("");
      for (const std::string& line : Lines(p.body)) expect(line);
    }
  }
  expect(std::string(kBoundary) + "--");
  expect("epilogue");
  if (at != lines.size()) abort();
}

void AnyBytesMode(std::string_view data, std::size_t chunk) {
  if (Downgrade(data, chunk) != Downgrade(data, data.size() + 1)) abort();  // chunking changed the result
  MimeOptions options;
  BodyEncoder encoder(998, &options);
  std::string out;
  for (std::size_t i = 0; i < data.size(); i += chunk) encoder.Encode(data.substr(i, chunk), out);
  encoder.Finish(out);
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r' && (i + 1 >= out.size() || out[i + 1] != '\n')) abort();
    if (out[i] == '\n') {
      if (i == 0 || out[i - 1] != '\r') abort();
      if (i - 1 - line_start > 999) abort();  // 998 + a stuffed dot
      line_start = i + 1;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 2) return 0;
  std::string_view data(reinterpret_cast<const char*>(bytes + 2), size - 2);
  std::size_t chunk = 1 + bytes[1] * 17;
  if (bytes[0] % 2 == 0) {
    StructuredMode(data, chunk);
  } else {
    AnyBytesMode(data, chunk);
  }
  return 0;
}
