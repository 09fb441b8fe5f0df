/*  ident.c - identifiers that onenet uses as correlation keys

    Every check here runs on every event the hub ingests, so each one is a
    single pass over a short string with no allocation. Reasons name the
    identifier, quote (a shortened, escaped copy of) the value, and give the
    1-based position of the first fault, which is what an operator needs to
    fix the record at the agency.
*/

#include "ident.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__)
#define IDENT_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#else
#define IDENT_PRINTF(f, a)
#endif

/*  GB 32100-2015 code alphabet; a character's value is its index. The
    letters I, O, Z, S and V are left out because they read like 1, 0, 2,
    5 and U.  */
static const char s_credit_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/*  Weights 3^(i-1) mod 31 for positions i = 1..17.  */
static const int s_credit_weights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                         29, 25, 13, 8,  24, 10, 30, 28};

/*  GB/T 37346-2019 parcel feature codes (second character of the parcel
    code): A collective land ownership, B/S/X construction land use right on,
    above and below the surface, C homestead, D/E/F contracted farmland,
    forest and grassland, G uninhabited island, H sea area, W use right
    undetermined or disputed, Y other.  */
static const char s_parcel_features[] = "ABCDEFGHSWXY";

/*  Longest part of a value quoted in a reason, in input bytes.  */
#define QUOTE_MAX 32

/*  Writes into buf (size bufsize, at least 8) a printable copy of value for
    a reason: printable ASCII as is, '"' and '\' escaped, other bytes as
    \xNN, cut after QUOTE_MAX input bytes with "...".  */
