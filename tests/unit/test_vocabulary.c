/*  test_vocabulary - the agencies' event types as the hub lists them

    The listing (vocabulary_json) must be exactly what the hub accepts: for
    every agency of the shipped definitions, its types are the ones
    validate_event_type lets through and names in a refusal (two separate
    derivations that must agree), each listed type passes and a near miss
    is refused. What each type does is checked against expectations
    written by hand from the files in workflows/; conditions are rendered as
    text; extra-event-types and agencies without types appear; the control
    socket answers "vocabulary" to a read-only operator.
*/

#include "vocabulary.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "hub_config.h"
#include "strbuf.h"
#include "validate.h"
#include "workflow_def.h"

#define UNIT_NAME "test_vocabulary"
#include "unit.h"

static hub_config_t s_config; //  the hub's defaults

static workflow_set_t *
s_load (const hub_config_t *config, const char *dir)
{
    static char err[16384];
    workflow_set_t *set = hub_config_load_workflows (config, dir, err, sizeof err);
    CHECK_MSG (set != NULL, err);
    return set;
}

static json_t *
s_vocabulary (const hub_config_t *config, const workflow_set_t *set)
{
    strbuf_t out;
    strbuf_init (&out);
    vocabulary_json (config, set, &out);
    json_error_t jerr;
    json_t *v = json_loads (out.data, 0, &jerr);
    CHECK_MSG (v != NULL, jerr.text);
    strbuf_free (&out);
    return v;
}

static json_t *
s_agency (json_t *v, const char *code)
{
    size_t i;
    json_t *a;
    json_array_foreach (json_object_get (v, "agencies"), i, a)
        if (STREQ (json_string_value (json_object_get (a, "agency")), code))
            return a;
    return NULL;
}

static json_t *
s_type (json_t *v, const char *agency, const char *type)
{
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get (s_agency (v, agency), "event_types"), i, t)
        if (STREQ (json_string_value (json_object_get (t, "event_type")), type))
            return t;
    return NULL;
}

static const char *
s_text (json_t *obj, const char *name)
{
    const char *s = json_string_value (json_object_get (obj, name));
    return s ? s : "(null)";
}

/*  The uses of agency's type as "workflow role step effect [when]" lines,
    joined by " | ", into buf.  */
static const char *
s_uses (json_t *v, const char *agency, const char *type, char *buf, size_t len)
{
    size_t used = 0, i;
    json_t *u;
    buf[0] = '\0';
    json_array_foreach (json_object_get (s_type (v, agency, type), "uses"), i, u) {
        used += (size_t) snprintf (buf + used, len - used, "%s%s %s %s %s", i ? " | " : "",
                                   s_text (u, "workflow"), s_text (u, "role"),
                                   s_text (u, "step"), s_text (u, "effect"));
        if (json_string_value (json_object_get (u, "when")))
            used += (size_t) snprintf (buf + used, len - used, " [%s]", s_text (u, "when"));
    }
    return buf;
}

static case_event_t
s_event (const char *agency, const char *type)
{
    case_event_t e = {.schema_version = ONENET_SCHEMA_VERSION,
                      .event_id = "0f8fad5b-d9cb-469f-a165-70867728950e",
                      .agency = agency,
                      .adapter_id = "it-1",
                      .case_no = "PY-1",
                      .event_type = type,
                      .occurred_at_ms = 1598923867000};
    return e;
}

//  --------------------------------------------------------------------------
//  The shipped definitions

