#!/usr/bin/env python3
"""Prints enrollment-svc/uhc_apply_v3.lua with its day history taken out, for history_cost.sh.

The result is the same library (name, functions, aggregate layout 3, so the verify pass reads it)
whose apply books every event on one day and never touches the current day, the counts it began
with or the day hash: what ingest would cost without the history. Bench use only: its as-of
answers are wrong. Fails (exit 1) if the source no longer has the parts it replaces.
"""
import pathlib
import sys

src = pathlib.Path(__file__).resolve().parents[2] / "enrollment-svc" / "uhc_apply_v3.lua"
lua = src.read_text()

REPLACEMENTS = [
    # Per event: no day from event_time; every event on the call's first day.
    ("""    if ts >= day_end or ts < day_start then
      local wib = ts + WIB_MS
      day = (wib - wib % DAY_MS) / DAY_MS
      day_start = day * DAY_MS - WIB_MS
      day_end = day_start + DAY_MS
      first_day = first_day or day
    end
""", """    day, first_day = 0, 0
"""),
    # Per region: the changes added to the counts (as when all its events are of its current
    # day); the current day and the day hash untouched.
    ("""    if not by_day and v[13] == first_day then  -- all its events on its current day: nearly always
""", """    if true then
"""),
]
for old, new in REPLACEMENTS:
    if lua.count(old) != 1:
        sys.exit("history_off.py: %s changed; update the replacements" % src)
    lua = lua.replace(old, new)
sys.stdout.write(lua)
