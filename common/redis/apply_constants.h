#pragma once

// The constants the apply's two engines share, defined once (issue #26): the Redis module
// (enrollment-svc/module), common/domain/timeline.h and the C++ callers (common/redis/schema.h
// apply_abi) take them from here, and the Lua library's are generated from this file at build
// time: cmake/embed.cmake replaces the line "-- @APPLY_CONSTANTS@" of
// enrollment-svc/uhc_apply_v3.lua with one "local NAME = VALUE" line per X(NAME, VALUE) below.
// Keep one X(...) a line, names upper case, values integer literals (both languages read them).

#include <cstdint>

#define UHC_APPLY_CONSTANTS(X)                                                              \
  /* Operation codes: byte 0 of each event argument (and an entry's op in a timeline). */   \
  X(ENROLL, 1)                                                                              \
  X(STATUS, 2)                                                                              \
  X(SEGMENT, 3)                                                                             \
  X(LEAVE, 4)                                                                               \
  X(ENTER, 5)                                                                               \
  X(TERMINATE, 6)                                                                           \
  /* A timeline's ENTER as stored since module version 4 (with its upgrades). */            \
  X(STORED_ENTER, 7)                                                                        \
  /* The kind of last event of an 11-byte uhc_apply_v3 record (bits 4-6 of its flags). */   \
  X(K_ENROLLED, 1)                                                                          \
  X(K_STATUS, 2)                                                                            \
  X(K_SEGMENT, 3)                                                                           \
  X(K_RELOCATED, 4)                                                                         \
  X(K_MOVED_OUT, 5)                                                                         \
  X(K_TERMINATED, 6)                                                                        \
  /* Result codes: the low 3 bits of each result byte. */                                   \
  X(APPLIED, 1)                                                                             \
  X(DUPLICATE, 2)                                                                           \
  X(STALE, 3)                                                                               \
  X(NOT_FOUND, 4)                                                                           \
  X(GONE, 5)                                                                                \
  X(SKIPPED, 6)                                                                             \
  /* uhc_apply_v3: an ENTER in the same call as its LEAVE takes what the LEAVE removed. */  \
  X(FROM_LEAVE, 255)                                                                        \
  /* An ENROLL argument bit: active iff the region holds UHC Prioritas when applied. */     \
  X(PRIO_DECIDES, 128)                                                                      \
  /* Bytes: an event of uhc_apply_v3, of uhc_apply_v4, a v3 record, a participant field. */ \
  X(EVENT_BYTES, 24)                                                                        \
  X(EVENT4_BYTES, 28)                                                                       \
  X(RECORD_BYTES, 11)                                                                       \
  X(FIELD_BYTES, 8)                                                                         \
  /* Aggregate layout 3: the head rewritten by a call of one day, and the whole value. */   \
  X(HEAD_BYTES, 56)                                                                         \
  X(LAYOUT3_BYTES, 96)                                                                      \
  X(NO_DAY, -1)                                                                             \
  /* Time: a day, WIB's offset from UTC, and the first instant refused (the year 2149: */   \
  /* days are keyed in 16 bits, 65536 * DAY_MS - WIB_MS). */                                \
  X(DAY_MS, 86400000)                                                                       \
  X(WIB_MS, 25200000)                                                                       \
  X(LAST_MS, 5662285200000)

namespace uhc::apply_constants {
#define UHC_APPLY_CONSTANT(name, value) inline constexpr int64_t name = value;
UHC_APPLY_CONSTANTS(UHC_APPLY_CONSTANT)
#undef UHC_APPLY_CONSTANT
static_assert(LAST_MS == 65536 * DAY_MS - WIB_MS);
}  // namespace uhc::apply_constants
