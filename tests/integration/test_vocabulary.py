"""hubctl workflows --vocabulary: the event types each agency may send.

Against a running hub (its control socket) the listing must be exactly
what the hub accepts: every listed type is STORED, an unlisted one is
REJECTED and named nowhere in the list, and the hub's own refusal names
the same list. The expectations for a few agencies are written by hand
from workflows/*.yaml. docs/vocabulary.md must hold what the definitions
give (tests/vocabulary-doc.sh regenerates it)."""
import json
import re
import shutil
import subprocess

from conftest import ROOT, build_path, free_port, make_event, start_hub

EXTRAS = "land:survey.done,tax:invoice.voided"

# Written from the files in workflows/, not from the code under test.
# land: instant_registration (seizure, objection, cancellation: accepted
# starts and completes "accepted", registered completes "registered",
# rejected rejects, withdrawn cancels), land_change_registration (change.*),
# general_registration (first_registration.*, advance_notice.*),
# mortgage_registration (mortgage.*), property_transfer (transfer.*; and
# mortgage.registered for its mortgage_registered step); survey.done is
# the hub's extra-event-types.
LAND = sorted(
    [f"{kind}.{what}" for kind in ("seizure", "objection", "cancellation", "change",
                                   "mortgage", "transfer", "first_registration",
                                   "advance_notice")
     for what in ("accepted", "registered", "rejected", "withdrawn")]
    + ["survey.done"])
# tax: bank_tax_credit_loan (credit_grade.shared), property_transfer
# (deed_tax.assessed, deed_tax.paid), enterprise_deregistration
# (deregistration.cleared), enterprise_startup (invoice.issued), tax_refund
# (refund.approved); invoice.voided is an extra.
TAX = ["credit_grade.shared", "deed_tax.assessed", "deed_tax.paid",
       "deregistration.cleared", "invoice.issued", "invoice.voided", "refund.approved"]
# bank: bank_tax_credit_loan (loan.applied, loan.decided),
# enterprise_deregistration (account.closed), enterprise_startup
# (account.opened), mortgage_registration and property_transfer
# (mortgage.filed), tax_refund (refund.received).
BANK = ["account.closed", "account.opened", "loan.applied", "loan.decided",
        "mortgage.filed", "refund.received"]
# power: power_connection (connection.accepted, connection.completed),
# property_transfer (account.transferred), construction_approval
# (project.acknowledged).
POWER = ["account.transferred", "connection.accepted", "connection.completed",
         "project.acknowledged"]
# approval: construction_approval (project.accepted, .approved, .filed,
# .rejected, .withdrawn; planning_permit, drawing_review and
# construction_permit, each .applied or .submitted and .issued or .passed),
# and the utilities' connections (permit.issued).
APPROVAL = ["construction_permit.applied", "construction_permit.issued",
            "drawing_review.passed", "drawing_review.submitted", "permit.issued",
            "planning_permit.applied", "planning_permit.issued", "project.accepted",
            "project.approved", "project.filed", "project.rejected", "project.withdrawn"]
# police: enterprise_startup's seal_made step.
POLICE = ["seal.made"]
# The hub's default agencies, sorted.
AGENCIES = ["approval", "bank", "gas", "heat", "land", "market", "police", "power",
            "social", "tax", "water"]

BEGIN = "<!-- BEGIN generated vocabulary"
END = "<!-- END generated vocabulary -->"


