/*  test_ident.c - unit tests for common/ident.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. The GB 32100-2015 check character is also computed here by an
    independent reference (weights built by repeated multiplication) and
    compared with the library over many generated codes.
*/

#include "ident.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define UNIT_NAME "test_ident"
#include "unit.h"

/*  Checks that validator fn accepts value.  */
#define CHECK_OK(fn, value)                                                                \
    do {                                                                                   \
        char err_[IDENT_ERR_MAX] = "";                                                     \
        s_check (fn ((value), err_, sizeof err_), #fn " accepts \"" value "\"", err_,      \
                 __FILE__, __LINE__);                                                      \
    } while (0)

/*  Checks that validator fn rejects value with a reason containing want.  */
#define CHECK_BAD(fn, value, want)                                                         \
    s_check_bad (fn ((value), err_buf, sizeof err_buf), #fn, (value), err_buf, (want),     \
                 __FILE__, __LINE__)

static char err_buf[IDENT_ERR_MAX]; //  reason written by CHECK_BAD cases

/*  Counts one rejection case: ok must be false and err must contain want.  */
static void
s_check_bad (bool ok, const char *fn, const char *value, const char *err, const char *want,
             const char *file, int line)
{
    char what[256];
    snprintf (what, sizeof what, "%s rejects \"%s\" with \"%s\"", fn,
              value ? value : "(null)", want);
    char detail[IDENT_ERR_MAX + 32];
    if (ok)
        snprintf (detail, sizeof detail, "accepted");
    else
        snprintf (detail, sizeof detail, "reason was: %s", err);
    s_check (!ok && strstr (err, want) != NULL, what, detail, file, line);
    err_buf[0] = '\0';
}

/*  Reference check character: weights 3^(i-1) mod 31 built step by step.  */
static char
s_reference_check (const char *body)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    int weight = 1;
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        sum += (int) (strchr (alphabet, body[i]) - alphabet) * weight;
        weight = weight * 3 % 31;
    }
    return alphabet[(31 - sum % 31) % 31];
}

/*  Credit codes: real ones, each kind of fault, the reasons' wording,
    check_char and make, and agreement with the reference.  */
