/*  beijing_time: agency local timestamps, see beijing_time.h. */
#include "beijing_time.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

/* Matches text against one pattern of plen characters; on a fit writes the
   RFC 3339 form with +08:00 into rfc (at least 48 bytes). */
static bool
s_match (const char *text, const char *pattern, size_t plen, char *rfc, size_t rfclen)
{
    //  the fields as read: Y, M, D, h, m, s, and the fraction
    char year[5] = "", mon[3] = "", day[3] = "", hour[3] = "", min[3] = "";
    char sec[3] = "00", frac[10] = "";
    size_t ny = 0, nmo = 0, nd = 0, nh = 0, nmi = 0, ns = 0, nf = 0;
    const char *t = text;
    for (size_t i = 0; i < plen; i++) {
        char p = pattern[i];
        if (p == 'f') {
            while (*t >= '0' && *t <= '9' && nf < sizeof frac - 1)
                frac[nf++] = *t++;
            if (nf == 0)
                return false;
            frac[nf] = '\0';
            continue;
        }
        char *field = NULL;
        size_t *n = NULL, cap = 0;
        switch (p) {
        case 'Y': field = year, n = &ny, cap = 4; break;
        case 'M': field = mon, n = &nmo, cap = 2; break;
        case 'D': field = day, n = &nd, cap = 2; break;
        case 'h': field = hour, n = &nh, cap = 2; break;
        case 'm': field = min, n = &nmi, cap = 2; break;
        case 's': field = sec, n = &ns, cap = 2; break;
        default: break;
        }
        if (!field) {
            if (*t != p)
                return false;
            t++;
            continue;
        }
        if (*t < '0' || *t > '9' || *n >= cap)
            return false;
        field[(*n)++] = *t++;
        field[*n] = '\0';
    }
    if (*t != '\0' || ny != 4 || nmo != 2 || nd != 2 || nh != 2 || nmi != 2
        || (ns != 0 && ns != 2))
        return false;
    snprintf (rfc, rfclen, "%s-%s-%sT%s:%s:%s%s%s+08:00", year, mon, day, hour, min, sec,
              nf ? "." : "", frac);
    return true;
}

bool
beijing_time_parse (const char *text, const char *patterns, int64_t *ms)
{
    const char *p = patterns;
    while (true) {
        const char *bar = strchr (p, '|');
        size_t plen = bar ? (size_t) (bar - p) : strlen (p);
        char rfc[48];
        if (s_match (text, p, plen, rfc, sizeof rfc))
            return clock_parse_rfc3339 (rfc, ms);
        if (!bar)
            return false;
        p = bar + 1;
    }
}