static void
s_test_shipped (void)
{
    workflow_set_t *set = s_load (&s_config, UNIT_WORKFLOW_DIR);
    if (!set)
        return;
    json_t *v = s_vocabulary (&s_config, set);
    json_t *agencies = json_object_get (v, "agencies");

    //  every agency of the default setting, in byte order
    static const char *const codes[] = {"approval", "bank",   "gas",    "heat",
                                        "land",     "market", "police", "power",
                                        "social",   "tax",    "water"};
    CHECK (json_array_size (agencies) == sizeof codes / sizeof *codes);
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        CHECK_MSG (STREQ (s_text (json_array_get (agencies, i), "agency"), codes[i]),
                   codes[i]);

    //  each agency's types: sorted, each accepted, a near miss refused, and
    //  the list the hub's own refusal names is the same list
    size_t a, t;
    json_t *agency, *type;
    json_array_foreach (agencies, a, agency) {
        const char *code = s_text (agency, "agency");
        strbuf_t listed;
        strbuf_init (&listed);
        const char *previous = NULL;
        json_array_foreach (json_object_get (agency, "event_types"), t, type) {
            const char *name = s_text (type, "event_type");
            CHECK_MSG (!previous || strcmp (previous, name) < 0, name);
            previous = name;
            CHECK (!json_is_true (json_object_get (type, "extra")));
            CHECK_MSG (json_array_size (json_object_get (type, "uses")) > 0, name);
            verdict_t verdict;
            case_event_t e = s_event (code, name);
            CHECK_MSG (validate_event_type (&s_config, set, &e, &verdict), name);
            char miss[80];
            snprintf (miss, sizeof miss, "%sx", name);
            e.event_type = miss;
            CHECK_MSG (!validate_event_type (&s_config, set, &e, &verdict), miss);
            strbuf_printf (&listed, "%s%s", t ? ", " : "", name);
        }
        verdict_t verdict;
        case_event_t e = s_event (code, "no.such_type");
        CHECK (!validate_event_type (&s_config, set, &e, &verdict));
        const char *known = strstr (verdict.reason, "; known: ");
        CHECK_MSG (known && STREQ (known + 9, listed.len ? listed.data : "none"),
                   verdict.reason);
        strbuf_free (&listed);
    }

    //  by hand, from the files in workflows/
    char buf[2048];
    //  property_transfer.yaml: starts_on, step accepted, reopens_on
    CHECK_MSG (STREQ (s_uses (v, "land", "transfer.accepted", buf, sizeof buf),
                      "property_transfer start (null) (null) | "
                      "property_transfer step accepted (null) | "
                      "property_transfer reopen (null) (null)"),
               buf);
    CHECK_MSG (STREQ (s_uses (v, "land", "transfer.rejected", buf, sizeof buf),
                      "property_transfer reject (null) suspend"),
               buf);
    CHECK_MSG (STREQ (s_uses (v, "land", "transfer.withdrawn", buf, sizeof buf),
                      "property_transfer cancel (null) (null)"),
               buf);
    //  instant_registration.yaml: a refusal that ends the instance
    CHECK_MSG (STREQ (s_uses (v, "land", "seizure.rejected", buf, sizeof buf),
                      "instant_registration reject (null) end"),
               buf);
    //  mortgage_registration.yaml and property_transfer.yaml (a step when
    //  has_mortgage), in the order of the files
    CHECK_MSG (STREQ (s_uses (v, "land", "mortgage.registered", buf, sizeof buf),
                      "mortgage_registration step registered (null) | "
                      "property_transfer step mortgage_registered (null) "
                      "[has_mortgage = true]"),
               buf);
    //  bank_tax_credit_loan.yaml: starts when, and rejects when not
    CHECK_MSG (STREQ (s_uses (v, "tax", "credit_grade.shared", buf, sizeof buf),
                      "bank_tax_credit_loan start (null) (null) "
                      "[grade in (\"A\", \"B\", \"M\")] | "
                      "bank_tax_credit_loan step grade_shared (null) | "
                      "bank_tax_credit_loan reject (null) end "
                      "[not (grade in (\"A\", \"B\", \"M\"))]"),
               buf);
    //  power_connection.yaml: a step whose condition is an any
    CHECK_MSG (strstr (s_uses (v, "approval", "permit.issued", buf, sizeof buf),
                       "power_connection step permit_issued (null) [connection_class = "
                       "\"low_voltage_external\" or external_works = true]"),
               buf);
    //  the police send one type: the seal of enterprise_startup.yaml
    json_t *police = json_object_get (s_agency (v, "police"), "event_types");
    CHECK (json_array_size (police) == 1);
    CHECK_MSG (STREQ (s_uses (v, "police", "seal.made", buf, sizeof buf),
                      "enterprise_startup step seal_made (null)"),
               buf);
    json_t *seal = s_type (v, "police", "seal.made");
    json_t *use = json_array_get (json_object_get (seal, "uses"), 0);
    CHECK (STREQ (s_text (use, "title"), "印章刻制"));
    CHECK (json_integer_value (json_object_get (use, "version")) == 2); //  start-up v2
    //  the market's types: start-up application and licence; deregistration
    //  application, simplified notice published and ended, deregistered
    CHECK (json_array_size (json_object_get (s_agency (v, "market"), "event_types")) == 6);
    CHECK_MSG (STREQ (s_uses (v, "market", "startup.accepted", buf, sizeof buf),
                      "enterprise_startup start (null) (null) | "
                      "enterprise_startup step accepted (null)"),
               buf);
    //  social security: insured registration, employment registration, closure
    CHECK (json_array_size (json_object_get (s_agency (v, "social"), "event_types")) == 3);
    //  property_transfer is at version 3
    use = json_array_get (json_object_get (s_type (v, "land", "transfer.accepted"), "uses"),
                          0);
    CHECK (json_integer_value (json_object_get (use, "version")) == 3);
    //  the land registry's types, counted in the files: 4 per instant
    //  registration kind (3 kinds), 4 each for change, mortgage, transfer,
    //  first registration and advance notice
    CHECK (json_array_size (json_object_get (s_agency (v, "land"), "event_types")) == 32);
    //  deed tax is the tax bureau's, not the land registry's
    CHECK (s_type (v, "land", "deed_tax.paid") == NULL);
    CHECK (s_type (v, "tax", "deed_tax.paid") != NULL);

    json_decref (v);
    workflow_set_destroy (&set);
}