static void
s_test_credit_code (void)
{
    //  Published codes of real enterprises, and codes that exercise the
    //  31 -> '0' rule and the last alphabet letter.
    CHECK_OK (ident_credit_code_valid, "91350100M000100Y43");
    CHECK_OK (ident_credit_code_valid, "91110000600037341L");
    CHECK_OK (ident_credit_code_valid, "91440300708461136T");
    CHECK_OK (ident_credit_code_valid, "91110108551385082Q");
    CHECK_OK (ident_credit_code_valid, "914403001922038216");
    CHECK_OK (ident_credit_code_valid, "916404253682LJGL20");
    CHECK_OK (ident_credit_code_valid, "9164042537G88N7D4Y");
    CHECK_OK (ident_credit_code_valid, "91640425MA76XH3K19");

    //  Length.
    CHECK_BAD (ident_credit_code_valid, "91350100M000100Y4",
               "credit code \"91350100M000100Y4\": length 17, expected 18");
    CHECK_BAD (ident_credit_code_valid, "91350100M000100Y433", "length 19, expected 18");
    CHECK_BAD (ident_credit_code_valid, "", "credit code \"\": length 0, expected 18");
    CHECK_BAD (ident_credit_code_valid, NULL, "credit code is missing");

    //  The five letters the standard leaves out, and other bytes.
    CHECK_BAD (ident_credit_code_valid, "91350100I000100Y43",
               "character 'I' at position 9 is not allowed");
    CHECK_BAD (ident_credit_code_valid, "91350100MO00100Y43",
               "character 'O' at position 10 is not allowed");
    CHECK_BAD (ident_credit_code_valid, "91350100M000100Z43",
               "character 'Z' at position 16 is not allowed");
    CHECK_BAD (ident_credit_code_valid, "S1350100M000100Y43",
               "character 'S' at position 1 is not allowed");
    CHECK_BAD (ident_credit_code_valid, "91350100M000100Y4V",
               "character 'V' at position 18 is not allowed");
    CHECK_BAD (ident_credit_code_valid, "91350100M000 00Y43",
               "character ' ' at position 13 is not allowed");
    CHECK_BAD (ident_credit_code_valid, "91350100M000-00Y43",
               "character '-' at position 13 is not allowed");
    CHECK_BAD (ident_credit_code_valid, "91350100M0001\xc3\xa9Y43",
               "byte 0xC3 at position 14 is not allowed");

    //  Lower case is rejected, not folded.
    CHECK_BAD (ident_credit_code_valid, "91350100m000100y43",
               "character 'm' at position 9 is lower case, expected upper case");
    CHECK_BAD (ident_credit_code_valid, "91110000600037341l", "position 18 is lower case");

    //  Administrative division must be digits.
    CHECK_BAD (ident_credit_code_valid, "91A50100M000100Y43",
               "character 'A' at position 3 is not a digit (administrative division");

    //  Check character.
    CHECK_BAD (ident_credit_code_valid, "91350100M000100Y4A",
               "credit code \"91350100M000100Y4A\": check character is 'A', expected '3'");
    CHECK_BAD (ident_credit_code_valid, "91110000600037341K",
               "check character is 'K', expected 'L'");
    CHECK_BAD (ident_credit_code_valid, "91350100M000100Y53", //  one char changed
               "expected");
    CHECK_BAD (ident_credit_code_valid, "19350100M000100Y43", //  transposition
               "check character is '3'");

    //  Without an error buffer, or with a tiny one.
    CHECK (!ident_credit_code_valid ("91350100M000100Y4A", NULL, 0));
    CHECK (ident_credit_code_valid ("91350100M000100Y43", NULL, 0));
    char tiny[8] = "xxxxxxx";
    CHECK (!ident_credit_code_valid ("91350100M000100Y4A", tiny, sizeof tiny));
    CHECK (strcmp (tiny, "credit ") == 0);

    //  Long and binary values are quoted shortened and escaped, and the
    //  reason still fits in IDENT_ERR_MAX.
    char junk[101];
    memset (junk, 0x01, 100);
    junk[100] = '\0';
    char err[IDENT_ERR_MAX];
    CHECK (!ident_credit_code_valid (junk, err, sizeof err));
    CHECK (strstr (err, "\\x01\\x01") != NULL);
    CHECK (strstr (err, "...\": length 100, expected 18") != NULL);
    CHECK (!ident_credit_code_valid ("9135\"100M000100Y43", err, sizeof err));
    CHECK (strstr (err, "\"9135\\\"100M000100Y43\"") != NULL);

    //  check_char and make.
    CHECK (ident_credit_code_check_char ("91350100M000100Y4") == '3');
    CHECK (ident_credit_code_check_char ("91350100M000100Y43") == '3');
    CHECK (ident_credit_code_check_char ("916404253682LJGL2") == '0');
    CHECK (ident_credit_code_check_char ("91350100M000100") == 0);
    CHECK (ident_credit_code_check_char ("91350100I000100Y4") == 0);
    CHECK (ident_credit_code_check_char ("91350100m000100Y4") == 0);
    CHECK (ident_credit_code_check_char (NULL) == 0);
    char code[19];
    ident_credit_code_make ("52640425MJ1234567", code);
    CHECK (strcmp (code, "52640425MJ1234567L") == 0);
    CHECK (ident_credit_code_valid (code, NULL, 0));
    ident_credit_code_make ("12640425455300012", code);
    CHECK (strcmp (code, "126404254553000123") == 0);
    ident_credit_code_make ("91640425MA76XO3K1", code);
    CHECK (code[0] == '\0');

    //  The library agrees with the reference on many generated bodies, and
    //  every single-character change of a valid code is caught.
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    uint32_t state = 20200901;
    int disagree = 0;
    int missed = 0;
    for (int n = 0; n < 20000; n++) {
        char body[18] = "91640425";
        for (int i = 8; i < 17; i++) {
            state = state * 1103515245u + 12345u;
            body[i] = alphabet[(state >> 16) % 31];
        }
        body[17] = '\0';
        ident_credit_code_make (body, code);
        if (code[17] != s_reference_check (body)
            || !ident_credit_code_valid (code, NULL, 0))
            disagree++;
        int where = (int) ((state >> 8) % 17);
        char changed = code[where];
        code[where] =
            alphabet[(strchr (alphabet, changed) - alphabet + 1 + (state % 30)) % 31];
        if (where >= 2 && where < 8)
            code[where] = (char) ('0' + (changed - '0' + 1) % 10);
        if (ident_credit_code_valid (code, NULL, 0))
            missed++;
    }
    CHECK (disagree == 0);
    CHECK (missed == 0);
}

