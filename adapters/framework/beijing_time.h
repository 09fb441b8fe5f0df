/*  beijing_time: the agencies' local timestamps, one parser for all.

    Agency systems write Beijing time without an offset, each in its own
    shape: "2020-09-01 09:31:07", "20200901093107", "2020/09/01 09:30",
    "2020-09-01T09:31:07.250". China keeps UTC+8 all year, so the offset is
    fixed. A mapping names the shapes it accepts as patterns:

        Y M D h m s   one digit of year, month, day, hour, minute, second
        f             one to nine digits of a fraction of a second (last)
        anything else that character itself

    Several patterns are separated by '|' and the first that fits wins. The
    calendar is checked too (no 2021/02/29, no 24:00). */
#ifndef ONENET_BEIJING_TIME_H
#define ONENET_BEIJING_TIME_H

#include <stdbool.h>
#include <stdint.h>

/* Parses text by one of the '|'-separated patterns into ms since the
   epoch. Returns false when no pattern fits or the date does not exist.
   Every pattern must hold YYYY, MM, DD, hh and mm; ss and f are optional
   (seconds default to 00). */
bool beijing_time_parse (const char *text, const char *patterns, int64_t *ms);

#endif