//  --------------------------------------------------------------------------
//  Conditions, extras, agencies without types

static void
s_test_conditions_and_extras (void)
{
    char dir[64], path[512];
    s_tmpdir_new (dir, sizeof dir, "/tmp/test_vocabulary.XXXXXX");
    s_file_write (dir, "demo.yaml",
                  "workflow: demo\n"
                  "version: 3\n"
                  "key: unit_number\n"
                  "starts_on:\n"
                  "  - {agency: land, event: b.started,"
                  " when: {attr: note, exists: false}}\n"
                  "  - {agency: land, event: b.started, when: {all: [{attr: n, equals: 2},"
                  " {any: [{attr: x, equals: 1.5}, {attr: y, exists: true}]}]}}\n"
                  "steps:\n"
                  "  - id: first\n"
                  "    agency: land\n"
                  "    completes_on: [b.started, a.done]\n"
                  "  - id: second\n"
                  "    title: 第二\n"
                  "    agency: tax\n"
                  "    completes_on: [c.done]\n"
                  "    after: [first]\n"
                  "    when: {not: {attr: kind, in: [x, 'y']}}\n"
                  "cancels_on:\n"
                  "  - {agency: tax, event: c.cancelled}\n",
                  path, sizeof path);
    hub_config_t config;
    char *argv[] = {"onenet-hub", "--agencies", "tax,land,nosuch,land",
                    "--extra-event-types", "land:survey.done, land:a.done,tax:a.b", NULL};
    CHECK (hub_config_load (&config, 5, argv) == 0);
    workflow_set_t *set = s_load (&config, dir);
    if (set) {
        json_t *v = s_vocabulary (&config, set);
        json_t *agencies = json_object_get (v, "agencies");
        //  sorted, each once, the one without types listed empty
        CHECK (json_array_size (agencies) == 3);
        CHECK (STREQ (s_text (json_array_get (agencies, 0), "agency"), "land"));
        CHECK (STREQ (s_text (json_array_get (agencies, 1), "agency"), "nosuch"));
        CHECK (STREQ (s_text (json_array_get (agencies, 2), "agency"), "tax"));
        CHECK (json_array_size (json_object_get (s_agency (v, "nosuch"), "event_types"))
               == 0);
        //  land: a.done (a step and an extra), b.started, survey.done (extra only)
        json_t *land = json_object_get (s_agency (v, "land"), "event_types");
        CHECK (json_array_size (land) == 3);
        CHECK (STREQ (s_text (json_array_get (land, 0), "event_type"), "a.done"));
        CHECK (STREQ (s_text (json_array_get (land, 1), "event_type"), "b.started"));
        CHECK (STREQ (s_text (json_array_get (land, 2), "event_type"), "survey.done"));
        CHECK (json_is_true (json_object_get (s_type (v, "land", "a.done"), "extra")));
        CHECK (json_is_false (json_object_get (s_type (v, "land", "b.started"), "extra")));
        json_t *survey = s_type (v, "land", "survey.done");
        CHECK (json_is_true (json_object_get (survey, "extra")));
        CHECK (json_array_size (json_object_get (survey, "uses")) == 0);
        char buf[2048];
        //  two starts_on entries of one pair: two uses, each with its condition
        CHECK_MSG (STREQ (s_uses (v, "land", "b.started", buf, sizeof buf),
                          "demo start (null) (null) [note is not given] | "
                          "demo start (null) (null) [n = 2 and (x = 1.5 or y is given)] | "
                          "demo step first (null)"),
                   buf);
        CHECK_MSG (STREQ (s_uses (v, "tax", "c.done", buf, sizeof buf),
                          "demo step second (null) [not (kind in (\"x\", \"y\"))]"),
                   buf);
        json_t *use = json_array_get (json_object_get (s_type (v, "tax", "c.done"), "uses"),
                                      0);
        CHECK (STREQ (s_text (use, "title"), "第二"));
        CHECK (json_integer_value (json_object_get (use, "version")) == 3);
        CHECK_MSG (STREQ (s_uses (v, "tax", "c.cancelled", buf, sizeof buf),
                          "demo cancel (null) (null)"),
                   buf);
        CHECK (s_type (v, "tax", "a.b") != NULL);
        //  what validate_event_type accepts, agency by agency
        static const struct {
            const char *agency, *type;
            bool accepted;
        } cases[] = {
            {"land", "a.done", true},      {"land", "b.started", true},
            {"land", "survey.done", true}, {"land", "c.done", false},
            {"tax", "c.done", true},       {"tax", "a.b", true},
            {"tax", "a.done", false},      {"nosuch", "a.done", false},
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            verdict_t verdict;
            case_event_t e = s_event (cases[i].agency, cases[i].type);
            bool listed = s_type (v, cases[i].agency, cases[i].type) != NULL;
            bool accepted = validate_event_type (&config, set, &e, &verdict);
            CHECK_MSG (accepted == cases[i].accepted, cases[i].type);
            CHECK_MSG (listed == cases[i].accepted, cases[i].type);
        }
        json_decref (v);
        workflow_set_destroy (&set);
    }
    const char *const names[] = {"demo.yaml"};
    s_tmpdir_remove (dir, names, 1);
}

