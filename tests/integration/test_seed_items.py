"""The seed's measures as data (hub/sql/011_seed_items.sql, loaded from
data/seed_items.tsv) and the titles of workflows and steps, as analysts
read them; the seed-item table of docs/workflows.md agrees with both."""
import csv
import re
import secrets

import psycopg2
import pytest
import yaml

from conftest import ROOT, query, start_hub, wait_until

TSV = ROOT / "data" / "seed_items.tsv"
DOC = ROOT / "docs" / "workflows.md"


def tsv_rows():
    with open(TSV, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def shipped():
    """The shipped definitions as the files say: name -> (title, seed items,
    [(step id, step title)])."""
    out = {}
    for path in sorted((ROOT / "workflows").glob("*.yaml")):
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[d["workflow"]] = (d.get("title"), d.get("seed_items", []),
                              [(s["id"], s.get("title")) for s in d["steps"]])
    return out


@pytest.fixture
def migrated_analyst(pg, db, procs):
    """A hub started once on db (it migrates the schema and records the
    definitions it runs with), then a LOGIN role in onenet_analyst
    connected over TCP; the role is dropped at the end."""
    hub = start_hub(procs, db)
    hub.terminate()
    name = "analyst_it_" + secrets.token_hex(4)
    password = secrets.token_urlsafe(18)
    admin = pg.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD %s IN ROLE onenet_analyst',
                    (password,))
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=pg.port, dbname=db.dbname, user=name,
                                password=password, connect_timeout=10)
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.close()


def test_seed_items_file_covers_the_seed_and_the_workflows():
    rows = tsv_rows()
    # the seed numbers its measures 1 to 105, each once
    assert [int(r["item"]) for r in rows] == list(range(1, 106))
    # item 31 as the seed writes it, with its departments and date
    r31 = rows[30]
    assert r31["text"].startswith("压减不动产登记时限。与全区同步实现查（解）封登记")
    assert r31["text"].endswith("在建建筑物抵押登记4个工作日内办结。")
    assert r31["departments"] == "县自然资源局、住房城乡建设局、审批局，税务局"
    assert r31["completion"] == "2020年底前"
    # item 1's single limit: 1 working day (企业开办时间压缩在1个工作日以内)
    assert rows[0]["working_days"] == "1"
    # the workflows column is what the definitions' seed_items say
    defs = shipped()
    for r in rows:
        item = int(r["item"])
        want = sorted(w for w, (_t, items, _s) in defs.items() if item in items)
        got = sorted(filter(None, r["workflows"].split(",")))
        assert got == want, f"item {item}: file says {got}, definitions {want}"
        assert bool(got) != bool(r["not_covered"]), f"item {item}: covered and a reason"


def test_docs_table_agrees_with_seed_items():
    text = DOC.read_text(encoding="utf-8")
    section = re.search(r"(?ms)^### Seed items\s*$(.*?)(?=^#)", text).group(1)
    doc = {}
    for line in section.splitlines():
        m = re.match(r"^\| (\d+) \| (.*?) \| (.*?) \|", line)
        if m:
            doc[int(m.group(1))] = (sorted(re.findall(r"`(\w+)`", m.group(2))), m.group(3))
    rows = tsv_rows()
    assert sorted(doc) == list(range(1, 106))
    for r in rows:
        item = int(r["item"])
        got, why = doc[item]
        assert got == sorted(filter(None, r["workflows"].split(","))), f"item {item}"
        if r["not_covered"]:
            assert why == "not covered: " + r["not_covered"], f"item {item}"