/*  Unit numbers: valid ones of each kind, and one fault in each part.  */
static void
s_test_unit_number (void)
{
    //  640425 Pengyang county, zone 001 subzone 002, state construction land
    //  parcel 00123, building 0001 unit 0001.
    CHECK_OK (ident_unit_number_valid, "640425"
                                       "001002"
                                       "GB00123"
                                       "F00010001");
    CHECK_OK (ident_unit_number_valid, "640425"
                                       "003001"
                                       "JC00045"
                                       "F00020003");
    CHECK_OK (ident_unit_number_valid, "640425"
                                       "002004"
                                       "JA00001"
                                       "W00000000");
    CHECK_OK (ident_unit_number_valid, "640425"
                                       "105012"
                                       "GS00310"
                                       "F99990001");
    CHECK_OK (ident_unit_number_valid, "640425"
                                       "007003"
                                       "JE00077"
                                       "L00000012");
    CHECK_OK (ident_unit_number_valid, "640425"
                                       "001001"
                                       "ZW00009"
                                       "Q00000001");
    CHECK_OK (ident_unit_number_valid, "350203"
                                       "001001"
                                       "GH00002"
                                       "W00000000");

    CHECK_BAD (ident_unit_number_valid, NULL, "unit number is missing");
    CHECK_BAD (ident_unit_number_valid, "640425001002GB00123F0001000",
               "unit number \"640425001002GB00123F0001000\": length 27, expected 28");
    CHECK_BAD (ident_unit_number_valid, "640425001002GB00123F000100011",
               "length 29, expected 28");
    CHECK_BAD (ident_unit_number_valid, "", "length 0, expected 28");

    //  One fault in each part.
    CHECK_BAD (ident_unit_number_valid, "64042A001002GB00123F00010001",
               "character 'A' at position 6 is not a digit (administrative division, "
               "positions 1-6)");
    CHECK_BAD (
        ident_unit_number_valid, "6404250O1002GB00123F00010001",
        "character 'O' at position 8 is not a digit (cadastral zone, positions 7-9)");
    CHECK_BAD (
        ident_unit_number_valid, "640425001 02GB00123F00010001",
        "character ' ' at position 10 is not a digit (cadastral subzone, positions 10-12)");
    CHECK_BAD (ident_unit_number_valid, "640425001002XB00123F00010001",
               "character 'X' at position 13 is not a parcel ownership code (G, J or Z)");
    CHECK_BAD (ident_unit_number_valid, "640425001002gb00123F00010001",
               "character 'g' at position 13 is not a parcel ownership code");
    CHECK_BAD (ident_unit_number_valid, "640425001002GZ00123F00010001",
               "character 'Z' at position 14 is not a parcel feature code");
    CHECK_BAD (ident_unit_number_valid, "640425001002G100123F00010001",
               "character '1' at position 14 is not a parcel feature code");
    CHECK_BAD (
        ident_unit_number_valid, "640425001002GB001A3F00010001",
        "character 'A' at position 18 is not a digit (parcel sequence, positions 15-19)");
    CHECK_BAD (ident_unit_number_valid, "640425001002GB00123G00010001",
               "character 'G' at position 20 is not a fixture feature code (F, L, Q or W)");
    CHECK_BAD (ident_unit_number_valid, "640425001002GB00123f00010001",
               "character 'f' at position 20 is not a fixture feature code");
    CHECK_BAD (ident_unit_number_valid, "640425001002GB00123F0001000X",
               "character 'X' at position 28 is not a digit (fixture unit number, "
               "positions 21-28)");
    CHECK_BAD (ident_unit_number_valid, "640425001002GB00123W00010001",
               "fixture code \"W00010001\" names no fixture, expected \"W00000000\"");
    CHECK_BAD (ident_unit_number_valid,
               "\xe5\xbd\xad"
               "425001002GB00123F00010001",
               "byte 0xE5 at position 1 is not a digit");
    CHECK (!ident_unit_number_valid ("640425001002GB00123G00010001", NULL, 0));
}

