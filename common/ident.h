/*  ident.h - identifiers that onenet uses as correlation keys

    Pure functions: no allocation, no global state, safe from any thread.
    Validators that take (err, errlen) write a one-line, lower-case reason
    naming the identifier and the offending position into err when they
    return false; err may be NULL (or errlen 0) when the caller only needs
    the verdict. A NULL identifier is treated as invalid ("... is missing"),
    never as a programmer error: it comes from the wire.

    Standards:
      GB 32100-2015    unified social credit code (统一社会信用代码)
      GB/T 37346-2019  real-estate unit code (不动产单元代码)
      GB 11643-1999    citizen identity number (公民身份号码)
      investment project code (投资项目代码) of the national online platform
                       for investment project approval and supervision
                       (全国投资项目在线审批监管平台), its 2016 structure
*/

#ifndef ONENET_IDENT_H_INCLUDED
#define ONENET_IDENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Lengths of the fixed-length identifiers, without the terminating NUL.  */
#define IDENT_CREDIT_CODE_LEN 18
#define IDENT_UNIT_NUMBER_LEN 28
#define IDENT_PROJECT_CODE_LEN 24
#define IDENT_CITIZEN_ID_LEN  18
#define IDENT_UUID_LEN        36
#define IDENT_EVENT_TYPE_MAX  64
#define IDENT_AGENCY_CODE_MAX 32

/*  A buffer this large holds any reason the validators write.  */
#define IDENT_ERR_MAX 256

/*  True when code is a GB 32100-2015 unified social credit code: exactly 18
    characters from "0123456789ABCDEFGHJKLMNPQRTUWXY", positions 3-8 (the
    administrative division) decimal digits, and position 18 the check
    character over positions 1-17. Lower-case input is rejected, not folded:
    a key must compare equal byte for byte. Positions 1-2 (registration
    authority, organisation type) are checked against the alphabet only,
    because the authority tables grow. On false, writes a reason into err,
    e.g. credit code "9135...": check character is 'A', expected '3'.  */
bool ident_credit_code_valid (const char *code, char *err, size_t errlen);

/*  Returns the GB 32100-2015 check character for the first 17 characters
    of first17 (read no further, and not past a NUL), or 0 when one of them
    is not in the code alphabet.  */
char ident_credit_code_check_char (const char *first17);

/*  Writes body17 followed by its check character and a NUL into out, for
    tests and sample data. When body17 holds a character outside the code
    alphabet, out is set to the empty string.  */
void ident_credit_code_make (const char body17[17], char out[19]);

/*  True when unit is a GB/T 37346-2019 real-estate unit code of exactly 28
    characters:
      1-6    county-level administrative division, 6 digits
      7-12   cadastral zone (3 digits) and subzone (3 digits)
      13-19  parcel code: ownership G (state), J (collective) or Z
             (undetermined); parcel feature A B C D E F G H S W X Y;
             5-digit sequence
      20-28  fixture code: F (building), L (forest), Q (other) or W (none),
             then an 8-digit unit number, which is 00000000 for W
    On false, writes a reason into err naming the position and the part.  */
bool ident_unit_number_valid (const char *unit, char *err, size_t errlen);

/*  True when code is an investment project code (投资项目代码) of the
    structure the national online platform issued from 2016, exactly 24
    characters YYYY-AAAAAA-II-TT-NNNNNN:
      1-4    year the code was issued, 2015 to 2099
      5      '-'
      6-11   administrative division, 6 digits
      12     '-'
      13-14  industry code, 2 digits
      15     '-'
      16-17  project type: 01 审批 (approval), 02 核准 (verification),
             03 备案 (filing)
      18     '-'
      19-24  serial number, 6 digits
    No check character is verified: the 2016 structure has none. GB/T
    40058-2021 codes carry one whose algorithm is not checked here (see
    docs/protocol.md, section 4.6). On false, writes a reason into err
    naming the position and the part, e.g. project code "2020-6404...":
    character 'A' at position 9 is not a digit (administrative division,
    positions 6-11).  */
bool ident_project_code_valid (const char *code, char *err, size_t errlen);

/*  Copies the 6-digit administrative division of a valid unit number
    (positions 1-6) or of a valid credit code (positions 3-8) into out,
    NUL-terminated, and returns true. Returns false and sets out to the
    empty string when unit_or_code is neither.  */
bool ident_admin_division (const char *unit_or_code, char out[7]);

/*  True when s is a UUID in canonical text form: 36 characters, 8-4-4-4-12
    hexadecimal digits (either case) separated by hyphens.  */
bool ident_uuid_valid (const char *s);

/*  True when s is an event type: 1 to 64 characters of [a-z0-9_.] that
    start with a letter ("transfer.registered"). On false, writes a reason
    into err.  */
bool ident_event_type_valid (const char *s, char *err, size_t errlen);

/*  True when id is a GB 11643-1999 citizen identity number: exactly 18
    characters, positions 1-17 decimal digits (1-6 the division where it
    was issued, 7-14 a birth date YYYYMMDD that exists, from 1900 on),
    position 18 the ISO 7064 MOD 11-2 check character, a digit or an
    upper-case 'X'. On false, writes a reason into err, e.g.
    citizen id number "6404...": check character is '4', expected '7'.  */
bool ident_citizen_id_valid (const char *id, char *err, size_t errlen);

/*  True when s is an agency code: 1 to 32 characters of [a-z0-9_].  */
bool ident_agency_code_valid (const char *s);

#ifdef __cplusplus
}
#endif

#endif
