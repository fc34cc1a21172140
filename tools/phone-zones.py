#!/usr/bin/env python3
"""Write crates/core/data/phone_zones.txt: the time zones each phone-number prefix belongs to.

The data is libphonenumber's (its `timezones` map, Apache License 2.0), read from the Python
`phonenumbers` package, which carries it: `pip install phonenumbers`, then run this script from
the repository's root. The file is committed; nothing is fetched when Switchboard builds or runs.
"""

import pathlib

import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA

UNKNOWN = "Etc/Unknown"

out = pathlib.Path("crates/core/data/phone_zones.txt")
lines = [
    "# The time zones of phone-number prefixes (E.164 digits, country code first).",
    f"# From libphonenumber's time zone map, as the Python phonenumbers package {phonenumbers.__version__} carries it.",
    "# Copyright (C) 2011-2026 The Libphonenumber Authors. Licensed under the Apache License,",
    "# Version 2.0: http://www.apache.org/licenses/LICENSE-2.0",
    "# Written by tools/phone-zones.py; do not edit by hand. One prefix per line, then its zones.",
]
for prefix in sorted(TIMEZONE_DATA):
    zones = [z for z in TIMEZONE_DATA[prefix] if z != UNKNOWN]
    if zones:
        lines.append(" ".join([prefix, *zones]))
out.write_text("\n".join(lines) + "\n")
print(f"{len(lines) - 5} prefixes written to {out}")