/*  Investment project codes (2016 structure): valid ones of each project
    type and the ends of the year range, and one fault in each part.  */
static void
s_test_project_code (void)
{
    //  issued 2020 in Pengyang (640425), industry 47, 审批 / 核准 / 备案
    CHECK_OK (ident_project_code_valid, "2020-640425-47-01-000123");
    CHECK_OK (ident_project_code_valid, "2020-640425-47-02-000124");
    CHECK_OK (ident_project_code_valid, "2020-640425-44-03-000201");
    CHECK_OK (ident_project_code_valid, "2015-110105-00-03-000000");
    CHECK_OK (ident_project_code_valid, "2099-650000-99-01-999999");

    CHECK_BAD (ident_project_code_valid, NULL, "project code is missing");
    CHECK_BAD (ident_project_code_valid, "", "project code \"\": length 0, expected 24");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-01-00012",
               "project code \"2020-640425-47-01-00012\": length 23, expected 24 "
               "(YYYY-AAAAAA-II-TT-NNNNNN)");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-01-0001234",
               "length 25, expected 24");
    //  without its hyphens: 20 characters
    CHECK_BAD (ident_project_code_valid, "20206404254701000123", "length 20, expected 24");

    //  one fault in each part, and at each hyphen
    CHECK_BAD (ident_project_code_valid, "202O-640425-47-01-000123",
               "character 'O' at position 4 is not a digit (year, positions 1-4)");
    CHECK_BAD (ident_project_code_valid, "2020_640425-47-01-000123",
               "character '_' at position 5 is not a hyphen (after the year)");
    CHECK_BAD (ident_project_code_valid, "2020-6404A5-47-01-000123",
               "character 'A' at position 10 is not a digit (administrative division, "
               "positions 6-11)");
    CHECK_BAD (ident_project_code_valid, "2020-640425 47-01-000123",
               "character ' ' at position 12 is not a hyphen (after the administrative "
               "division)");
    CHECK_BAD (ident_project_code_valid, "2020-640425-4E-01-000123",
               "character 'E' at position 14 is not a digit (industry code, "
               "positions 13-14)");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47/01-000123",
               "character '/' at position 15 is not a hyphen (after the industry code)");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-0l-000123",
               "character 'l' at position 17 is not a digit (project type, "
               "positions 16-17)");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-01+000123",
               "character '+' at position 18 is not a hyphen (after the project type)");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-01-00012X",
               "character 'X' at position 24 is not a digit (serial number, "
               "positions 19-24)");
    //  the first fault is named when there are several
    CHECK_BAD (ident_project_code_valid, "2020-64042X-4X-01-00012X", "position 11 ");

    //  year out of range
    CHECK_BAD (ident_project_code_valid, "2014-640425-47-01-000123",
               "year 2014 (positions 1-4) is not between 2015 and 2099");
    CHECK_BAD (ident_project_code_valid, "2100-640425-47-01-000123",
               "year 2100 (positions 1-4)");
    CHECK_BAD (ident_project_code_valid, "0000-640425-47-01-000123", "year 0000");

    //  project type other than 01, 02, 03
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-04-000123",
               "project type \"04\" (positions 16-17) is not 01 (approval, 审批), "
               "02 (verification, 核准) or 03 (filing, 备案)");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-00-000123", "project type \"00\"");
    CHECK_BAD (ident_project_code_valid, "2020-640425-47-11-000123", "project type \"11\"");

    //  a full-width hyphen (U+FF0D, 3 bytes) is not a hyphen; at the right
    //  length it is named by its first byte
    CHECK_BAD (ident_project_code_valid,
               "2020\xef\xbc\x8d"
               "640425-47-01-0001",
               "byte 0xEF at position 5 is not a hyphen (after the year)");
    CHECK (!ident_project_code_valid ("2020-640425-47-04-000123", NULL, 0));
    CHECK (ident_project_code_valid ("2020-640425-47-03-000123", NULL, 0));
}

