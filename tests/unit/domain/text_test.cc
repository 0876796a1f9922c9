#include "common/domain/text.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace uhc {
namespace {

// CheckFreeText's violations of `text` as description (at most 1,000 bytes).
std::vector<FieldViolation> FreeText(const std::string& text) {
  std::vector<FieldViolation> out;
  CheckFreeText("description", text, kMaxCutoffDescriptionBytes, &out);
  return out;
}

TEST(FreeTextTest, PlainTextOfEveryScriptIsStored) {
  for (const std::string& text :
       {std::string(""), std::string("UHC Awards 2026 (putaran 1)"),
        std::string("Jawa Barat \xE2\x80\x94 tahap \xC2\xBD"), std::string("\xF0\x9F\x8F\xA5 RSUD"),
        std::string("\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A"), std::string(1000, 'a')}) {
    EXPECT_TRUE(FreeText(text).empty()) << text;
  }
}

TEST(FreeTextTest, ControlCharactersAreRefusedNamingTheField) {
  for (const std::string& text : {
           std::string("\x1b]0;pwned\x07"),           // ESC ] sets the window title
           std::string("x\x1b[2J"),                   // ESC [ 2J clears the screen
           std::string("a\tb"), std::string("a\nb"),  // C0 has no exceptions
           std::string("a\rb"), std::string("nul\0x", 5), std::string("del\x7f"),
           std::string("\xC2\x9B"
                       "2J"),        // C1 CSI
           std::string("\xC2\x85"),  // C1 NEL
           std::string("abc\xE2\x80\xAE"
                       "fdp.exe"),        // U+202E right-to-left override
           std::string("\xE2\x81\xA6x"),  // U+2066 left-to-right isolate
           std::string("\xE2\x80\x8F"),   // U+200F right-to-left mark
           std::string("\xD8\x9C"),       // U+061C Arabic letter mark
       }) {
    std::vector<FieldViolation> v = FreeText(text);
    ASSERT_EQ(v.size(), 1u) << testing::PrintToString(text);
    EXPECT_EQ(v[0].field, "description");
    EXPECT_NE(v[0].description.find("control character U+"), std::string::npos) << v[0].description;
    // The refusal names the character; it does not echo it.
    EXPECT_EQ(Printable(v[0].description), v[0].description);
  }
}

TEST(FreeTextTest, InvalidUtf8AndOverlongTextAreRefused) {
  for (const std::string& text :
       {std::string("\xff"), std::string("a\xC3"), std::string("\xC0\x9B"),  // overlong ESC
        std::string("\xE0\x80\x9B"), std::string("\xED\xA0\x80"),            // surrogate
        std::string("\xF4\x90\x80\x80"), std::string("\x80")}) {
    std::vector<FieldViolation> v = FreeText(text);
    ASSERT_EQ(v.size(), 1u) << testing::PrintToString(text);
    EXPECT_NE(v[0].description.find("UTF-8"), std::string::npos) << v[0].description;
  }
  std::vector<FieldViolation> v = FreeText(std::string(1001, 'a'));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].description, "is 1001 bytes long; at most 1000");
  // Length is checked first, and costs nothing more for a huge text.
  EXPECT_EQ(FreeText(std::string(1 << 20, '\x1b')).size(), 1u);
}

TEST(PrintableTest, EscapesWhatFreeTextRefusesAndKeepsTheRest) {
  EXPECT_EQ(Printable("UHC Awards \xE2\x80\x94 2026"), "UHC Awards \xE2\x80\x94 2026");
  EXPECT_EQ(Printable("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
  EXPECT_EQ(Printable("\x1b[2Jx\x7f"), "\\x1b[2Jx\\x7f");
  EXPECT_EQ(Printable("a\tb\n"), "a\\x09b\\x0a");
  EXPECT_EQ(Printable("\xC2\x9B"), "\\x9b");
  EXPECT_EQ(Printable("abc\xE2\x80\xAE"
                      "exe"),
            "abc\\u202eexe");
  EXPECT_EQ(Printable("\xff\xC3"), "\\xff\\xc3");
  EXPECT_EQ(Printable(std::string("a\0b", 3)), "a\\x00b");
}

TEST(CutoffIdTest, OnlyShortSlugsAndNoEcho) {
  for (const std::string& id :
       {std::string("round-1"), std::string("uhc.2026_q1"), std::string(kMaxCutoffIdBytes, 'a')}) {
    std::vector<FieldViolation> v;
    CheckCutoffId("cutoff_id", id, &v);
    EXPECT_TRUE(v.empty()) << id;
  }
  for (const std::string& id :
       {std::string(""), std::string("Round-1"), std::string("../x"), std::string("a b"),
        std::string("a\x1b"), std::string(kMaxCutoffIdBytes + 1, 'a'), std::string(100000, 'z')}) {
    std::vector<FieldViolation> v;
    CheckCutoffId("cutoff_id", id, &v);
    ASSERT_EQ(v.size(), 1u) << id;
    EXPECT_EQ(v[0].field, "cutoff_id");
    EXPECT_LT(v[0].description.size(), 120u) << v[0].description;
  }
}

}  // namespace
}  // namespace uhc