def hubctl(*args, json_out=False):
    argv = [build_path("hubctl")] + (["--json"] if json_out else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def types_of(vocabulary, agency):
    (entry,) = [a for a in vocabulary["agencies"] if a["agency"] == agency]
    return [t["event_type"] for t in entry["event_types"]]


def uses_of(vocabulary, agency, event_type):
    (entry,) = [a for a in vocabulary["agencies"] if a["agency"] == agency]
    (t,) = [t for t in entry["event_types"] if t["event_type"] == event_type]
    return [(u["workflow"], u["role"], u["step"], u["effect"], u["when"]) for u in t["uses"]]


def test_vocabulary_of_a_running_hub(pb, db, procs, hub_client, tmp_path):
    control = f"tcp://127.0.0.1:{free_port()}"
    hub = start_hub(procs, db, extra=("--control", control, "--extra-event-types", EXTRAS))

    r = hubctl("workflows", "--vocabulary", "--control", control, json_out=True)
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    assert [a["agency"] for a in v["agencies"]] == AGENCIES
    assert types_of(v, "land") == LAND
    assert types_of(v, "tax") == TAX
    assert types_of(v, "bank") == BANK
    assert types_of(v, "power") == POWER
    assert types_of(v, "police") == POLICE
    assert types_of(v, "approval") == APPROVAL
    for agency in v["agencies"]:
        names = [t["event_type"] for t in agency["event_types"]]
        assert names == sorted(names) and len(set(names)) == len(names)

    # how, by hand from property_transfer.yaml, mortgage_registration.yaml,
    # instant_registration.yaml and bank_tax_credit_loan.yaml
    assert uses_of(v, "land", "transfer.accepted") == [
        ("property_transfer", "start", None, None, None),
        ("property_transfer", "step", "accepted", None, None),
        ("property_transfer", "reopen", None, None, None)]
    assert uses_of(v, "land", "transfer.rejected") == [
        ("property_transfer", "reject", None, "suspend", None)]
    assert uses_of(v, "land", "objection.rejected") == [
        ("instant_registration", "reject", None, "end", None)]
    assert uses_of(v, "land", "cancellation.withdrawn") == [
        ("instant_registration", "cancel", None, None, None)]
    assert uses_of(v, "land", "mortgage.registered") == [
        ("mortgage_registration", "step", "registered", None, None),
        ("property_transfer", "step", "mortgage_registered", None, "has_mortgage = true")]
    assert uses_of(v, "bank", "mortgage.filed") == [
        ("mortgage_registration", "start", None, None, None),
        ("mortgage_registration", "step", "filed", None, None),
        ("property_transfer", "step", "mortgage_filed", None, "has_mortgage = true")]
    grades = 'grade in ("A", "B", "M")'
    assert uses_of(v, "tax", "credit_grade.shared") == [
        ("bank_tax_credit_loan", "start", None, None, grades),
        ("bank_tax_credit_loan", "step", "grade_shared", None, None),
        ("bank_tax_credit_loan", "reject", None, "end", f"not ({grades})")]
    # by hand from construction_approval.yaml: the planning application is
    # also the moment a project that is not filed is pushed to the utilities
    assert uses_of(v, "approval", "planning_permit.applied") == [
        ("construction_approval", "step", "planning_applied", None, None),
        ("construction_approval", "step", "notice_at_planning", None,
         'not (project_type = "filing")')]
    assert uses_of(v, "approval", "project.filed") == [
        ("construction_approval", "start", None, None, None),
        ("construction_approval", "step", "project_approved", None, None)]
    assert uses_of(v, "land", "survey.done") == []
    (survey,) = [t for a in v["agencies"] if a["agency"] == "land"
                 for t in a["event_types"] if t["event_type"] == "survey.done"]
    assert survey["extra"] is True

    # the table for people says the same
    r = hubctl("workflows", "--vocabulary", "--control", control)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["agency", "event_type", "workflow", "what"]
    rows = [line.split(None, 3) for line in lines[2:-1]]
    assert lines[-1] == f"({len(rows)} rows)"
    assert [row[:2] for row in rows] == sorted(row[:2] for row in rows)
    assert ["land", "transfer.accepted", "property_transfer",
            "starts an instance; completes step accepted (受理); "
            "reopens a suspended instance"] in rows
    assert ["land", "transfer.rejected", "property_transfer",
            "rejects (suspends the instance until it is reopened)"] in rows
    assert ["land", "survey.done", "-",
            "stored (listed in the hub's extra-event-types); no workflow uses it"] in rows
    assert sorted({row[1] for row in rows if row[0] == "land"}) == LAND

    # every type listed is accepted: one event of each, per agency
    client = hub_client(hub.endpoint)
    n = 0
    for agency in v["agencies"]:
        events = []
        for t in agency["event_types"]:
            n += 1
            events.append(make_event(pb, 9000 + n, agency=agency["agency"],
                                     adapter_id=f"{agency['agency']}-it",
                                     event_type=t["event_type"]))
        if not events:
            continue
        ack = client.request_batch(events, agency=agency["agency"],
                                   adapter_id=f"{agency['agency']}-it")
        for event, a in zip(events, ack.acks):
            assert a.status == pb.STORED, (agency["agency"], event.event_type, a)
    assert n == sum(len(a["event_types"]) for a in v["agencies"]) > 50

    # one listed for tax but not for land is refused, and the refusal names
    # exactly the listed types
    ack = client.request_batch([make_event(pb, 9999, event_type="deed_tax.paid",
                                           adapter_id="land-it")],
                               agency="land", adapter_id="land-it").acks[0]
    assert ack.status == pb.REJECTED and ack.code == pb.INVALID_FIELD, ack
    assert ack.reason == ('event_type "deed_tax.paid" is not known for agency "land"; '
                          "known: " + ", ".join(LAND))

    # the same definitions and settings on disk give the same listing
    config = tmp_path / "hub.conf"
    config.write_text(f"[hub]\nextra-event-types = {EXTRAS}\n")
    r = hubctl("workflows", "--vocabulary", "--dir", str(ROOT / "workflows"),
               "--hub-config", str(config), json_out=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == v

    # without a hub to ask: a failure that says what to try
    hub.kill()
    hub.wait(timeout=30)
    r = hubctl("workflows", "--vocabulary", "--control", control, "--timeout", "1")
    assert r.returncode == 1 and r.stdout == ""
    assert "does not answer" in r.stderr and "--dir" in r.stderr


def generated_part(text):
    """The lines between the BEGIN and END markers, without the blank lines
    that frame them."""
    lines = text.splitlines()
    (begin,) = [i for i, line in enumerate(lines) if line.startswith(BEGIN)]
    end = lines.index(END)
    return "\n".join(lines[begin + 1:end]).strip("\n") + "\n"


def test_doc_table_is_what_the_definitions_give(tmp_path):
    """docs/vocabulary.md holds the Markdown listing of the shipped
    definitions; a changed definition without a regenerated table fails."""
    doc = (ROOT / "docs" / "vocabulary.md").read_text()
    r = hubctl("workflows", "--vocabulary", "--markdown", "--dir", str(ROOT / "workflows"))
    assert r.returncode == 0, r.stderr
    assert generated_part(doc) == r.stdout, (
        "docs/vocabulary.md is out of date: run tests/vocabulary-doc.sh")
    assert "### `land`" in r.stdout and "| `transfer.accepted` | `property_transfer` |" \
        in r.stdout
    # the regeneration script agrees, and changes nothing
    env = {"ONENET_BUILD": build_path(""), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([str(ROOT / "tests" / "vocabulary-doc.sh"), "--check"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (ROOT / "docs" / "vocabulary.md").read_text() == doc

    # a definition that names one more type gives another table
    changed = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", changed)
    pt = changed / "property_transfer.yaml"
    pt.write_text(pt.read_text().replace(
        "  - {agency: land, event: transfer.withdrawn}",
        "  - {agency: land, event: transfer.withdrawn}\n"
        "  - {agency: land, event: transfer.revoked}"))
    r = hubctl("workflows", "--vocabulary", "--markdown", "--dir", str(changed))
    assert r.returncode == 0, r.stderr
    assert "| `transfer.revoked` | `property_transfer` | cancels the instance |" in r.stdout
    assert generated_part(doc) != r.stdout


def test_definitions_on_disk_that_a_hub_would_refuse(tmp_path):
    """--dir loads as the hub does: a bad definition is a failure naming
    file, line and column; asking a hub and reading files at once is a
    usage error."""
    bad = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", bad)
    pt = bad / "power_connection.yaml"
    pt.write_text(pt.read_text().replace("completes_on:", "completes_onn:", 1))
    r = hubctl("workflows", "--vocabulary", "--dir", str(bad))
    assert r.returncode == 1 and r.stdout == ""
    assert "a hub would refuse to start" in r.stderr
    assert re.search(r"power_connection\.yaml:\d+:\d+: unknown key \"completes_onn\"",
                     r.stderr), r.stderr
    r = hubctl("workflows", "--vocabulary", "--dir", str(ROOT / "workflows"),
               "--control", "tcp://127.0.0.1:1")
    assert r.returncode == 2 and "not both" in r.stderr
    r = hubctl("workflows", "--vocabulary", "--markdown", "--dir", str(ROOT / "workflows"),
               json_out=True)
    assert r.returncode == 2
    r = hubctl("workflows", "--vocabulary", "--help")
    assert r.returncode == 0 and "--dir DIR" in r.stdout and "--markdown" in r.stdout