/*  Division taken from a unit number or a credit code, and refusals.  */
static void
s_test_admin_division (void)
{
    char division[7] = "junk";
    CHECK (ident_admin_division ("640425001002GB00123F00010001", division));
    CHECK (strcmp (division, "640425") == 0);
    CHECK (ident_admin_division ("91350100M000100Y43", division));
    CHECK (strcmp (division, "350100") == 0);
    CHECK (!ident_admin_division ("91350100M000100Y4A", division));
    CHECK (division[0] == '\0');
    CHECK (!ident_admin_division ("640425001002XB00123F00010001", division));
    CHECK (!ident_admin_division ("640425", division));
    CHECK (!ident_admin_division ("", division));
    CHECK (!ident_admin_division (NULL, division));
    CHECK (division[0] == '\0');
}

/*  Canonical UUID text form only.  */
static void
s_test_uuid (void)
{
    CHECK (ident_uuid_valid ("0f8fad5b-d9cb-469f-a165-70867728950e"));
    CHECK (ident_uuid_valid ("7C9E6679-7425-40DE-944B-E07FC1F90AE7"));
    CHECK (ident_uuid_valid ("7c9E6679-7425-40de-944B-e07fc1f90ae7"));
    CHECK (ident_uuid_valid ("00000000-0000-0000-0000-000000000000"));
    CHECK (!ident_uuid_valid ("0f8fad5b-d9cb-469f-a165-70867728950"));
    CHECK (!ident_uuid_valid ("0f8fad5b-d9cb-469f-a165-70867728950e0"));
    CHECK (!ident_uuid_valid ("0f8fad5bd9cb-469f-a165-70867728950e0"));
    CHECK (!ident_uuid_valid ("0f8fad5b-d9cb-469f-a16570867728950e0"));
    CHECK (!ident_uuid_valid ("0f8fad5bd9cb469fa16570867728950e"));
    CHECK (!ident_uuid_valid ("0f8fad5g-d9cb-469f-a165-70867728950e"));
    CHECK (!ident_uuid_valid ("{0f8fad5b-d9cb-469f-a165-70867728950}"));
    CHECK (!ident_uuid_valid ("0f8fad5b d9cb 469f a165 70867728950e"));
    CHECK (!ident_uuid_valid (""));
    CHECK (!ident_uuid_valid (NULL));
}

/*  Citizen id numbers: check characters (digit and X), dates, the
    reasons' wording.  */
