#!/usr/bin/env python3
"""build_calendar.py - build onenet's working-day calendar from holiday-cn.

Reads the State Council holiday arrangements as published by the holiday-cn
project (https://github.com/NateScarlet/holiday-cn, MIT licence), one
YEAR.json per year, and writes data/calendar/cn-workdays.csv: one row per
day that differs from the weekend rule (Monday to Friday work, Saturday and
Sunday off):

    date,workday,name
    2020-01-19,true,春节        <- a make-up working Sunday (调休)
    2020-01-24,false,春节       <- a public holiday on a weekday

Rows of the source that agree with the weekend rule (a holiday that falls
on a Saturday, the 2020-02-03 "back to work" Monday) carry no information
and are left out. Rows dated outside the years of the source files (the
2019 file's arrangement for New Year reaches back to 2018-12-29..31) are
left out too, and reported: a year counts as known to onenet when the CSV
holds any row for it, and a few days of 2018 must not make 2018 look known.

Also copies the holiday-cn LICENSE next to the CSV as LICENSE-holiday-cn.

Usage:
    deploy/calendar/build_calendar.py [--source DIR] [--out FILE] [--check]

Exit status: 0 done (or --check found the CSV up to date), 1 --check found
it out of date, 2 bad source data or bad arguments.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SOURCE = os.path.join(os.path.dirname(REPO), "shared", "data", "holidays-cn")
DEFAULT_OUT = os.path.join(REPO, "data", "calendar", "cn-workdays.csv")
HEADER = "date,workday,name"


class SourceError(Exception):
    """Bad source data; the message names the file and the entry."""


def load_year(path):
    """Returns (year, [(date, workday, name), ...]) for one holiday-cn file."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise SourceError(f"{path}: cannot read: {e}")
    stem = os.path.splitext(os.path.basename(path))[0]
    year = doc.get("year")
    if not isinstance(year, int) or str(year) != stem:
        raise SourceError(f"{path}: year is {year!r}, expected {stem}")
    days = doc.get("days")
    if not isinstance(days, list):
        raise SourceError(f"{path}: no \"days\" list")
    rows = []
    for i, entry in enumerate(days):
        where = f"{path}: days[{i}]"
        try:
            date = datetime.date.fromisoformat(entry["date"])
        except (KeyError, TypeError, ValueError):
            raise SourceError(f"{where}: bad date {entry.get('date')!r}")
        off = entry.get("isOffDay")
        if not isinstance(off, bool):
            raise SourceError(f"{where}: isOffDay is {off!r}, expected true or false")
        name = entry.get("name")
        # The C loader takes the rest of the line as the name and does not
        # unquote: keep names free of CSV punctuation.
        if not isinstance(name, str) or not name or re.search(r'[,"\r\n]', name):
            raise SourceError(f"{where}: bad name {name!r}")
        rows.append((date, not off, name))
    return year, rows


def build(source):
    """Returns (csv_text, notes): the CSV and what was left out, for stderr."""
    files = sorted(f for f in os.listdir(source) if re.fullmatch(r"\d{4}\.json", f))
    if not files:
        raise SourceError(f"{source}: no YEAR.json files")
    years = set()
    entries = {}
    for f in files:
        year, rows = load_year(os.path.join(source, f))
        years.add(year)
        for date, workday, name in rows:
            seen = entries.get(date)
            if seen and seen[0] != workday:
                raise SourceError(f"{f}: {date} is workday={workday} here but "
                                  f"workday={seen[0]} in {seen[2]}")
            entries[date] = (workday, name, f)
    notes = []
    lines = [HEADER]
    for date in sorted(entries):
        workday, name, f = entries[date]
        if date.year not in years:
            notes.append(f"left out {date} ({name}, workday={str(workday).lower()}, "
                         f"from {f}): {date.year} is not a year of the source")
            continue
        if workday == (date.weekday() < 5):
            continue
        lines.append(f"{date.isoformat()},{'true' if workday else 'false'},{name}")
    if len(years) != max(years) - min(years) + 1:
        notes.append(f"years are not contiguous: {sorted(years)}")
    notes.append(f"{len(lines) - 1} days for years {min(years)}-{max(years)}")
    return "\n".join(lines) + "\n", notes


def main():
    ap = argparse.ArgumentParser(description="Build data/calendar/cn-workdays.csv "
                                 "from holiday-cn YEAR.json files.")
    ap.add_argument("--source", default=DEFAULT_SOURCE,
                    help="directory of YEAR.json files and LICENSE (default: %(default)s)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="CSV to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 when --out differs from what would be written")
    args = ap.parse_args()
    try:
        text, notes = build(args.source)
    except (SourceError, OSError) as e:
        print(f"build_calendar: {e}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"build_calendar: {note}", file=sys.stderr)
    if args.check:
        try:
            with open(args.out, encoding="utf-8", newline="") as f:
                current = f.read()
        except OSError as e:
            print(f"build_calendar: cannot read {args.out}: {e}", file=sys.stderr)
            return 1
        if current != text:
            print(f"build_calendar: {args.out} is out of date", file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    licence = os.path.join(args.source, "LICENSE")
    if os.path.exists(licence):
        shutil.copyfile(licence, os.path.join(os.path.dirname(os.path.abspath(args.out)),
                                              "LICENSE-holiday-cn"))
    else:
        print(f"build_calendar: {licence} is missing; copy the licence by hand",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