//  --------------------------------------------------------------------------
//  The control socket's answer

static void
s_test_control (void)
{
    hub_status_t status = {.hub_id = "h", .vocabulary = "{\"agencies\":[]}"};
    strbuf_t reply;
    strbuf_init (&reply);
    CHECK (control_answer (&status, "vocabulary", 10, CONTROL_READ_ONLY, "alice", &reply)
           == CONTROL_ANSWERED);
    CHECK_MSG (STREQ (reply.data, "{\"agencies\":[]}"), reply.data);
    control_answer (&status, "vocabulary", 10, CONTROL_NONE, "unidentified", &reply);
    CHECK_MSG (strstr (reply.data, "refused") != NULL, reply.data);
    status.vocabulary = NULL;
    control_answer (&status, "vocabulary", 10, CONTROL_READ_WRITE, "bob", &reply);
    CHECK_MSG (strstr (reply.data, "\"error\"") != NULL, reply.data);
    control_answer (&status, "vocab", 5, CONTROL_READ_WRITE, "bob", &reply);
    CHECK_MSG (strstr (reply.data, "unknown request") && strstr (reply.data, "vocabulary"),
               reply.data);
    strbuf_free (&reply);
}

int
main (void)
{
    char *argv[] = {"onenet-hub", NULL};
    CHECK (hub_config_load (&s_config, 1, argv) == 0);
    s_test_shipped ();
    s_test_conditions_and_extras ();
    s_test_control ();
    return s_summary ();
}