static void
s_test_citizen_id (void)
{
    //  check characters computed by hand: 2^(18-i) mod 11 weights, (12 - sum) mod 11
    CHECK (ident_citizen_id_valid ("640425199001011238", NULL, 0));
    CHECK (ident_citizen_id_valid ("640425198703120012", NULL, 0));
    CHECK (ident_citizen_id_valid ("11010519491231002X", NULL, 0));
    CHECK_OK (ident_citizen_id_valid, "640425200002290027"); //  29 February 2000
    CHECK_BAD (ident_citizen_id_valid, "640425199001011234", "check character is "
               "character '4', expected '8'");
    CHECK_BAD (ident_citizen_id_valid, "11010519491231002x", "expected 'X'");
    CHECK_BAD (ident_citizen_id_valid, "64042519900101123", "length 17, expected 18");
    CHECK_BAD (ident_citizen_id_valid, "6404251990010112388", "length 19, expected 18");
    CHECK_BAD (ident_citizen_id_valid, "64042519900101A238",
               "character 'A' at position 15 is not a digit");
    CHECK_BAD (ident_citizen_id_valid, "640425199013011235", "birth date \"19901301\"");
    CHECK_BAD (ident_citizen_id_valid, "64042519010229001X", "birth date \"19010229\"");
    CHECK_BAD (ident_citizen_id_valid, "640425189001011239", "from 1900 on");
    CHECK_BAD (ident_citizen_id_valid, "", "length 0");
    CHECK_BAD (ident_citizen_id_valid, NULL, "citizen id number is missing");
}

/*  Event types: length, first character, alphabet.  */
static void
s_test_event_type (void)
{
    CHECK_OK (ident_event_type_valid, "transfer.accepted");
    CHECK_OK (ident_event_type_valid, "deed_tax.paid");
    CHECK_OK (ident_event_type_valid, "connection.completed");
    CHECK_OK (ident_event_type_valid, "a");
    CHECK_OK (ident_event_type_valid, "v2.credit_grade.shared");
    CHECK_OK (ident_event_type_valid,
              "a123456789012345678901234567890123456789012345678901234567890123");
    CHECK_BAD (ident_event_type_valid,
               "a1234567890123456789012345678901234567890123456789012345678901234",
               "length 65, expected 1 to 64");
    CHECK_BAD (ident_event_type_valid, "", "event type \"\": length 0, expected 1 to 64");
    CHECK_BAD (ident_event_type_valid, NULL, "event type is missing");
    CHECK_BAD (ident_event_type_valid, "Transfer.accepted",
               "character 'T' at position 1 is not a lower-case letter");
    CHECK_BAD (ident_event_type_valid, "1transfer",
               "position 1 is not a lower-case letter");
    CHECK_BAD (ident_event_type_valid, "_transfer",
               "position 1 is not a lower-case letter");
    CHECK_BAD (ident_event_type_valid, ".transfer",
               "position 1 is not a lower-case letter");
    CHECK_BAD (ident_event_type_valid, "transfer-accepted",
               "character '-' at position 9 is not allowed");
    CHECK_BAD (ident_event_type_valid, "transfer.Accepted",
               "character 'A' at position 10 is not allowed");
    CHECK_BAD (ident_event_type_valid, "transfer accepted", "position 9 is not allowed");
}

/*  Agency codes: length and alphabet.  */
static void
s_test_agency_code (void)
{
    CHECK (ident_agency_code_valid ("tax"));
    CHECK (ident_agency_code_valid ("land"));
    CHECK (ident_agency_code_valid ("social_security"));
    CHECK (ident_agency_code_valid ("bank_icbc2"));
    CHECK (ident_agency_code_valid ("2"));
    CHECK (ident_agency_code_valid ("abcdefghijklmnopqrstuvwxyz012345"));
    CHECK (!ident_agency_code_valid ("abcdefghijklmnopqrstuvwxyz0123456"));
    CHECK (!ident_agency_code_valid (""));
    CHECK (!ident_agency_code_valid (NULL));
    CHECK (!ident_agency_code_valid ("Tax"));
    CHECK (!ident_agency_code_valid ("social-security"));
    CHECK (!ident_agency_code_valid ("land.registry"));
    CHECK (!ident_agency_code_valid ("tax "));
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_credit_code ();
    s_test_unit_number ();
    s_test_project_code ();
    s_test_admin_division ();
    s_test_uuid ();
    s_test_citizen_id ();
    s_test_event_type ();
    s_test_agency_code ();
    return s_summary ();
}