def test_analyst_reads_seed_items_and_titles(migrated_analyst):
    analyst = migrated_analyst
    with analyst.cursor() as cur:
        cur.execute("SELECT item, text, departments, completion, time_limit, working_days, "
                    "workflows, not_covered FROM analytics.seed_items ORDER BY item")
        got = cur.fetchall()
    rows = tsv_rows()
    assert len(got) == 105
    for g, r in zip(got, rows):
        assert g[0] == int(r["item"]) and g[1] == r["text"] and g[2] == r["departments"]
        assert g[3] == r["completion"] and g[4] == (r["time_limit"] or None)
        assert g[5] == (None if r["working_days"] == "" else float(r["working_days"]))
        assert sorted(g[6]) == sorted(filter(None, r["workflows"].split(",")))
        assert g[7] == (r["not_covered"] or None)
    # item 31's workflows, and item 2's half day
    assert sorted(got[30][6]) == ["general_registration", "instant_registration",
                                  "land_change_registration", "mortgage_registration",
                                  "property_transfer"]
    assert float(got[1][5]) == 0.5

    # the titles view: every step of every shipped definition with its title,
    # as the files write them
    with analyst.cursor() as cur:
        cur.execute("SELECT workflow, workflow_title, seed_items, step_no, step, step_title "
                    "FROM analytics.workflow_step_titles ORDER BY workflow, step_no")
        titles = cur.fetchall()
    want = []
    for name, (title, items, steps) in sorted(shipped().items()):
        for n, (sid, stitle) in enumerate(steps, 1):
            want.append((name, title, items, n, sid, stitle))
    assert titles == want
    # e.g. property_transfer's registration step
    assert ("property_transfer", "不动产转移登记与水电气暖同步过户", [28, 29, 30, 31], 4,
            "registered", "转移登记") in titles
    # and a join an analyst writes: the seed text behind a workflow's items
    with analyst.cursor() as cur:
        cur.execute("""SELECT DISTINCT t.workflow_title FROM analytics.workflow_step_titles t
                       JOIN analytics.seed_items s ON s.item = ANY (t.seed_items)
                       WHERE s.item = 31 ORDER BY 1""")
        assert [r[0] for r in cur.fetchall()] == sorted(
            t for t, items, _s in shipped().values() if 31 in items)
    # the table itself stays out of the analyst's reach
    with analyst.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("SELECT count(*) FROM public.seed_items")


ODD_LAYOUT = """\
# Titles written in ways YAML allows and the shipped files do not use:
# flow mappings with the title first, a quoted title with a '#', a folded
# block scalar, a step without a title.
workflow: odd_layout
version: 1
title: "核查 # 不是注释"
seed_items:
  - 31
  - 32
key: unit_number
starts_on: [{agency: land, event: check.requested}]
unmatched_ttl: 1h
steps:
  - {title: 受理, agency: land, id: requested, completes_on: [check.requested]}
  - agency: water
    title: >-
      水表
      核查
    completes_on: [meter.inspected]
    after: [requested]
    id: inspected
  - {id: closed, agency: land, completes_on: [check.closed], after: [inspected]}
completes_when: all
"""


def test_titles_are_what_the_hub_read_and_come_back_for_old_definitions(db, procs, tmp_path):
    """The titles view holds what the hub's own loader read, whatever the
    layout of the file; and a stored definition whose outline is missing
    (recorded before the outlines were) gets it back when a hub starts."""
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "odd_layout.yaml").write_text(ODD_LAYOUT, encoding="utf-8")
    hub = start_hub(procs, db, extra=("--workflows", str(wf)))
    want = [("核查 # 不是注释", [31, 32], 1, "requested", "受理", "land"),
            ("核查 # 不是注释", [31, 32], 2, "inspected", "水表 核查", "water"),
            ("核查 # 不是注释", [31, 32], 3, "closed", None, "land")]
    sql = ("SELECT workflow_title, seed_items, step_no, step, step_title, agency "
           "FROM public.definition_steps WHERE workflow = 'odd_layout' ORDER BY step_no")
    wait_until(lambda: query(db, sql) == want, timeout=30,
               what="the odd layout's steps recorded as the loader read them")
    hub.terminate()
    # as if recorded before there were outlines: the next hub writes them
    query(db, "DELETE FROM public.definition_steps RETURNING 1")
    hub = start_hub(procs, db, extra=("--workflows", str(wf)))
    wait_until(lambda: query(db, sql) == want, timeout=30,
               what="the outline written again at start")
    hub.terminate()
    # a stored definition the hub does not run with gets its outline too
    query(db, "DELETE FROM public.definition_steps RETURNING 1")
    hub = start_hub(procs, db)  # the shipped definitions, not odd_layout
    wait_until(lambda: query(db, sql) == want, timeout=30,
               what="the outline of a stored definition the hub does not run with")
    hub.terminate()
