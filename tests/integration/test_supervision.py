"""Supervision follows the calendar and the folded case, at once.

- A day declared off or a make-up working day (hubctl calendar set/unset)
  re-plans, within a minute, every deadline whose counting window covers
  it, in cases that receive no other event: due times move, a breach that
  no longer holds is withdrawn (kept, with its reason, out of the counts),
  one that holds again is reinstated, and a new one appears.
- A withdrawal delivered days late withdraws the breaches of the steps
  whose deadline had not passed when the case was withdrawn; one that had
  passed stays. The same for a refusal for correction (suspension), and
  the same breaches when the events come all at once.
- A calendar year with no official arrangement: deadlines counted into it
  are provisional; `hubctl calendar import` of the State Council's notice
  makes them final and re-plans them.

Every expected due time is counted by hand on the calendar (the comments
give the working days), never read back from the hub."""
import datetime
import json
import subprocess

from conftest import build_path, query, scalar, unit_number, wait_supervised, wait_until
from test_workflows import bj_ms, case_event, pt_case, send, start_wf_hub, wait_drained

BJ = datetime.timezone(datetime.timedelta(hours=8))


def hubctl(db, *args, expect=0):
    r = subprocess.run([build_path("hubctl"), "--db", str(db), *map(str, args)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == expect, f"hubctl {args}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def bj(y, mo, d, h=0, mi=0):
    return datetime.datetime(y, mo, d, h, mi, tzinfo=BJ)


def registration(db, unit):
    """(due_at, overdue_at is set, standing overdue breach due_at or None,
    withdrawn breach reasons) of the registration step of UNIT's transfer."""
    due, marked = query(db, """
        SELECT s.due_at, s.overdue_at IS NOT NULL FROM workflow_steps s
        JOIN workflow_instances i ON i.id = s.instance_id
        WHERE i.key_value = %s AND i.workflow = 'property_transfer'
          AND s.step = 'registered'""", (unit,))[0]
    rows = query(db, """
        SELECT b.due_at, b.withdrawn_reason FROM breaches b
        JOIN workflow_instances i ON i.id = b.instance_id
        WHERE i.key_value = %s AND i.workflow = 'property_transfer'
          AND b.step = 'registered' AND b.kind = 'overdue'""", (unit,))
    standing = [d for d, why in rows if why is None]
    return due, marked, standing[0] if standing else None, [why for _, why in rows if why]


def send_case(client, pb, unit, names, times):
    case = dict(pt_case(pb, unit, mortgage=False))
    for name in names:
        e = case[name]
        if name in times:
            e.occurred_at_ms = bj_ms(*times[name])
        send(client, [e])


def test_calendar_change_replans_open_and_closed_cases(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    a, b, c = unit_number(61001), unit_number(61002), unit_number(61003)
    # A: accepted Mon 2 Nov 2020, registered Mon 9 Nov: 4 working days
    #    (Tue 3, Wed 4, Thu 5, Fri 6) end Fri 6 Nov 24:00 -> late
    send_case(client, pb, a, ["accepted", "assessed", "paid", "registered"],
              {"accepted": (2020, 11, 2, 9, 0), "assessed": (2020, 11, 2, 10, 0),
               "paid": (2020, 11, 2, 11, 0), "registered": (2020, 11, 9, 10, 0)})
    # B: accepted Thu 5 Nov, registered Wed 11 Nov 15:00: (Fri 6, Mon 9,
    #    Tue 10, Wed 11) end Wed 11 Nov 24:00 -> on time
    send_case(client, pb, b, ["accepted", "assessed", "paid", "registered"],
              {"accepted": (2020, 11, 5, 9, 0), "assessed": (2020, 11, 5, 10, 0),
               "paid": (2020, 11, 5, 11, 0), "registered": (2020, 11, 11, 15, 0)})
    # C: accepted Mon 2 Nov and nothing more: due Fri 6 Nov 24:00, overdue
    send_case(client, pb, c, ["accepted"], {"accepted": (2020, 11, 2, 9, 0)})
    wait_drained(db)
    wait_until(lambda: registration(db, c)[2] is not None, timeout=30,
               what="C's registration marked overdue")
    assert registration(db, a) == (bj(2020, 11, 7), False, bj(2020, 11, 7), [])
    assert registration(db, b) == (bj(2020, 11, 12), False, None, [])
    assert registration(db, c) == (bj(2020, 11, 7), True, bj(2020, 11, 7), [])

    # Wed 4 Nov declared a day off: A's and C's four days are Tue 3, Thu 5,
    # Fri 6, Mon 9 -> due Mon 9 Nov 24:00; A was done in time after all
    hubctl(db, "calendar", "set", "2020-11-04", "off", "--name", "防汛停工")
    wait_until(lambda: registration(db, a)[0] == bj(2020, 11, 10), timeout=60,
               what="A's deadline re-planned")
    wait_until(lambda: registration(db, c)[2] == bj(2020, 11, 10), timeout=60,
               what="C's breach following its new deadline")
    assert registration(db, a) == (bj(2020, 11, 10), False, None, ["done in time"])
    due, marked, standing, withdrawn = registration(db, c)
    assert (due, standing, withdrawn) == (bj(2020, 11, 10), bj(2020, 11, 10), [])
    assert registration(db, b) == (bj(2020, 11, 12), False, None, [])
    # the withdrawn breach leaves the counts, and stays as history; A's
    # warning stands: the warning point, 3/4 of Mon 2 Nov 09:00 .. Tue 10
    # Nov 00:00, is Sun 8 Nov 02:15, and A was registered Mon 9 Nov 10:00
    assert query(db, "SELECT kind, due_at FROM analytics.breaches WHERE key_value = %s "
                     "AND step = 'registered'", (a,)) == [("warning", bj(2020, 11, 10))]
    assert query(db, "SELECT step, withdrawn_reason FROM analytics.breaches_withdrawn "
                     "WHERE key_value = %s", (a,)) == [("registered", "done in time")]
    hub.wait_for_log(r'msg="calendar changed: deadlines re-planned".*first_day=2020-11-04',
                     timeout=10)

    # the override removed and Saturday 7 Nov made a working day instead:
    # A and C back to Tue 3 .. Fri 6 (A late again: its breach reinstated);
    # B's four days are Fri 6, Sat 7, Mon 9, Tue 10 -> due Tue 10 Nov 24:00,
    # and its Wednesday registration is late
    hubctl(db, "calendar", "unset", "2020-11-04")
    hubctl(db, "calendar", "set", "2020-11-07", "work", "--name", "调休")
    wait_until(lambda: registration(db, b)[2] is not None, timeout=60,
               what="B's late registration breached")
    wait_until(lambda: registration(db, a)[2] is not None, timeout=60,
               what="A's breach reinstated")
    assert registration(db, a) == (bj(2020, 11, 7), False, bj(2020, 11, 7), [])
    assert registration(db, b) == (bj(2020, 11, 11), False, bj(2020, 11, 11), [])
    wait_until(lambda: registration(db, c)[2] == bj(2020, 11, 7), timeout=60,
               what="C's breach back on Friday")
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0


def test_deadline_moved_past_now_withdraws_the_breach(pb, db, procs, hub_client):
    """A case accepted six days ago, its registration overdue: three days
    of its window declared off move the deadline past now, and supervision
    no longer counts it (the days around today are set by the test, so the
    count does not depend on the weekday it runs on)."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    today = datetime.datetime.now(BJ).date()
    for k in range(-7, 5):
        hubctl(db, "calendar", "set", today + datetime.timedelta(days=k), "work")
    unit = unit_number(61010)
    start = today - datetime.timedelta(days=6)
    case = dict(pt_case(pb, unit, mortgage=False))
    accepted = case["accepted"]
    accepted.occurred_at_ms = int(datetime.datetime(start.year, start.month, start.day, 10,
                                                    tzinfo=BJ).timestamp() * 1000)
    send(client, [accepted])
    wait_drained(db)

    def midnight(days):   # 00:00 Beijing time, DAYS after today
        d = today + datetime.timedelta(days=days)
        return bj(d.year, d.month, d.day)
    # four working days after today-6: today-5 .. today-2, due today-1 00:00
    wait_until(lambda: registration(db, unit)[2] is not None, timeout=60,
               what="the registration overdue")
    assert registration(db, unit)[0] == midnight(-1)
    for k in (-4, -3, -2):
        hubctl(db, "calendar", "set", today + datetime.timedelta(days=k), "off")
    # now today-5, today-1, today, today+1: due today+2 00:00, not yet passed
    wait_until(lambda: registration(db, unit)[2] is None, timeout=60,
               what="the breach withdrawn")
    due, marked, standing, withdrawn = registration(db, unit)
    assert due == midnight(2) and not marked
    assert withdrawn == [f"the deadline moved to {(today + datetime.timedelta(days=2))} "
                         f"00:00 +08"], withdrawn
    # no overdue breach is counted; the warning point (预警) moved to 3/4 of
    # today-6 10:00 .. today+2 00:00 (182 h): today 02:30. Past it, the
    # warning stands, following the new deadline; before it, the warning
    # recorded against the old deadline is withdrawn with the overdue one
    warn = midnight(0) + datetime.timedelta(hours=2, minutes=30)
    assert query(db, "SELECT s.warn_at FROM workflow_steps s JOIN workflow_instances i "
                     "ON i.id = s.instance_id WHERE i.key_value = %s "
                     "AND s.step = 'registered'", (unit,)) == [(warn,)]
    assert scalar(db, "SELECT count(*) FROM analytics.breaches WHERE key_value = %s "
                      "AND kind = 'overdue'", (unit,)) == 0
    now = datetime.datetime.now(datetime.timezone.utc)
    if abs((now - warn).total_seconds()) > 60:   # not at the turn of 02:30
        want = [("warning", midnight(2))] if now > warn else []
        wait_until(lambda: query(db, "SELECT kind, due_at FROM analytics.breaches "
                                     "WHERE key_value = %s", (unit,)) == want,
                   timeout=30, what=f"the standing warnings {want}")


def test_late_withdrawal_withdraws_breaches(pb, db, procs, hub_client):
    """A transfer registered Tue 29 Sep 2020; power and water had until the
    end of Wed 30 Sep. The applicants withdrew at 11:00 on the 30th, but
    the withdrawal reaches the hub only after supervision has marked both
    utilities overdue: those breaches are withdrawn ("the case ended
    before the deadline"). In a second case withdrawn on Fri 9 Oct (after
    the deadline), they stand."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    results = {}
    for unit, withdrawn_at in ((unit_number(61020), (2020, 9, 30, 11, 0)),
                               (unit_number(61021), (2020, 10, 9, 11, 0))):
        case = dict(pt_case(pb, unit, mortgage=False))
        send(client, [case[k] for k in ("accepted", "assessed", "paid", "registered")])
        wait_drained(db)

        def utilities_overdue():
            return sorted(query(db, """
                SELECT b.agency, b.kind FROM breaches b JOIN workflow_instances i
                  ON i.id = b.instance_id WHERE i.key_value = %s
                  AND b.withdrawn_at IS NULL""", (unit,)))
        marked = [("power", "overdue"), ("power", "warning"),
                  ("water", "overdue"), ("water", "warning")]
        wait_until(lambda: utilities_overdue() == marked, timeout=30,
                   what="power and water overdue, and warned of")
        send(client, [case_event(pb, "land", "transfer.withdrawn", unit,
                                 bj_ms(*withdrawn_at))])
        wait_drained(db)
        results[unit] = (scalar(db, "SELECT state FROM workflow_instances WHERE "
                                    "key_value = %s", (unit,)),
                         utilities_overdue(),
                         sorted(query(db, """
                SELECT b.agency, b.kind, b.withdrawn_reason FROM breaches b
                JOIN workflow_instances i ON i.id = b.instance_id
                WHERE i.key_value = %s AND b.withdrawn_at IS NOT NULL""", (unit,))))
    before, after = results[unit_number(61020)], results[unit_number(61021)]
    why = "the case ended (cancelled) before the deadline"
    assert before == ("cancelled", [], [(a, k, why) for a, k in marked]), before
    assert after == ("cancelled", marked, []), after


def test_suspension_keeps_only_breaches_of_the_time_it_ran(pb, db, procs, hub_client):
    """Transfers accepted Mon 2 Nov 2020 09:00: registration due Sat 7 Nov
    00:00 (Tue 3 .. Fri 6), its warning point 3/4 of the way (111 h):
    Thu 5 Nov 20:15. The registry refuses each for correction (suspends
    it) at a different time, delivered after supervision has marked both
    points: Wed 4 Nov (before both: both withdrawn), Fri 6 Nov (after the
    warning point, before the deadline: the warning goes with its deadline,
    both withdrawn), Tue 10 Nov (after the deadline: both stand). The same events at once, on other units, give the same
    standing breaches and none to withdraw."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    refusals = {"wed": (2020, 11, 4, 10, 0), "fri": (2020, 11, 6, 10, 0),
                "tue": (2020, 11, 10, 10, 0)}
    why = "the case was suspended for a correction before the deadline"
    expect = {"wed": ([], [("overdue", why), ("warning", why)]),
              "fri": ([], [("overdue", why), ("warning", why)]),
              "tue": ([("overdue",), ("warning",)], [])}

    def breaches(unit):
        rows = query(db, """SELECT b.kind, b.withdrawn_reason FROM breaches b
                            JOIN workflow_instances i ON i.id = b.instance_id
                            WHERE i.key_value = %s AND b.step = 'registered'
                            ORDER BY b.kind""", (unit,))
        return ([(k,) for k, w in rows if w is None], [(k, w) for k, w in rows if w])

    for n, (name, when) in enumerate(refusals.items()):
        apart, together = unit_number(61040 + n), unit_number(61050 + n)
        accepted = [case_event(pb, "land", "transfer.accepted", u, bj_ms(2020, 11, 2, 9, 0),
                               {"has_mortgage": False}) for u in (apart, together)]
        refused = [case_event(pb, "land", "transfer.rejected", u, bj_ms(*when),
                              {"reason": "材料不全"}) for u in (apart, together)]
        send(client, [accepted[0]], agency="land")
        wait_drained(db)
        wait_until(lambda: breaches(apart)[0] == [("overdue",), ("warning",)], timeout=30,
                   what=f"{name}: the registration overdue and warned of")
        send(client, [refused[0]], agency="land")
        send(client, [refused[1], accepted[1]], agency="land")
        wait_drained(db)
        wait_supervised(db)
        assert breaches(apart) == expect[name], (name, breaches(apart))
        assert breaches(together) == (expect[name][0], []), (name, breaches(together))
        assert scalar(db, "SELECT count(DISTINCT state) FROM workflow_instances "
                          "WHERE key_value IN (%s, %s)", (apart, together)) == 1


def write_notice(path, year, days):
    path.write_text(json.dumps({"year": year, "papers": ["https://www.gov.cn/notice"],
                                "days": [{"name": n, "date": d, "isOffDay": off}
                                         for n, d, off in days]}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def test_unknown_year_provisional_until_imported(pb, db, procs, hub_client, tmp_path):
    """The shipped calendar ends with 2026 (the test says so if that
    changes). A transfer accepted Wed 30 Dec 2026 counts its four days into
    2027 on the weekend rule alone (Thu 31 Dec, Fri 1, Mon 4, Tue 5 Jan:
    due Wed 6 Jan 00:00), marked provisional. Importing a 2027 notice with
    Fri 1 and Mon 4 Jan off makes it Thu 31 Dec, Tue 5, Wed 6, Thu 7 Jan:
    due Fri 8 Jan 00:00, final. A bad notice changes nothing and names
    every problem."""
    # the case lies in the future of today's clock: let the hub take it
    hub = start_wf_hub(procs, db, extra=("--max-future-s", "31536000"))
    client = hub_client(hub.endpoint)
    wait_until(lambda: scalar(db, "SELECT count(*) FROM calendar_years") > 0, timeout=30,
               what="the shipped calendar seeded")
    assert scalar(db, "SELECT count(*) FROM calendar_years WHERE year = 2027") == 0, \
        "2027 now ships with onenet: move this test to the first year that does not"
    unit = unit_number(61030)
    case = dict(pt_case(pb, unit, mortgage=False))
    accepted = case["accepted"]
    accepted.occurred_at_ms = bj_ms(2026, 12, 30, 10, 0)
    send(client, [accepted])
    wait_drained(db)

    def step():
        return query(db, """SELECT s.due_at, s.provisional FROM workflow_steps s
                            JOIN workflow_instances i ON i.id = s.instance_id
                            WHERE i.key_value = %s AND s.step = 'registered'""", (unit,))[0]
    assert step() == (bj(2027, 1, 6), True)
    r = hubctl(db, "show", unit)
    assert "provisional" in r.stdout, r.stdout

    bad = write_notice(tmp_path / "bad.json", 2027, [
        ("元旦", "2027-01-01", True), ("元旦", "2027-02-30", True),
        ("元旦", "2027-01-01", False), ("春节", "2027-02-06", "yes")])
    r = hubctl(db, "calendar", "import", bad, expect=1)
    assert "days[1].date is not a date" in r.stderr, r.stderr
    assert "days[2].date 2027-01-01 is also days[0].date" in r.stderr, r.stderr
    assert "days[3].isOffDay (2027-02-06) must be true or false" in r.stderr, r.stderr
    assert "nothing imported" in r.stderr
    assert scalar(db, "SELECT count(*) FROM calendar_days WHERE day >= '2027-01-01'") == 0

    good = write_notice(tmp_path / "2027.json", 2027, [
        ("元旦", "2026-12-31", False), ("元旦", "2027-01-01", True),
        ("元旦", "2027-01-04", True)])
    r = hubctl(db, "calendar", "import", good)
    assert "Imported the official arrangement of 2027" in r.stdout, r.stdout
    assert query(db, "SELECT year, source FROM calendar_years WHERE year = 2027") == \
        [(2027, "import")]
    # Thu 31 Dec, Tue 5, Wed 6, Thu 7 Jan: due Fri 8 Jan 00:00, final
    wait_until(lambda: step() == (bj(2027, 1, 8), False), timeout=60,
               what="the deadline re-planned on the imported year")
    assert "provisional" not in hubctl(db, "show", unit).stdout

    # an operator's override of an imported day, removed: the imported
    # official day applies again (not the weekend rule)
    hubctl(db, "calendar", "set", "2027-01-04", "work", "--name", "加班")
    assert query(db, "SELECT workday, source FROM calendar_days WHERE day = '2027-01-04'") \
        == [(True, "operator")]
    r = hubctl(db, "calendar", "unset", "2027-01-04")
    assert "the official arrangement applies again: a day off (元旦)" in r.stdout, r.stdout
    assert query(db, "SELECT workday, name, source FROM calendar_days "
                     "WHERE day = '2027-01-04'") == [(False, "元旦", "official")]
    # and importing the notice again keeps an operator's override
    hubctl(db, "calendar", "set", "2027-01-01", "work")
    r = hubctl(db, "calendar", "import", good)
    assert "Operators' overrides kept for: 2027-01-01" in r.stdout, r.stdout
    assert query(db, "SELECT workday, source, official_workday FROM calendar_days "
                     "WHERE day = '2027-01-01'") == [(True, "operator", False)]


def test_status_warns_when_the_calendar_runs_out(db, procs, tmp_path):
    """hubctl status names the years of the next 60 days that have no
    official arrangement; importing their notices silences it."""
    hub = start_wf_hub(procs, db)
    wait_until(lambda: scalar(db, "SELECT count(*) FROM calendar_years") > 0, timeout=30,
               what="the shipped calendar seeded")
    today = datetime.datetime.now(BJ).date()
    # the coming two months, against what the database holds (2026 and
    # 2027 both when run in December 2026, one year in most months)
    coming = {today.year, (today + datetime.timedelta(days=60)).year}
    known = {y for y, in query(db, "SELECT year FROM calendar_years")}
    missing = sorted(coming - known)
    # a hubctl status without a control endpoint still reports the database
    r = hubctl(db, "status", "--control", "tcp://127.0.0.1:1", "--timeout", "1", expect=1)
    if missing:
        assert f"calendar: WARNING: no official arrangement for " \
               f"{', '.join(map(str, missing))}" in r.stdout, r.stdout
        # and the hub said so in its log when it started
        hub.wait_for_record(
            lambda r: r["msg"].startswith("the working-day calendar does not cover the "
                                          "next 60 days")
            and r["missing_years"] == ", ".join(map(str, missing)),
            timeout=30, what="the coverage warning")
    for y in missing:
        hubctl(db, "calendar", "import",
               write_notice(tmp_path / f"{y}.json", y, [("元旦", f"{y}-01-01", True)]))
    r = hubctl(db, "status", "--control", "tcp://127.0.0.1:1", "--timeout", "1", expect=1)
    assert "calendar: WARNING" not in r.stdout, r.stdout