static void
s_quote (const char *value, char *buf, size_t bufsize)
{
    assert (bufsize >= 8);
    size_t out = 0;
    size_t in;
    for (in = 0; in < QUOTE_MAX && value[in]; in++) {
        unsigned char c = (unsigned char) value[in];
        char piece[8];
        if (c == '"' || c == '\\')
            snprintf (piece, sizeof piece, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            snprintf (piece, sizeof piece, "%c", c);
        else
            snprintf (piece, sizeof piece, "\\x%02X", c);
        size_t len = strlen (piece);
        if (out + len + 4 > bufsize)
            break; //  keep room for "..." and the NUL
        memcpy (buf + out, piece, len);
        out += len;
    }
    if (value[in]) {
        memcpy (buf + out, "...", 3);
        out += 3;
    }
    buf[out] = '\0';
}

/*  Writes "<what> \"<value>\": <reason>" into err when err is usable; with a
    NULL value writes "<what> is missing". Always returns false so that
    validators can "return s_fail (...)".  */
static bool IDENT_PRINTF (5, 6) s_fail (char *err, size_t errlen, const char *what,
                                        const char *value, const char *format, ...)
{
    if (!err || errlen == 0)
        return false;
    if (!value) {
        snprintf (err, errlen, "%s is missing", what);
        return false;
    }
    char quoted[QUOTE_MAX * 4 + 4];
    s_quote (value, quoted, sizeof quoted);
    char reason[IDENT_ERR_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    snprintf (err, errlen, "%s \"%s\": %s", what, quoted, reason);
    return false;
}

/*  Writes a description of the byte c for a reason into buf (size at least
    16): "character 'X'" for printable ASCII, else "byte 0xNN".  */
static const char *
s_describe (char c, char *buf, size_t bufsize)
{
    unsigned char u = (unsigned char) c;
    if (u >= 0x20 && u < 0x7f)
        snprintf (buf, bufsize, "character '%c'", c);
    else
        snprintf (buf, bufsize, "byte 0x%02X", u);
    return buf;
}

/*  True for an ASCII decimal digit, whatever the locale.  */
static bool
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

/*  True for an ASCII lower-case letter, whatever the locale.  */
static bool
s_is_lower (char c)
{
    return c >= 'a' && c <= 'z';
}

/*  True for an ASCII hexadecimal digit of either case.  */
static bool
s_is_hex (char c)
{
    return s_is_digit (c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*  Returns the GB 32100-2015 value (0..30) of c, or -1 when c is not in the
    code alphabet.  */
static int
s_credit_value (char c)
{
    if (c == '\0')
        return -1;
    const char *hit = strchr (s_credit_alphabet, c);
    return hit ? (int) (hit - s_credit_alphabet) : -1;
}

//  --------------------------------------------------------------------------
//  Returns the check character over the first 17 characters, or 0.

char
ident_credit_code_check_char (const char *first17)
{
    if (!first17)
        return 0;
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        int value = s_credit_value (first17[i]);
        if (value < 0)
            return 0; //  also stops at a NUL before position 17
        sum += value * s_credit_weights[i];
    }
    int check = 31 - sum % 31;
    return s_credit_alphabet[check == 31 ? 0 : check];
}

//  --------------------------------------------------------------------------
//  Appends the check character to body17; empty string if body17 is bad.

void
ident_credit_code_make (const char body17[17], char out[19])
{
    char check = ident_credit_code_check_char (body17);
    if (!check) {
        out[0] = '\0';
        return;
    }
    memcpy (out, body17, 17);
    out[17] = check;
    out[18] = '\0';
}

//  --------------------------------------------------------------------------
//  True when code is a valid unified social credit code.

bool
ident_credit_code_valid (const char *code, char *err, size_t errlen)
{
    static const char what[] = "credit code";
    if (!code)
        return s_fail (err, errlen, what, NULL, "%s", "");
    size_t length = strlen (code);
    if (length != IDENT_CREDIT_CODE_LEN)
        return s_fail (err, errlen, what, code, "length %zu, expected %d", length,
                       IDENT_CREDIT_CODE_LEN);

    char desc[16];
    for (int i = 0; i < IDENT_CREDIT_CODE_LEN; i++) {
        char c = code[i];
        if (s_is_lower (c))
            return s_fail (err, errlen, what, code,
                           "%s at position %d is lower case, expected upper case",
                           s_describe (c, desc, sizeof desc), i + 1);
        if (s_credit_value (c) < 0)
            return s_fail (err, errlen, what, code, "%s at position %d is not allowed",
                           s_describe (c, desc, sizeof desc), i + 1);
        if (i >= 2 && i < 8 && !s_is_digit (c))
            return s_fail (err, errlen, what, code,
                           "%s at position %d is not a digit "
                           "(administrative division, positions 3-8)",
                           s_describe (c, desc, sizeof desc), i + 1);
    }
    char expected = ident_credit_code_check_char (code);
    assert (expected); //  every character was checked above
    if (code[17] != expected)
        return s_fail (err, errlen, what, code, "check character is '%c', expected '%c'",
                       code[17], expected);
    return true;
}

//  --------------------------------------------------------------------------
//  True when unit is a valid real-estate unit code.

bool
ident_unit_number_valid (const char *unit, char *err, size_t errlen)
{
    static const char what[] = "unit number";
    if (!unit)
        return s_fail (err, errlen, what, NULL, "%s", "");
    size_t length = strlen (unit);
    if (length != IDENT_UNIT_NUMBER_LEN)
        return s_fail (err, errlen, what, unit, "length %zu, expected %d", length,
                       IDENT_UNIT_NUMBER_LEN);

    //  The digit-only parts, by 0-based start and end (exclusive).
    static const struct {
        int start;        //  first position, 0-based
        int end;          //  one past the last position
        const char *part; //  name used in the reason
    } digits[] = {
        {0, 6, "administrative division, positions 1-6"},
        {6, 9, "cadastral zone, positions 7-9"},
        {9, 12, "cadastral subzone, positions 10-12"},
        {14, 19, "parcel sequence, positions 15-19"},
        {20, 28, "fixture unit number, positions 21-28"},
    };
    char desc[16];
    for (size_t p = 0; p < sizeof digits / sizeof digits[0]; p++)
        for (int i = digits[p].start; i < digits[p].end; i++)
            if (!s_is_digit (unit[i]))
                return s_fail (
                    err, errlen, what, unit, "%s at position %d is not a digit (%s)",
                    s_describe (unit[i], desc, sizeof desc), i + 1, digits[p].part);

    char owner = unit[12];
    if (owner != 'G' && owner != 'J' && owner != 'Z')
        return s_fail (err, errlen, what, unit,
                       "%s at position 13 is not a parcel ownership code "
                       "(G, J or Z)",
                       s_describe (owner, desc, sizeof desc));
    char feature = unit[13];
    if (feature == '\0' || !strchr (s_parcel_features, feature))
        return s_fail (err, errlen, what, unit,
                       "%s at position 14 is not a parcel feature code "
                       "(one of %s)",
                       s_describe (feature, desc, sizeof desc), s_parcel_features);
    char fixture = unit[19];
    if (fixture != 'F' && fixture != 'L' && fixture != 'Q' && fixture != 'W')
        return s_fail (err, errlen, what, unit,
                       "%s at position 20 is not a fixture feature code "
                       "(F, L, Q or W)",
                       s_describe (fixture, desc, sizeof desc));
    if (fixture == 'W' && memcmp (unit + 20, "00000000", 8) != 0)
        return s_fail (err, errlen, what, unit,
                       "fixture code \"%.9s\" names no fixture, "
                       "expected \"W00000000\"",
                       unit + 19);
    return true;
}

//  --------------------------------------------------------------------------
//  True when code is a valid investment project code (2016 structure).

bool
ident_project_code_valid (const char *code, char *err, size_t errlen)
{
    static const char what[] = "project code";
    if (!code)
        return s_fail (err, errlen, what, NULL, "%s", "");
    size_t length = strlen (code);
    if (length != IDENT_PROJECT_CODE_LEN)
        return s_fail (err, errlen, what, code,
                       "length %zu, expected %d (YYYY-AAAAAA-II-TT-NNNNNN)", length,
                       IDENT_PROJECT_CODE_LEN);

    //  The parts, by 0-based start and end (exclusive); each is followed
    //  by a hyphen, except the last.
    static const struct {
        int start;
        int end;
        const char *part;
    } parts[] = {
        {0, 4, "year, positions 1-4"},
        {5, 11, "administrative division, positions 6-11"},
        {12, 14, "industry code, positions 13-14"},
        {15, 17, "project type, positions 16-17"},
        {18, 24, "serial number, positions 19-24"},
    };
    char desc[16];
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        for (int i = parts[p].start; i < parts[p].end; i++)
            if (!s_is_digit (code[i]))
                return s_fail (
                    err, errlen, what, code, "%s at position %d is not a digit (%s)",
                    s_describe (code[i], desc, sizeof desc), i + 1, parts[p].part);
        int hyphen = parts[p].end;
        if (hyphen < IDENT_PROJECT_CODE_LEN && code[hyphen] != '-')
            return s_fail (err, errlen, what, code,
                           "%s at position %d is not a hyphen (after the %.*s)",
                           s_describe (code[hyphen], desc, sizeof desc), hyphen + 1,
                           (int) strcspn (parts[p].part, ","), parts[p].part);
    }
    int year = (code[0] - '0') * 1000 + (code[1] - '0') * 100 + (code[2] - '0') * 10
               + (code[3] - '0');
    if (year < 2015 || year > 2099)
        return s_fail (err, errlen, what, code,
                       "year %.4s (positions 1-4) is not between 2015 and 2099", code);
    if (code[15] != '0' || code[16] < '1' || code[16] > '3')
        return s_fail (err, errlen, what, code,
                       "project type \"%.2s\" (positions 16-17) is not 01 (approval, "
                       "审批), 02 (verification, 核准) or 03 (filing, 备案)",
                       code + 15);
    return true;
}

//  --------------------------------------------------------------------------
//  Copies the administrative division of a unit number or credit code.

bool
ident_admin_division (const char *unit_or_code, char out[7])
{
    out[0] = '\0';
    if (!unit_or_code)
        return false;
    size_t length = strlen (unit_or_code);
    const char *division = NULL;
    if (length == IDENT_UNIT_NUMBER_LEN && ident_unit_number_valid (unit_or_code, NULL, 0))
        division = unit_or_code;
    else if (length == IDENT_CREDIT_CODE_LEN
             && ident_credit_code_valid (unit_or_code, NULL, 0))
        division = unit_or_code + 2;
    if (!division)
        return false;
    memcpy (out, division, 6);
    out[6] = '\0';
    return true;
}

//  --------------------------------------------------------------------------
//  True when s is a canonical 8-4-4-4-12 UUID.

bool
ident_uuid_valid (const char *s)
{
    if (!s || strlen (s) != IDENT_UUID_LEN)
        return false;
    for (int i = 0; i < IDENT_UUID_LEN; i++) {
        bool hyphen_here = i == 8 || i == 13 || i == 18 || i == 23;
        if (hyphen_here ? s[i] != '-' : !s_is_hex (s[i]))
            return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  True when s is an event type.

bool
ident_event_type_valid (const char *s, char *err, size_t errlen)
{
    static const char what[] = "event type";
    if (!s)
        return s_fail (err, errlen, what, NULL, "%s", "");
    size_t length = strlen (s);
    if (length == 0 || length > IDENT_EVENT_TYPE_MAX)
        return s_fail (err, errlen, what, s, "length %zu, expected 1 to %d", length,
                       IDENT_EVENT_TYPE_MAX);
    char desc[16];
    if (!s_is_lower (s[0]))
        return s_fail (err, errlen, what, s, "%s at position 1 is not a lower-case letter",
                       s_describe (s[0], desc, sizeof desc));
    for (size_t i = 1; i < length; i++) {
        char c = s[i];
        if (!s_is_lower (c) && !s_is_digit (c) && c != '_' && c != '.')
            return s_fail (err, errlen, what, s,
                           "%s at position %zu is not allowed "
                           "(a-z, 0-9, '_' and '.' are)",
                           s_describe (c, desc, sizeof desc), i + 1);
    }
    return true;
}

//  --------------------------------------------------------------------------
//  True when s is an agency code.

bool
ident_agency_code_valid (const char *s)
{
    if (!s)
        return false;
    size_t length = strlen (s);
    if (length == 0 || length > IDENT_AGENCY_CODE_MAX)
        return false;
    for (size_t i = 0; i < length; i++)
        if (!s_is_lower (s[i]) && !s_is_digit (s[i]) && s[i] != '_')
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  True when id is a valid citizen identity number.

bool
ident_citizen_id_valid (const char *id, char *err, size_t errlen)
{
    static const char what[] = "citizen id number";
    if (!id)
        return s_fail (err, errlen, what, NULL, "%s", "");
    size_t length = strlen (id);
    if (length != IDENT_CITIZEN_ID_LEN)
        return s_fail (err, errlen, what, id, "length %zu, expected %d", length,
                       IDENT_CITIZEN_ID_LEN);
    char desc[16];
    int sum = 0;
    for (int i = 0; i < IDENT_CITIZEN_ID_LEN - 1; i++) {
        if (!s_is_digit (id[i]))
            return s_fail (err, errlen, what, id, "%s at position %d is not a digit",
                           s_describe (id[i], desc, sizeof desc), i + 1);
        //  ISO 7064 MOD 11-2: position i (from 1) weighs 2^(18 - i) mod 11
        sum += (id[i] - '0') * ((1 << (IDENT_CITIZEN_ID_LEN - 1 - i)) % 11);
    }
    int year = 0, month = 0, day = 0;
    for (int i = 6; i < 10; i++)
        year = year * 10 + (id[i] - '0');
    month = (id[10] - '0') * 10 + (id[11] - '0');
    day = (id[12] - '0') * 10 + (id[13] - '0');
    static const int days_in[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1900 || month < 1 || month > 12 || day < 1 || day > days_in[month - 1]
        || (month == 2 && day == 29 && !leap))
        return s_fail (err, errlen, what, id,
                       "birth date \"%.8s\" at positions 7-14 is not a date YYYYMMDD from "
                       "1900 on",
                       id + 6);
    int check = (12 - sum % 11) % 11;
    char expected = check == 10 ? 'X' : (char) ('0' + check);
    if (id[17] != expected)
        return s_fail (err, errlen, what, id, "check character is %s, expected '%c'",
                       s_describe (id[17], desc, sizeof desc), expected);
    return true;
}
