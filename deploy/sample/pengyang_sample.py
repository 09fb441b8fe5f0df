#!/usr/bin/env python3
"""Simulated Pengyang county (彭阳县, 640425) days: each agency's case records
in its own format, as NDJSON.

Starts --cases cases on each of --days working days from --date, of all
thirteen workflows/*.yaml and their variants, with the events, keys and
attributes the definitions expect, in office hours of working days
(data/calendar/cn-workdays.csv). Writes one file per agency: the land
registry, tax bureau, power company, water company and banks in their own
record formats (docs/adapters/{land,tax,power,water,bank}.md: their field
names, codes, case numbers and time layouts, each record with the agency
system's own record id), the other six agencies (market, police, social,
gas, heat, approval) in the generic format (docs/adapters/generic.md).
The power and water companies' formats have no record for acknowledging
a construction project's notice (construction_approval): those events go
in a second file of each, the feeds power-generic and water-generic, in
the generic format, for a second adapter of theirs (onenet-adapter --agency
power or water) that takes no tasks. Each file is written under a
temporary name (.NAME.tmp) and renamed when complete, as the agency systems
do: --out DIR gives DIR/<feed>.ndjson, --spool DIR drops
DIR/<feed>/pengyang-<feed>-<date>.ndjson into each adapter's spool
directory (a feed is an agency, or one of the two above).

Most cases meet every deadline as the hub counts it; about one in twenty
stops part-way and about one in eight of those with deadlines has one agency
late (one in three construction projects, most often at the planning
permit), so some events fall days, weeks or, for construction projects,
months after --date (pick a day months in the past). A few events come before an earlier one of their case, a few
lines are repeated verbatim and a few bank account closures belong to no
case, on purpose. Identifiers carry valid check characters. --malformed K
adds K broken records to each agency's file, of these kinds in turn, as far
as the format has the field: unparseable (a line cut off), missing_field
(case number or time left out), invalid_credit_code (check character),
invalid_unit_number (ownership code), unknown_vocabulary (a business code
or stage the mapping does not know). Same arguments, same output.

--expect FILE also writes, as a JSON object, what the adapters and the hub
should make of it: per feed file its agency, format, lines, events, repeated
and malformed records ("records"); every malformed record with its agency,
line, kind and the field its refusal names ("rejected", counted by agency
and kind in "rejected_by_kind"); the distinct events the hub should store
("events"); workflow instances by workflow and final state ("workflows");
overdue steps by agency ("overdue_steps"); tasks per agency ("tasks": an
account transfer for each utility step of a transfer whose registration
happened, and a connection.prepare for each utility of a construction
project once it was filed or its planning permit applied for, unless the
utility did it before: the same in any delivery order); events that stay
unmatched ("unmatched"); and per case ("cases", in case order) its
correlation key, fate (on_time,
late, stuck), late step, events, the events about its key that belong to
no case and are only recorded ("recorded": a replacement tax UKey a year
after a start-up), its tasks as (agency, step) pairs and,
per workflow instance, its state (completed, open, rejected), start, end,
number of events and overdue (agency, step) pairs. It changes nothing
in the record files (tests/integration/test_county_day.py,
deploy/sample/county_report.py).

--format generic writes every agency's file in the generic format instead,
for feeding onenet-adapter alone (tests/integration/test_ingest.py): one
file per agency, the power and water acknowledgements in their agency's.

Usage: pengyang_sample.py --date 2020-09-01 [--days N] [--cases 200]
                          (--out DIR | --spool DIR) [--format own|generic]
                          [--seed N] [--malformed K] [--expect FILE]
"""

import argparse
import collections
import csv
import datetime
import json
import os
import random
import sys

AGENCIES = ("tax", "land", "power", "water", "bank", "market", "police", "social",
            "gas", "heat", "approval")
DIVISION = "640425"
BEIJING = datetime.timezone(datetime.timedelta(hours=8))
CALENDAR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "..", "data", "calendar", "cn-workdays.csv")
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 3^(i-1) mod 31
ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]  # ISO 7064 MOD 11-2
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]  # GB 11714 organisation code

SURNAMES = "王李张马杨刘海虎田韩祁赵陈周何苏郭冯罗"
GIVEN = ["建军", "秀兰", "志强", "玉梅", "国华", "晓东", "小龙", "海燕", "文斌",
         "桂花", "永福", "彦龙", "学军", "春梅", "金花", "成林", "伟", "静", "鹏", "丽"]
TOWNS = ["白阳镇", "王洼镇", "古城镇", "红河镇", "新集乡", "城阳乡", "孟塬乡",
         "冯庄乡", "草庙乡", "交岔乡", "小岔乡", "罗洼乡"]
STREETS = ["兴彭路", "长城路", "南环路", "文化街", "朝阳街", "茹河路"]
TRADES = ["商贸", "建材", "农牧", "餐饮", "物流", "中药材", "电子", "劳务", "养殖", "种植"]
BANKS = [("ICBC", "中国工商银行彭阳支行"), ("ABC", "中国农业银行彭阳县支行"),
         ("CCB", "中国建设银行彭阳支行"), ("HHRCB", "宁夏黄河农村商业银行彭阳支行")]
# class, weight, capacity (kVA), working days allowed (seed item 18)
POWER_CLASSES = [("low_voltage", 50, (8, 50), 2), ("low_voltage_external", 20, (20, 100), 5),
                 ("low_voltage_transformer", 12, (100, 400), 10),
                 ("high_voltage_single", 13, (400, 2500), 25),
                 ("high_voltage_dual", 5, (2500, 8000), 40)]
# application prefix, working days without and with external works (item 24), company
UTILITIES = {"water": ("PYSW-J", 2, 10, "彭阳县供排水公司"), "gas": ("PYRQ-J", 4, 10, "彭阳县燃气公司"),
             "heat": ("PYGR-J", 15, 15, "彭阳县热力公司")}
DAY = 6 * 3600  # office seconds in a working day: 09:00-12:00 and 14:30-17:30
MORNING = 3 * 3600
STUCK, LATE = 0.05, 0.13  # cases that stop part-way; cases with deadlines that are late


def mins(low, high):
    return (low * 60, high * 60)  # a gap of low to high office minutes


def wdays(low, high):
    return (int(low * DAY), int(high * DAY))  # a gap of low to high working days


# One event of a case. gap: (min, max) office seconds after the event before it;
# after: indexes of the events it waits for; due: the step's deadline as in
# workflows/*.yaml, None or (amount, "days" or "minutes", base), base "start"
# (the case's first event), "ready" (the latest event in after) or an index;
# step: (workflow, step id) whose deadline due is, for --expect.
Event = collections.namedtuple("Event", "agency case_no type keys attrs gap after due step")


class Case(list):
    """A case's events in the order they normally happen, the correlation key
    they share and, for --expect, the workflow instances they make."""

    def __init__(self, key_kind, key_value):
        super().__init__()
        self.key = (key_kind, key_value)
        self.flows = []  # (workflow, starts, completes, rejects): sets of indexes
        self.tasks = []  # (index of the event that does a task's step, indexes it waits for)
        self.late_share = LATE  # share of such cases that have one agency late (1: always)
        self.late_step = None  # the event that is late when one is (None: any)
        self.recorded = []  # (Event, working days after the start): no part of a case

    def add(self, agency, case_no, event_type, keys, attrs, gap=(0, 0), after=(), due=None,
            step=None):
        self.append(Event(agency, case_no, event_type, keys, attrs, gap, tuple(after), due,
                          step))
        return len(self) - 1

    def task(self, i, ready_after):
        """Event i does the step of a task the hub issues once every event of
        ready_after happened (the step's prerequisites)."""
        self.tasks.append((i, tuple(ready_after)))

    def flow(self, workflow, starts, completes=None, rejects=()):
        """The case makes an instance of workflow once an event of starts
        happened; it completes when every event of completes (default: all)
        happened, and is rejected by an event of rejects."""
        completes = range(len(self)) if completes is None else completes
        self.flows.append((workflow, set(starts), set(completes), set(rejects)))


class Day:
    """Random source, working days, counters and records of one sample day."""

    def __init__(self, date, seed):
        self.rng = random.Random(seed)
        self.date = date
        self.ymd = date.strftime("%Y%m%d")
        self.seq = {a: self.rng.randint(100, 900) for a in AGENCIES + ("refund", "cert", "project")}
        self.records = {a: [] for a in AGENCIES}
        self.used = set()  # unit numbers and credit codes given out
        self.variants = collections.Counter()
        self.special = {}  # days that differ from the weekend rule
        try:
            with open(CALENDAR, encoding="utf-8") as f:
                self.special = {r["date"]: r["workday"] == "true" for r in csv.DictReader(f)}
        except OSError:
            print("no %s: weekends only" % CALENDAR, file=sys.stderr)
        self.days = [date]  # day 0 is --date, then the working days after it
        self.side = set()  # case numbers whose records go to their agency's generic feed

    def next(self, counter):
        self.seq[counter] += 1
        return self.seq[counter]

    def variant(self, name, options, weights):
        """The first calls go through every option once, then by weight."""
        self.variants[name] += 1
        if self.variants[name] <= len(options):
            return options[self.variants[name] - 1]
        return self.rng.choices(options, weights)[0]

    def clock(self, t):
        """ISO 8601 Beijing time of t, office seconds from 09:00 of --date."""
        day, sec = divmod(t, DAY)
        while len(self.days) <= day:
            d = self.days[-1] + datetime.timedelta(days=1)
            while not self.special.get(d.isoformat(), d.weekday() < 5):
                d += datetime.timedelta(days=1)
            self.days.append(d)
        opens = datetime.time(9, 0) if sec < MORNING else datetime.time(14, 30)
        return (datetime.datetime.combine(self.days[day], opens, BEIJING)
                + datetime.timedelta(seconds=sec % MORNING if sec >= MORNING else sec)).isoformat()

    # -- identifiers ------------------------------------------------------

    def person(self):
        """A name, an 18-digit resident id (check digit MOD 11-2) and a phone."""
        rng = self.rng
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randint(0, 365 * 52))
        body = DIVISION + born.strftime("%Y%m%d") + "%03d" % rng.randint(1, 999)
        check = "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS)) % 11]
        phone = rng.choice(["139", "138", "151", "152", "177", "180", "189"]) + \
            "%08d" % rng.randint(0, 99999999)
        return name, body + check, phone

    def enterprise(self):
        """A new GB 32100-2015 credit code, whose organisation code part carries
        a GB 11714 check digit, and the enterprise's name."""
        rng = self.rng
        kind, form = rng.choice([("91", "有限公司"), ("91", "有限责任公司"),
                                 ("92", "个体工商户"), ("93", "农民专业合作社")])
        name = "彭阳县" + rng.choice(TOWNS[:4])[:2] + rng.choice("兴鑫丰源泰隆") + \
            rng.choice("盛达瑞和茂") + rng.choice(TRADES) + form
        org = "MA7" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(5))
        check = -sum(int(c, 36) * w for c, w in zip(org, ORG_WEIGHTS)) % 11
        code = credit_check(kind + DIVISION + org + ("X" if check == 10 else str(check)))
        return (code, name) if self.new(code) else self.enterprise()

    def address(self, town=None):
        town = self.rng.randrange(len(TOWNS)) if town is None else town
        if town == 0:
            return "彭阳县白阳镇%s%d号" % (self.rng.choice(STREETS), self.rng.randint(1, 300))
        return "彭阳县%s%s村" % (TOWNS[town], self.rng.choice(["沟口", "河湾", "新庄", "中庄", "杨寨"]))

    def property(self):
        """A new GB/T 37346-2019 unit number (cadastral zone = town), its address
        and town: flats on state land in the county seat (town 0, where there
        is gas and heating), houses on homesteads elsewhere."""
        rng = self.rng
        town = 0 if rng.random() < 0.6 else rng.randrange(1, len(TOWNS))
        head = "%s%03d%03d" % (DIVISION, town + 1, rng.randint(1, 12))
        if town == 0:
            fixture = "F%04d%04d" % (rng.randint(1, 40), rng.randint(1, 6) * 100 + rng.randint(1, 4))
            unit = head + "GB%05d" % rng.randint(1, 4000) + fixture
        else:
            unit = head + "JC%05d" % rng.randint(1, 4000) + "F00010001"
        return ({"unit_number": unit}, self.address(town), town) if self.new(unit) \
            else self.property()

    def new(self, identifier):
        fresh = identifier not in self.used
        self.used.add(identifier)
        return fresh

    def bank(self):
        """A bank's name and a fresh case number in its own style."""
        code, name = self.rng.choice(BANKS)
        return name, "%s-PY-%s-%06d" % (code, self.ymd, self.next("bank"))

    def case(self, agency, prefix):
        if agency == "tax":
            return "PYSW%s%05d" % (self.ymd, self.next("tax"))
        if agency == "land":
            return "彭不动产受〔%d〕第%06d号" % (self.date.year, self.next("land"))
        return "%s-%s-%04d" % (prefix, self.ymd, self.next(agency))

    def certificate(self, kind="不动产权"):
        return "宁(%d)彭阳县%s第%07d号" % (self.date.year, kind, self.next("cert"))


def credit_check(body17):
    """body17 followed by its GB 32100-2015 check character."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(body17, CREDIT_WEIGHTS))
    return body17 + CREDIT_ALPHABET[(31 - total % 31) % 31]


# -- when things happen --------------------------------------------------------

def due_at(case, times, i, first):
    """The office second by which event i must happen, as the hub counts it."""
    amount, unit, base = case[i].due
    if base == "start":
        base = times[first]
    elif base == "ready":
        base = max((times[a] for a in case[i].after), default=times[first])
    else:
        base = times[base]
    if unit == "minutes":
        return base + amount * 60
    return (base // DAY + amount + 1) * DAY - 1  # the end of the amount-th working day after


def dependents(case, i):
    """Indexes of the events that wait, directly or not, for event i."""
    found = set()
    for j in range(i + 1, len(case)):
        if any(a == i or a in found for a in case[j].after):
            found.add(j)
    return found


def schedule(day, case, fate, first_day=0):
    """(index, office second) of the events of case that happen, in order, the
    fate the case got and the index of its late event (None if none).
    "on_time": every step meets its deadline. "late":
    one step with a deadline is done on a working day after it, once every
    event that does not wait for it has happened, on time. "stuck": the case
    stops after its first few events."""
    rng = day.rng
    order, late = list(range(len(case))), None
    if fate == "late":
        fate = "on_time"
        candidates = rng.sample(order, len(order))
        if case.late_step is not None:
            candidates.insert(0, case.late_step)
        for i in candidates:
            waiting = dependents(case, i)
            rest = [j for j in order if j != i and j not in waiting]
            if case[i].due and rest:
                late, fate, order = i, "late", rest + [i] + sorted(waiting)
                break
    if fate == "stuck":
        order = order[:rng.randint(1, len(order) - 1)]
    # the case starts on working day first_day some time before 17:15
    t = first_day * DAY + rng.randrange(0, DAY - 900)
    times = {order[0]: t}
    for i in order[1:]:
        prev = t
        t = prev + rng.randint(*case[i].gap)
        if case[i].due:
            due = due_at(case, times, i, order[0])
            if i == late:
                t = max(t, (due // DAY + rng.choice((1, 1, 2))) * DAY + rng.randrange(DAY * 4 // 5))
            elif t > due:
                if due <= prev:
                    raise AssertionError("cannot keep %s on time" % case[i].type)
                t = rng.randint(prev + 1, due)
        times[i] = t
    return [(i, times[i]) for i in order], fate, late


def expectation(case, events, fate, late):
    """What the hub should make of case, whose events (index, occurred_at)
    happened: for each workflow instance the case makes, its final state,
    start and end, the number of its events and its overdue steps as
    (agency, step). Steps are overdue when done after their deadline (the
    late one), or when not done and their clock started (the sample day is
    in the past, so every running deadline has passed)."""
    at = dict(events)  # ISO 8601 times with one offset: text order is time order
    done = set(at)

    def clock_started(e):
        base = e.due[2]
        if base == "ready":
            return all(a in done for a in e.after)
        return base == "start" or base in done

    workflows = []
    for name, starts, completes, rejects in case.flows:
        if not done & starts:
            continue
        state = "rejected" if done & rejects else "completed" if completes <= done else "open"
        overdue = sorted([e.agency, e.step[1]] for i, e in enumerate(case)
                         if e.due and e.step and e.step[0] == name
                         and (i == late or (i not in done and clock_started(e))))
        ended = {"rejected": done & rejects, "completed": completes, "open": ()}[state]
        workflows.append({"workflow": name, "state": state, "overdue": overdue,
                          "started_at": min(at[i] for i in done & starts),
                          "ended_at": max((at[i] for i in ended), default=None),
                          "events": len(done & (starts | completes | rejects))})
    return {
        "key": {"kind": case.key[0], "value": case.key[1]},
        "fate": fate,
        "late": None if late is None else
        {"workflow": case[late].step[0], "agency": case[late].agency, "step": case[late].step[1]},
        "workflows": workflows,
        "events": [{"agency": case[i].agency, "event_type": case[i].type,
                    "case_no": case[i].case_no, "occurred_at": when} for i, when in events],
    }


# -- scenarios: a Case each, with the events workflows/*.yaml expect -----------

def property_transfer(day):
    """property_transfer; with a mortgage also mortgage_registration: the bank
    files once the transfer is registered, so a late registration does not
    make the mortgage late as well."""
    rng = day.rng
    unit, location, town = day.property()
    land, tax = day.case("land", ""), day.case("tax", "")
    buyer, buyer_id, phone = day.person()
    seller, seller_id, _ = day.person()
    area = round(rng.uniform(55, 145), 2)
    price = round(area * rng.uniform(2800, 4600))
    first_home = rng.random() < 0.8
    rate = 0.03 if not first_home else 0.01 if area <= 90 else 0.015
    deed_tax = round(price * rate, 2)
    mortgage = day.variant("mortgage", [True, False], [3, 7])
    # 登记原因: most transfers are sales; one on a court's judgment or an
    # arbitration commission's award (依人民法院和仲裁委员会生效法律文书, item
    # 31) is registered in 1 working day, not 4
    reason = day.variant("transfer_reason", ["买卖", "法院判决", "仲裁裁决", "继承"],
                         [80, 8, 4, 8])
    basis = {"transfer_basis": "legal_document" if reason in ("法院判决", "仲裁裁决")
             else "ordinary", "registration_reason": reason}
    # A flat in the county seat may have gas and district heating: its
    # transfer.accepted says so (the registry's 是否通燃气 and 是否集中供暖),
    # and the hub asks the gas and heat companies for the account transfer too.
    has_gas = town == 0 and day.variant("has_gas", [True, False], [7, 3])
    has_heating = town == 0 and day.variant("has_heating", [True, False], [5, 5])
    c = Case("unit_number", unit["unit_number"])
    accepted = c.add("land", land, "transfer.accepted", unit,
                     {"buyer_name": buyer, "buyer_id_no": buyer_id, "phone": phone,
                      "seller_name": seller, "seller_id_no": seller_id, "location": location,
                      "area_m2": area, "price_yuan": price, "has_mortgage": mortgage,
                      "has_gas": has_gas, "has_heating": has_heating, **basis})
    assessed = c.add("tax", tax, "deed_tax.assessed", unit,
                     {"buyer_name": buyer, "buyer_id_no": buyer_id, "taxable_price_yuan": price,
                      "deed_tax_rate": rate, "deed_tax_yuan": deed_tax, "first_home": first_home},
                     mins(5, 40))
    paid = c.add("tax", tax, "deed_tax.paid", unit,
                 {"deed_tax_yuan": deed_tax,
                  "payment_channel": rng.choice(["counter", "pos", "wechat"])},
                 mins(3, 30), after=[assessed])
    registered = c.add("land", land, "transfer.registered", unit,
                       {"certificate_no": day.certificate(), **basis}, mins(20, 150),
                       after=[accepted, paid],
                       due=(1 if basis["transfer_basis"] == "legal_document" else 4, "days",
                            "start"),
                       step=("property_transfer", "registered"))
    if mortgage:
        bank_name, bank_case = day.bank()
        loan = int(round(price * rng.choice([0.5, 0.6, 0.7]), -3))
        filed = c.add("bank", bank_case, "mortgage.filed", unit,
                      {"bank_name": bank_name, "borrower_name": buyer, "borrower_id_no": buyer_id,
                       "loan_yuan": loan, "term_months": rng.choice([120, 240, 360])},
                      mins(10, 90), after=[registered])
        land_m = day.case("land", "")
        m_accepted = c.add("land", land_m, "mortgage.accepted", unit,
                           {"bank_name": bank_name, "loan_yuan": loan, "borrower_name": buyer,
                            "borrower_id_no": buyer_id}, mins(5, 60), after=[filed])
        m_registered = c.add("land", land_m, "mortgage.registered", unit,
                             {"certificate_no": day.certificate("不动产证明"), "loan_yuan": loan},
                             mins(20, 120), after=[m_accepted], due=(2, "days", filed),
                             step=("mortgage_registration", "registered"))
    utilities = [("power", "PYGD-GH"), ("water", "PYSW-G")] + \
        [("gas", "PYRQ-G")] * has_gas + [("heat", "PYGR-G")] * has_heating
    for agency, prefix in rng.sample(utilities, len(utilities)):
        c.task(c.add(agency, day.case(agency, prefix), "account.transferred", unit,
                     {"account_no": "%s%09d" % (agency[0].upper(), rng.randint(0, 10 ** 9 - 1)),
                      "new_holder_name": buyer, "phone": phone},
                     mins(5, 60), after=[registered], due=(1, "days", "ready"),
                     step=("property_transfer", agency + "_transferred")), [registered])
    c.flow("property_transfer", [accepted],
           [i for i, e in enumerate(c) if e.type != "mortgage.accepted"])
    if mortgage:
        c.flow("mortgage_registration", [filed, m_accepted], [m_registered])
    return c


def mortgage_registration(day):
    """A mortgage on its own, filed at the bank (item 29) or at the registry:
    2 working days, 4 for a building under construction (在建建筑物抵押登记,
    item 31; the first such case is late)."""
    rng = day.rng
    unit, _, _ = day.property()
    borrower, borrower_id, _ = day.person()
    bank_name, bank_case = day.bank()
    loan = rng.choice([50000, 100000, 150000, 200000, 300000])
    construction, late = day.variant("mortgage_kind", [(False, False), (True, True),
                                                       (True, False)], [80, 0, 20])
    kind = {"mortgage_kind": "construction"} if construction else {}
    c = Case("unit_number", unit["unit_number"])
    if late:
        c.late_share = 1.0
    if day.variant("mortgage_at_bank", [True, False], [7, 3]):
        c.add("bank", bank_case, "mortgage.filed", unit,
              {"bank_name": bank_name, "borrower_name": borrower, "borrower_id_no": borrower_id,
               "loan_yuan": loan, "term_months": rng.choice([36, 60, 120])})
    land = day.case("land", "")
    accepted = c.add("land", land, "mortgage.accepted", unit,
                     {"bank_name": bank_name, "loan_yuan": loan, "borrower_name": borrower,
                      "borrower_id_no": borrower_id, **kind},
                     mins(10, 120))
    registered = c.add("land", land, "mortgage.registered", unit,
                       {"certificate_no": day.certificate("不动产证明"), "loan_yuan": loan,
                        **kind},
                       wdays(0.1, 3 if construction else 1.5), after=[accepted],
                       due=(4 if construction else 2, "days", "start"),
                       step=("mortgage_registration", "registered"))
    c.flow("mortgage_registration", range(accepted + 1), [registered])
    return c


def land_registration(day):
    """Done at once (item 31): seizure or its release, objection, cancellation;
    in 1 working day: a change of identity or address, a replacement or a
    reissued certificate (补换证, change_kind); in 4 (a general registration):
    another change (用途变更), a correction (更正登记), 首次登记 and 预告登记. The
    first time through, one case each of 首次登记, 预告登记, a replaced
    certificate, another change and a correction is late (the variants
    marked so), the others on time."""
    kind, attrs, due, late = day.variant("land", [
        ("seizure", {"action": "查封", "applicant": "彭阳县人民法院"}, (60, "minutes", "ready"),
         False),
        ("change", {"change_kind": "identity_or_address", "change_type": "住址变更"},
         (1, "days", "ready"), False),
        ("first_registration", {"action": "首次登记"}, (4, "days", "ready"), True),
        ("change", {"change_kind": "other", "change_type": "用途变更"}, (4, "days", "ready"),
         False),
        ("change", {"change_kind": "certificate_replacement", "change_type": "证书遗失补证"},
         (1, "days", "ready"), True),
        ("change", {"change_kind": "correction"}, (4, "days", "ready"), False),
        ("advance_notice", {"action": "预告登记"}, (4, "days", "ready"), True),
        ("seizure", {"action": "解封", "applicant": "彭阳县人民法院"}, (60, "minutes", "ready"),
         False),
        ("change", {"change_kind": "certificate_replacement", "change_type": "证书损坏换证"},
         (1, "days", "ready"), False),
        ("objection", {"action": "异议登记"}, (60, "minutes", "ready"), False),
        ("cancellation", {"action": "注销登记"}, (60, "minutes", "ready"), False),
        # 首次登记、预告登记等一般登记: 4 working days (general_registration)
        ("first_registration", {"action": "首次登记"}, (4, "days", "ready"), False),
        ("advance_notice", {"action": "预告登记"}, (4, "days", "ready"), False),
        ("change", {"change_kind": "other", "change_type": "界址变更"}, (4, "days", "ready"),
         True),
        ("change", {"change_kind": "correction"}, (4, "days", "ready"), True),
        ("change", {"change_kind": "other", "change_type": "面积变更"}, (4, "days", "ready"),
         False)],
        [12, 12, 0, 3, 0, 2, 0, 8, 8, 4, 12, 3, 3, 0, 0, 2])  # 60: the hub's immediate-minutes
    unit, _, _ = day.property()
    holder, holder_id, _ = day.person()
    land = day.case("land", "")
    workflow = ("land_change_registration" if kind == "change" else
                "general_registration" if kind in ("first_registration", "advance_notice")
                else "instant_registration")
    c = Case("unit_number", unit["unit_number"])
    if late:
        c.late_share = 1.0
    accepted = c.add("land", land, kind + ".accepted", unit,
                     dict(attrs, holder_name=holder, holder_id_no=holder_id))
    c.add("land", land, kind + ".registered", unit, attrs,
          mins(5, 50) if due[1] == "minutes" else wdays(0.05, 0.9 if due[0] == 1 else 3),
          after=[accepted], due=due,
          step=(workflow, "registered"))
    c.flow(workflow, [accepted])
    return c


def connection(day, agency, case_no, keys, attrs, allowed, company):
    """Accepted, the approval bureau's permit within 3 working days when there
    are external works (filed under the utility's application number, item
    21), then connected within allowed working days of the start (None: no
    deadline)."""
    rng = day.rng
    workflow = {"heat": "heating_connection"}.get(agency, agency + "_connection")
    c = Case("application_no", keys["application_no"])
    waits = [c.add(agency, case_no, "connection.accepted", keys, attrs)]
    if attrs["external_works"]:
        waits.append(c.add("approval", day.case("approval", "PYSP-WX"), "permit.issued", keys,
                           {"permit_kind": rng.choice(["road_excavation", "green_land_occupation"]),
                            "applicant": company}, wdays(0.3, 2.5), after=waits,
                           due=(3, "days", "ready"), step=(workflow, "permit_issued")))
    done = {"meter_no": "%sM%08d" % (agency[0].upper(), rng.randint(0, 10 ** 8 - 1))}
    done.update((k, attrs[k]) for k in ("connection_class", "external_works") if k in attrs)
    c.add(agency, case_no, "connection.completed", keys, done,
          wdays(0.05, 0.7 * (allowed or 15)), after=waits,
          due=allowed and (allowed, "days", "start"), step=(workflow, "connected"))
    c.flow(workflow, waits[:1])
    return c


def power_connection(day):
    rng = day.rng
    cls, _, (low, high), allowed = day.variant("power", POWER_CLASSES,
                                               [c[1] for c in POWER_CLASSES])
    case = "PYGD-%d-%s-%04d" % (day.date.year, day.ymd[4:], day.next("power"))
    keys = {"application_no": case}
    if cls != "low_voltage":
        keys["project_code"] = "%d-%s-44-03-%06d" % (day.date.year, DIVISION, day.next("project"))
    name, _, phone = day.person()
    external = cls == "low_voltage_external" or (cls != "low_voltage" and rng.random() < 0.4)
    works = cls == "low_voltage" and day.variant("low_voltage_works", [None, "late", "on_time"],
                                                 [85, 0, 15])
    if works:
        # The power company's second system (its county service outlets)
        # reports a low-voltage connection with external works as class
        # low_voltage and external_works true, in the generic format through
        # the feed power-generic: due in 5 working days (item 18), not 2.
        # The first such case is late.
        external, allowed = True, 5
        day.side.add(case)
    c = connection(day, "power", case, keys,
                   {"connection_class": cls, "capacity_kva": rng.randint(low, high),
                    "external_works": external, "applicant_name": name, "phone": phone,
                    "address": day.address()}, allowed, "国网彭阳县供电公司")
    if works == "late":
        c.late_share = 1.0
    return c


def utility_connection(day, agency):
    """Water, gas or heating (item 24); special sites (老旧小区, 历史建筑, 绿地)
    follow their contract, so their connection has no deadline."""
    prefix, plain, with_works, company = UTILITIES[agency]
    case = day.case(agency, prefix)
    external = day.variant(agency + "_external", [False, True], [7, 3])
    special = external and day.variant(agency + "_special", [False, True], [85, 15])
    name, _, phone = day.person()
    attrs = {"applicant_name": name, "phone": phone, "external_works": external,
             "address": day.address(None if agency == "water" else 0)}  # gas, heat: the seat
    if special:
        attrs["special_case"] = True
    allowed = None if special else with_works if external else plain
    return connection(day, agency, case, {"application_no": case}, attrs, allowed, company)


def enterprise_startup(day):
    """The application accepted at the one window (the start, item 1); the
    licence, then the seal within half a day of it; the basic account, the
    invoices with the UKey, social insurance and employment registration in
    parallel: all 1 working day from the application. The first start-up
    also gets a replacement UKey with invoices a year later: recorded, no
    part of any case."""
    rng = day.rng
    code, name = day.enterprise()
    key = {"credit_code": code}
    rep, rep_id, phone = day.person()
    bank_name, bank_case = day.bank()
    c = Case("credit_code", code)
    applied = c.add("market", day.case("market", "PYSJ-KB"), "startup.accepted", key,
                    {"enterprise_name": name, "legal_rep_name": rep, "legal_rep_id_no": rep_id,
                     "phone": phone, "window": "彭阳县政务服务中心企业开办专窗"})
    licence = c.add("market", day.case("market", "PYSJ-DJ"), "licence.issued", key,
                    {"enterprise_name": name,
                     "registered_capital_yuan": rng.choice([100000, 500000, 1000000, 3000000]),
                     "address": day.address()}, mins(10, 60), after=[applied],
                    due=(1, "days", "start"), step=("enterprise_startup", "licence_issued"))
    c.add("police", day.case("police", "PYGA-YZ"), "seal.made", key,
          {"enterprise_name": name, "seal_count": rng.choice([3, 4, 5])}, mins(20, 90),
          after=[licence], due=(180, "minutes", "ready"),
          step=("enterprise_startup", "seal_made"))
    parallel = [("bank", bank_case, "account.opened",
                 {"enterprise_name": name, "bank_name": bank_name, "account_kind": "basic",
                  "phone": phone}),
                ("tax", day.case("tax", ""), "invoice.issued",
                 {"enterprise_name": name, "invoice_kind": rng.choice(["vat_ordinary", "vat_special"]),
                  "invoice_count": rng.choice([25, 50, 100]), "ukey_issued": True}),
                ("social", day.case("social", "PYSB-CB"), "registered",
                 {"enterprise_name": name, "insured_count": rng.randint(1, 12)}),
                ("social", day.case("social", "PYSB-YG"), "employment.registered",
                 {"enterprise_name": name, "employee_count": rng.randint(1, 12)})]
    steps = {"account.opened": "account_opened", "invoice.issued": "invoice_issued",
             "registered": "social_registered", "employment.registered": "employment_registered"}
    for agency, case_no, event_type, attrs in rng.sample(parallel, 4):
        c.add(agency, case_no, event_type, key, attrs, mins(10, 45), after=[applied],
              due=(1, "days", "start"), step=("enterprise_startup", steps[event_type]))
    c.flow("enterprise_startup", [applied])
    if day.variant("ukey_replaced", [True, False], [0, 1]):
        c.recorded.append((Event("tax", day.case("tax", ""), "invoice.issued", key,
                                 {"enterprise_name": name, "invoice_kind": "vat_ordinary",
                                  "invoice_count": 50, "ukey_issued": True, "reason": "ukey_replaced"},
                                 (0, 0), (), None, None), 250))
    return c


def enterprise_deregistration(day):
    """The application accepted on the one-network platform (the start, item
    54), stating the taxpayer's standing; the tax clearance, due immediately
    from it for a clean taxpayer, the social-security closure, the bank
    accounts, then the registration after the clearance. Simplified
    deregistration (简易注销, the first such case and then one in four): the
    notice is published, ends 20 days later (14 working days here), and the
    registration is due 3 working days after its end; no tax clearance."""
    rng = day.rng
    code, name = day.enterprise()
    key = {"credit_code": code}
    bank_name, bank_case = day.bank()
    simplified = day.variant("simplified", [True, False], [1, 3])
    clean = rng.random() < 0.85
    c = Case("credit_code", code)
    case_no = day.case("market", "PYSJ-ZX")
    attrs = {"enterprise_name": name, "reason": "决议解散", "simplified": simplified,
             "tax_inspection": False, "tax_arrears": not clean,
             "invoices_outstanding": False}
    applied = c.add("market", case_no, "deregistration.accepted", key, attrs)
    parallel = [("social", day.case("social", "PYSB-ZX"), "insurance.closed", key,
                 {"enterprise_name": name}, wdays(0.05, 1), [applied]),
                ("bank", bank_case, "account.closed", key,
                 {"bank_name": bank_name, "account_kind": "basic"}, wdays(0.05, 1), [applied])]
    if simplified:
        published = c.add("market", case_no, "notice.published", key,
                          {"notice_days": 20}, mins(5, 60), after=[applied])
        ended = c.add("market", case_no, "notice.ended", key, {"objections": 0},
                      wdays(14, 14), after=[published])
        for event in rng.sample(parallel, 2):
            c.add(*event)
        c.add("market", case_no, "deregistered", key, {"enterprise_name": name},
              wdays(0.05, 2), after=[ended], due=(3, "days", ended),
              step=("enterprise_deregistration", "deregistered"))
    else:
        cleared = c.add("tax", day.case("tax", ""), "deregistration.cleared", key,
                        {"enterprise_name": name, "no_arrears": clean}, mins(5, 50),
                        after=[applied], due=(60, "minutes", "start") if clean else None,
                        step=("enterprise_deregistration", "tax_cleared"))
        for event in rng.sample(parallel, 2):
            c.add(*event)
        c.add("market", case_no, "deregistered", key, {"enterprise_name": name},
              wdays(0.05, 1), after=[cleared])
    c.flow("enterprise_deregistration", [applied])
    return c


def credit_loan(day):
    """A grade of A, B or M and an application, in either order, then the
    bank's decision; another grade ends the case as rejected: no decision."""
    rng = day.rng
    code, name = day.enterprise()
    key = {"credit_code": code}
    grade = day.variant("grade", ["A", "B", "M", "C", "D"], [35, 35, 16, 9, 5])
    bank_name, bank_case = day.bank()
    amount = rng.choice([100000, 200000, 300000, 500000, 1000000])
    graded = ("tax", day.case("tax", ""), "credit_grade.shared", key,
              {"enterprise_name": name, "grade": grade, "grade_year": day.date.year - 1})
    applied = ("bank", bank_case, "loan.applied", key,
               {"enterprise_name": name, "bank_name": bank_name, "product": "银税贷",
                "amount_yuan": amount, "term_months": rng.choice([12, 24, 36])})
    c = Case("credit_code", code)
    if grade not in ("A", "B", "M"):
        c.add(*applied)
        c.add(*graded, mins(5, 90))
        c.flow("bank_tax_credit_loan", [0], rejects=[1])  # item 39: not eligible
        return c
    first, second = rng.sample([graded, applied], 2)
    waits = [c.add(*first), c.add(*second, mins(5, 120))]
    approved = rng.random() < (0.9 if grade == "A" else 0.65)
    decided = {"approved": approved, "approved_yuan": amount if approved else 0}
    if approved:
        decided["annual_rate"] = rng.choice([0.0435, 0.0475, 0.0515])
    c.add("bank", bank_case, "loan.decided", key, decided, wdays(0.1, 3), after=waits)
    c.flow("bank_tax_credit_loan", waits)
    return c


def tax_refund(day):
    rng = day.rng
    code, name = day.enterprise()
    keys = {"refund_no": "TK%s%s%05d" % (DIVISION, day.ymd, day.next("refund")),
            "credit_code": code}
    amount = round(rng.uniform(200, 80000), 2)
    bank_name, bank_case = day.bank()
    c = Case("refund_no", keys["refund_no"])
    approved = c.add("tax", day.case("tax", ""), "refund.approved", keys,
                     {"refund_yuan": amount, "enterprise_name": name,
                      "reason": rng.choice(["overpaid", "vat_credit_refund", "policy_relief"])})
    c.add("bank", bank_case, "refund.received", keys,
          {"refund_yuan": amount, "bank_name": bank_name,
           "account_no": "6217%012d" % rng.randint(0, 10 ** 12 - 1)}, wdays(0.02, 2),
          after=[approved])
    c.flow("tax_refund", [approved])
    return c


# project_type (workflows/construction_approval.yaml): the project code's
# positions 16-17, and the working days allowed for the 立项 decision from
# acceptance (备案: the day the information is received)
PROJECT_TYPES = {"approval": ("01", 20), "verification": ("02", 20), "filing": ("03", 0)}
PROJECT_KINDS = [("47", "厂房"), ("51", "仓储物流中心"), ("70", "商住小区"), ("13", "农产品加工"),
                 ("83", "学校教学楼"), ("84", "卫生院综合楼")]  # industry code, what is built
# the utilities told of a construction project (seed item 28), in the order
# they answer, and the prefix of their work orders
PROJECT_UTILITIES = [("power", "PYGD-XM"), ("water", "PYSW-XM"), ("gas", "PYRQ-XM"),
                     ("heat", "PYGR-XM")]


def construction_project(day):
    """工程建设项目审批 (items 5, 6, 26, 28): 立项 (备案 on receipt, or an
    审批 / 核准 accepted and decided within 20 working days), the planning
    permit within 20 working days of its application, the drawing review
    within 15 (large) or 10 working days where it is required, the
    construction permit within 7 working days of its complete application;
    the power, water, gas and heat companies acknowledge the project's
    notice within a working day of the filing (备案 projects) or of the
    planning application (the others). The approval bureau's events share
    its case number; when one agency is late, it is most often the planning
    permit."""
    rng = day.rng
    ptype = day.variant("project_type", ["filing", "verification", "approval"], [6, 2, 2])
    type_code, decision_days = PROJECT_TYPES[ptype]
    industry, what = rng.choice(PROJECT_KINDS)
    code = "%d-%s-%s-%s-%06d" % (day.date.year, DIVISION, industry, type_code,
                                 day.next("project"))
    key = {"project_code": code}
    applicant = day.enterprise()[1]
    scale = day.variant("project_scale", ["large", "medium", "small"], [2, 4, 4])
    review = scale != "small" or day.variant("drawing_review", [True, False], [6, 4])
    town = rng.randrange(len(TOWNS))
    attrs = {"project_type": ptype, "project_name": "彭阳县%s%s" % (TOWNS[town], what),
             "project_address": day.address(town), "applicant_name": applicant,
             "project_scale": scale, "drawing_review_required": review,
             "investment_yuan": rng.choice([3, 8, 15, 40, 120]) * 1000000}
    case_no = day.case("approval", "PYSP-GC")
    c = Case("project_code", code)
    step = "construction_approval"

    def planning_application():
        return c.add("approval", case_no, "planning_permit.applied", key,
                     {"building_area_m2": rng.randint(8, 400) * 50}, wdays(1, 10),
                     after=[approved])

    def utilities_told(ready_after):  # each answers the hub's task (item 28)
        for agency, prefix in PROJECT_UTILITIES:
            c.task(c.add(agency, day.case(agency, prefix), "project.acknowledged", key,
                         {"account_manager_name": day.person()[0]}, mins(5, 90),
                         after=ready_after, due=(1, "days", "ready"),
                         step=(step, agency + "_acknowledged")), ready_after)

    if ptype == "filing":  # told at the filing, before the planning application
        start = approved = c.add("approval", case_no, "project.filed", key, attrs,
                                 due=(0, "days", "start"), step=(step, "project_approved"))
        utilities_told([approved])
        applied = planning_application()
    else:  # told when the planning permit is applied for
        start = c.add("approval", case_no, "project.accepted", key, attrs)
        approved = c.add("approval", case_no, "project.approved", key,
                         {"approval_no": "彭审批发〔%d〕%d号" % (day.date.year, rng.randint(10, 300))},
                         wdays(2, 15), after=[start], due=(decision_days, "days", "start"),
                         step=(step, "project_approved"))
        applied = planning_application()
        utilities_told([approved, applied])
    planning = c.add("approval", case_no, "planning_permit.issued", key,
                     {"planning_permit_no": "建字第%s%d%05d号" % (DIVISION, day.date.year,
                                                              day.next("approval"))},
                     wdays(2, 15), after=[approved, applied], due=(20, "days", "ready"),
                     step=(step, "planning_issued"))
    waits = [planning]
    if review:
        submitted = c.add("approval", case_no, "drawing_review.submitted", key, {},
                          wdays(1, 8), after=[planning])
        waits.append(c.add("approval", case_no, "drawing_review.passed", key,
                           {"certificate_no": "宁施审%d-%05d" % (day.date.year, rng.randint(1, 9999))},
                           wdays(2, 9), after=[submitted],
                           due=(15 if scale == "large" else 10, "days", "ready"),
                           step=(step, "drawing_reviewed")))
    applied_cp = c.add("approval", case_no, "construction_permit.applied", key, {},
                       wdays(0.5, 4), after=waits)
    c.add("approval", case_no, "construction_permit.issued", key,
          # not as 18 digits in a row: analysts' checks take those for an id number
          {"construction_permit_no": "%s-%s-%04d" % (DIVISION, day.ymd, rng.randint(1, 9999))},
          wdays(1, 5), after=[applied_cp] + waits, due=(7, "days", "ready"),
          step=(step, "construction_issued"))
    c.flow(step, [start])
    c.late_share, c.late_step = 0.3, planning
    return c


def account_closure(day):
    """A general account closed for reasons of its own: relevant to
    deregistration, which never starts, so it stays unmatched on purpose."""
    code, name = day.enterprise()
    bank_name, bank_case = day.bank()
    c = Case("credit_code", code)  # no flow: no workflow starts
    c.add("bank", bank_case, "account.closed", {"credit_code": code},
          {"bank_name": bank_name, "account_kind": "general", "enterprise_name": name})
    return c


SCENARIOS = [(property_transfer, 22), (enterprise_startup, 12), (power_connection, 12),
             (mortgage_registration, 8), (credit_loan, 9), (tax_refund, 9),
             (lambda day: utility_connection(day, "water"), 7), (land_registration, 11),
             (lambda day: utility_connection(day, "gas"), 5),
             (enterprise_deregistration, 4), (lambda day: utility_connection(day, "heat"), 3),
             (construction_project, 3), (account_closure, 1)]


# -- each agency's own record format -------------------------------------------
#
# A record is made in the generic format first (what the hub should store) and
# written in the agency's format at the end: the field names, codes, case
# numbers and time layouts of docs/adapters/<agency>.md and adapters/<agency>/
# map.c, and only the fields documented there. Each record gets the agency
# system's own record id (记录号, JLH, recId, 流水号, seq), so the adapter
# derives the event id from it; a line repeated verbatim repeats the id.

LAND_TYPES = {"transfer": "转移登记", "mortgage": "抵押登记", "seizure": "查封登记",
              "objection": "异议登记", "cancellation": "注销登记",
              "first_registration": "首次登记", "advance_notice": "预告登记"}
LAND_CHANGES = {"identity_or_address": "变更登记", "other": "变更登记",
                "certificate_replacement": "换证", "correction": "更正登记"}
TAX_CODES = {"deed_tax.assessed": ("QS", "HD"), "deed_tax.paid": ("QS", "JS"),
             "invoice.issued": ("FP", "KJ"), "deregistration.cleared": ("ZX", "QJ"),
             "credit_grade.shared": ("XY", "GX"), "refund.approved": ("TK", "SP")}
TAX_OFFICE = "16404250000"  # 国家税务总局彭阳县税务局
BANK_TXN = {"account.opened": "ACCT_OPEN", "account.closed": "ACCT_CLOSE",
            "mortgage.filed": "MORTGAGE_FILE", "loan.applied": "LOAN_APPLY",
            "loan.decided": "LOAN_DECIDE", "refund.received": "REFUND_RECV"}
YES_NO = {True: "是", False: "否"}


def beijing(occurred_at):
    """The local part of an ISO 8601 Beijing time: datetime without offset."""
    return datetime.datetime.fromisoformat(occurred_at).replace(tzinfo=None)


def land_record(r, serial):
    prefix, stage = r["event_type"].split(".")
    a = r["attrs"]
    kind = ("补证登记" if a.get("change_type", "").endswith("补证") else
            LAND_CHANGES[a["change_kind"]]) if prefix == "change" else \
        "解封登记" if a.get("action") == "解封" else \
        "在建建筑物抵押登记" if a.get("mortgage_kind") == "construction" else LAND_TYPES[prefix]
    rec = {"业务编号": r["case_no"], "登记类型": kind,
           # the registry books (登簿) a transfer or mortgage, and closes (办结)
           # the registrations done at once or in a day
           "办理环节": "受理" if stage == "accepted" else
           "登簿" if prefix in ("transfer", "mortgage") else "办结",
           "不动产单元号": r["keys"]["unit_number"],
           "发生时间": beijing(r["occurred_at"]).strftime("%Y-%m-%d %H:%M:%S")}
    for attr, field in (("has_mortgage", "是否抵押"), ("has_gas", "是否通燃气"),
                        ("has_heating", "是否集中供暖")):
        if attr in a:
            rec[field] = YES_NO[a[attr]]
    for name, id_no in (("buyer_name", "buyer_id_no"), ("holder_name", "holder_id_no")):
        if name in a:
            rec["权利人"] = a[name]
            if id_no in a:
                rec["权利人证件号"] = a[id_no]
            break
    if "area_m2" in a:
        rec["面积"] = a["area_m2"]
    if "change_type" in a:
        rec["变更类型"] = a["change_type"]
    if "registration_reason" in a:
        rec["登记原因"] = a["registration_reason"]
    # a mortgage: the bank (抵押权人), the loan (被担保债权数额) and the borrower
    for attr, field in (("bank_name", "抵押权人"), ("loan_yuan", "被担保债权数额"),
                        ("borrower_name", "债务人"), ("borrower_id_no", "债务人证件号")):
        if attr in a:
            rec[field] = a[attr]
    rec["记录号"] = "BDC-EXP-%s-%07d" % (rec["发生时间"][:4], serial("land"))
    return rec


def tax_record(r, serial):
    ywlx, ywzt = TAX_CODES[r["event_type"]]
    a, keys = r["attrs"], r["keys"]
    rec = {"WSH": r["case_no"], "YWLX": ywlx, "YWZT": ywzt,
           "FSSJ": beijing(r["occurred_at"]).strftime("%Y%m%d%H%M%S")}
    for field, kind in (("NSRSBH", "credit_code"), ("BDCDYH", "unit_number"),
                        ("TKH", "refund_no")):
        if kind in keys:
            rec[field] = keys[kind]
    amount = a.get("deed_tax_yuan", a.get("refund_yuan"))
    if amount is not None:
        rec["JE"] = amount
    if "ukey_issued" in a:
        rec["UKEY"] = "Y" if a["ukey_issued"] else "N"
    if "no_arrears" in a:
        rec["WQS"] = "Y" if a["no_arrears"] else "N"
    if "grade" in a:
        rec["XYDJ"] = a["grade"]
    rec["SWJG_DM"] = TAX_OFFICE
    rec["JLH"] = "SJ%s%08d" % (rec["FSSJ"][:8], serial("tax"))
    return rec


def power_record(r, serial):
    a = r["attrs"]
    when = beijing(r["occurred_at"])
    rec = {"appNo": r["case_no"]}
    if r["event_type"] == "account.transferred":
        rec.update(busiType="TRANSFER", step="DONE", unitNo=r["keys"]["unit_number"],
                   custName=a["new_holder_name"])
    elif r["event_type"] == "connection.accepted":
        cls = a["connection_class"]
        rec.update(busiType="NEW_INSTALL", step="ACCEPT",
                   voltageLevel="HV" if cls.startswith("high") else "LV",
                   capacityKva=a["capacity_kva"], needExternalWorks=a["external_works"],
                   needTransformer=cls == "low_voltage_transformer",
                   supplyMode={"high_voltage_single": "SINGLE",
                               "high_voltage_dual": "DUAL"}.get(cls),
                   custName=a["applicant_name"])
    else:
        rec.update(busiType="NEW_INSTALL", step="COMPLETE")
    rec["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%S")
    rec["recId"] = "YX-%s-%06d" % (when.strftime("%Y%m%d"), serial("power"))
    return rec


def water_record(r, serial):
    a = r["attrs"]
    when = beijing(r["occurred_at"])
    rec = {"工单号": r["case_no"]}
    if r["event_type"] == "account.transferred":
        rec.update({"业务": "过户", "节点": "完成", "不动产单元号": r["keys"]["unit_number"],
                    "户名": a["new_holder_name"]})
    elif r["event_type"] == "connection.accepted":
        rec.update({"业务": "报装", "节点": "受理", "外线工程": YES_NO[a["external_works"]],
                    "特殊场所": YES_NO[a.get("special_case", False)],
                    "用水地址": a["address"], "户名": a["applicant_name"]})
    else:
        rec.update({"业务": "报装", "节点": "通水"})
    # the export leaves the seconds out when they are zero
    rec["时间"] = when.strftime("%Y/%m/%d %H:%M" if when.second == 0 else "%Y/%m/%d %H:%M:%S")
    rec["流水号"] = "SW%s%05d" % (when.strftime("%Y%m%d"), serial("water"))
    return rec


def bank_record(r, serial):
    a, keys = r["attrs"], r["keys"]
    code = r["case_no"].split("-")[0]
    rec = {"bankCode": code, "branch": dict(BANKS)[code].split("银行", 1)[1],
           "txnType": BANK_TXN[r["event_type"]], "txnRef": r["case_no"]}
    if "account_kind" in a:
        rec["acctKind"] = a["account_kind"].upper()
    rec["creditCode"] = keys.get("credit_code")
    rec["unitNo"] = keys.get("unit_number")
    rec["refundNo"] = keys.get("refund_no")
    loan = a.get("loan_yuan", a.get("amount_yuan"))
    rec["loanAmount"] = float(loan) if loan is not None else None
    rec["approved"] = a.get("approved")
    rec["refundAmount"] = a.get("refund_yuan")  # the refund received (REFUND_RECV)
    rec["txnTime"] = beijing(r["occurred_at"]).strftime("%Y-%m-%d %H:%M:%S")
    rec["seq"] = "%06d" % serial("bank:" + code)
    return rec


def generic_record(r, serial):
    return r


# An agency's record format: the function that writes a record in it, the
# names of its case number, time and event vocabulary fields, and the field
# of each key kind it can carry that has a check (credit code, unit number).
Format = collections.namedtuple("Format", "record case_no time vocabulary keys")
FORMATS = {
    "land": Format(land_record, "业务编号", "发生时间", "办理环节",
                   {"unit_number": "不动产单元号"}),
    "tax": Format(tax_record, "WSH", "FSSJ", "YWLX",
                  {"credit_code": "NSRSBH", "unit_number": "BDCDYH"}),
    "power": Format(power_record, "appNo", "eventTime", "busiType",
                    {"unit_number": "unitNo"}),
    "water": Format(water_record, "工单号", "时间", "节点", {"unit_number": "不动产单元号"}),
    "bank": Format(bank_record, "txnRef", "txnTime", "txnType",
                   {"credit_code": "creditCode", "unit_number": "unitNo"}),
}
GENERIC = Format(generic_record, "case_no", "occurred_at", "event_type",
                 {"credit_code": "credit_code", "unit_number": "unit_number"})
# Event types an agency's own format has no record for (docs/adapters/power.md,
# water.md): the power and water companies acknowledge a construction
# project's notice (construction_approval, seed item 28) through onenet-adapter,
# a second adapter of theirs that reads a second file in the generic format,
# the feed <agency>-generic. The power company's county outlets report
# low-voltage connections with external works there too (Day.side).
GENERIC_ONLY = {"power": {"project.acknowledged"}, "water": {"project.acknowledged"}}


def feeds_of(fmt):
    """Each file the simulator writes (a feed) and the agency that sends it:
    one per agency, and with fmt "own" the <agency>-generic feeds of
    GENERIC_ONLY."""
    feeds = {a: a for a in AGENCIES}
    if fmt == "own":
        feeds.update((a + "-generic", a) for a in GENERIC_ONLY)
    return feeds
# made-up values of each agency's vocabulary field that its mapping does not know
UNKNOWN_WORDS = {"办理环节": "审核中", "YWLX": "SB", "busiType": "CANCEL", "节点": "踏勘",
                 "txnType": "ACCT_FREEZE"}
BROKEN = ("unparseable", "missing_field", "invalid_credit_code", "invalid_unit_number",
          "unknown_vocabulary")


def key_field(fmt, record, kind):
    """(container, field) of the key kind in record, or None."""
    field = fmt.keys.get(kind)
    if fmt is GENERIC:
        keys = record.get("keys", {})
        return (keys, field) if field in keys else None
    return (record, field) if record.get(field) else None


def malform(day, fmt, record, kind):
    """A broken copy of record (in its agency's format) as one line of text,
    and the field the adapter's reason must name (None for unparseable)."""
    bad = json.loads(json.dumps(record))
    bad[fmt.case_no] = bad[fmt.case_no] + "-X%d" % day.rng.randint(100, 999)
    for field in ("记录号", "JLH", "recId", "流水号"):  # the export's ids stay unique
        if field in bad:
            bad[field] += "-X"
    if kind == "unparseable":  # a line cut off by a crashed export
        text = json.dumps(bad, ensure_ascii=False)
        return text[:day.rng.randint(12, len(text) - 8)], None
    if kind == "missing_field":  # a required field left out
        field = day.rng.choice([fmt.case_no, fmt.time])
        del bad[field]
        return json.dumps(bad, ensure_ascii=False), field
    if kind == "unknown_vocabulary":
        # the generic format: a display name ("Connection Accepted") where
        # the event type belongs; agency formats: a code no mapping knows
        bad[fmt.vocabulary] = bad[fmt.vocabulary].replace(".", " ").replace("_", " ").title() \
            if fmt is GENERIC else UNKNOWN_WORDS[fmt.vocabulary]
        return json.dumps(bad, ensure_ascii=False), fmt.vocabulary
    container, field = key_field(fmt, bad, kind[len("invalid_"):])
    value = container[field]
    if kind == "invalid_credit_code":  # a typo: the check character no longer fits
        container[field] = value[:17] + ("A" if value[17] != "A" else "B")
    else:  # a parcel ownership code that does not exist
        container[field] = value[:12] + "X" + value[13:]
    return json.dumps(bad, ensure_ascii=False), fmt.keys[kind[len("invalid_"):]]


def shuffle_a_little(day, count):
    """Puts count events each just before an earlier event of its own case in
    the same file, as an agency system that exports out of order would."""
    pairs = []
    for agency in AGENCIES:
        by_case = collections.defaultdict(list)
        for r in day.records[agency]:
            by_case[r["case_no"]].append(r)
        pairs += [(agency, rs[0], rs[-1]) for rs in by_case.values() if len(rs) > 1]
    pairs.sort(key=lambda p: (p[0], p[1]["case_no"]))
    chosen = day.rng.sample(pairs, min(count, len(pairs)))
    for agency, earlier, later in chosen:
        rows = day.records[agency]
        rows.remove(later)
        rows.insert(rows.index(earlier), later)
    return len(chosen)


def iso_date(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError('date "%s" is not YYYY-MM-DD' % text) from None


def tasks_due(case, events):
    """[agency, step] of each task the hub issues for case, whose events
    (index, office second) happened: one for each step of case.tasks whose
    prerequisites happened, unless the agency's own event happened before
    the last of them (the step was done before it became ready). Account
    transfers of a property transfer once the registration happened;
    connection.prepare for the utilities of a construction project once it
    is filed or its planning permit applied for. Decided on the case as it
    happened, so the same whatever order the events are delivered in."""
    at = dict(events)
    due = []
    for i, ready_after in case.tasks:
        if all(a in at for a in ready_after):
            ready = max(at[a] for a in ready_after)
            if i not in at or at[i] > ready:
                due.append([case[i].agency, case[i].step[1]])
    return sorted(due)


def write_atomically(path, lines):
    """Writes lines to path as an agency system drops a file: under a
    temporary name the adapters ignore, then renamed when complete."""
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(
        description="simulated Pengyang county days: each agency's case records in its "
                    "own format")
    parser.add_argument("--date", required=True, type=iso_date,
                        help="the first day, YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=1,
                        help="working days from --date on which cases start (default 1)")
    parser.add_argument("--cases", type=int, default=200,
                        help="cases starting on each day (default 200)")
    parser.add_argument("--out", metavar="DIR", help="write DIR/<agency>.ndjson")
    parser.add_argument("--spool", metavar="DIR",
                        help="drop each agency's file into its spool directory "
                             "DIR/<agency>/ as pengyang-<agency>-<date>.ndjson")
    parser.add_argument("--format", choices=("own", "generic"), default="own",
                        help="own: the five agencies with a record format of their own "
                             "write it (default); generic: every agency writes the generic "
                             "format, for onenet-adapter alone")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--malformed", type=int, default=0, metavar="K",
                        help="add K broken records to each agency's file (default 0)")
    parser.add_argument("--expect", metavar="FILE",
                        help="also write what the adapters and the hub should make of "
                             "the records to FILE (JSON)")
    args = parser.parse_args()
    if args.cases < 0 or args.malformed < 0 or args.days < 1:
        parser.error("--cases and --malformed must not be negative, --days at least 1")
    if not args.out and not args.spool:
        parser.error("give --out DIR, --spool DIR or both")

    day = Day(args.date, args.seed)
    if not day.special.get(args.date.isoformat(), args.date.weekday() < 5):
        print("%s is not a working day: deadlines may not fall as planned" % args.date,
              file=sys.stderr)
    fates = collections.Counter()
    expected, tasks = [], collections.Counter()
    for d in range(args.days):
        day.clock(d * DAY)  # the d-th working day is known from here on
        day.ymd = day.days[d].strftime("%Y%m%d")  # case numbers carry their day
        for _ in range(args.cases):
            n = len(expected)
            # every workflow once first, then by weight
            scenario = SCENARIOS[n][0] if n < len(SCENARIOS) else \
                day.rng.choices([s for s, _ in SCENARIOS], [w for _, w in SCENARIOS])[0]
            case = scenario(day)
            draw = day.rng.random()
            # a case made to be late (late_share 1) never stops part-way
            fate = "late" if case.late_share >= 1 else \
                "stuck" if draw < STUCK and len(case) > 1 else \
                "late" if draw < STUCK + case.late_share else "on_time"
            events, fate, late = schedule(day, case, fate, d)
            fates[fate] += 1
            for i, t in events:
                e = case[i]
                day.records[e.agency].append({"case_no": e.case_no, "event_type": e.type,
                                              "occurred_at": day.clock(t), "keys": e.keys,
                                              "attrs": e.attrs})
            recorded = []  # events about the case's key long after it: no part of it
            for e, later in case.recorded:
                at = day.clock(events[0][1] + later * DAY)
                day.records[e.agency].append({"case_no": e.case_no, "event_type": e.type,
                                              "occurred_at": at, "keys": e.keys,
                                              "attrs": e.attrs})
                recorded.append({"agency": e.agency, "event_type": e.type,
                                 "case_no": e.case_no, "occurred_at": at})
            due = tasks_due(case, events)
            expected.append(dict(expectation(case, [(i, day.clock(t)) for i, t in events],
                                             fate, late), case=n, tasks=due,
                                 recorded=recorded))
            tasks.update(agency for agency, _ in due)

    total = len(expected)
    for agency in AGENCIES:
        day.records[agency].sort(key=lambda r: (r["occurred_at"], r["case_no"]))
    moved = shuffle_a_little(day, total // 50)
    serials = collections.Counter()

    def serial(name):
        serials[name] += 1
        return serials[name]

    feeds = feeds_of(args.format)
    formats = {f: FORMATS[a] if f == a and a in FORMATS and args.format == "own" else GENERIC
               for f, a in feeds.items()}

    def carries(feed, agency, record):
        """Whether the feed gets the record: the agency's own file does,
        unless its format has no record for the event type or the case is
        one its second system reports (Day.side)."""
        side = args.format == "own" and agency in GENERIC_ONLY and (
            record["event_type"] in GENERIC_ONLY[agency] or record["case_no"] in day.side)
        return feed != agency if side else feed == agency
    rows = {f: [r for r in day.records[a] if carries(f, a, r)] for f, a in feeds.items()}
    formatted = {f: [formats[f].record(r, serial) for r in rows[f]] for f in feeds}
    # a line is (text, None) or, for a broken one, (text, (kind, field))
    lines = {f: [(json.dumps(r, ensure_ascii=False), None) for r in formatted[f]]
             for f in feeds}
    repeated = collections.Counter()
    for _ in range(total // 50):  # an agency system that sends a record again
        agency = day.rng.choice([a for a in AGENCIES if lines[a]])
        rows = lines[agency]
        at = day.rng.randrange(len(rows))
        rows.insert(min(at + day.rng.randint(1, 30), len(rows)), rows[at])
        repeated[agency] += 1
    for agency in AGENCIES:
        fmt = formats[agency]
        sources = formatted[agency]
        kinds = [k for k in BROKEN if sources and (
            not k.startswith("invalid_") or
            any(key_field(fmt, r, k[len("invalid_"):]) for r in sources))]
        for k in range(args.malformed if kinds else 0):
            kind = kinds[(k + AGENCIES.index(agency)) % len(kinds)]  # each kind somewhere
            pool = sources if not kind.startswith("invalid_") else \
                [r for r in sources if key_field(fmt, r, kind[len("invalid_"):])]
            text, field = malform(day, fmt, day.rng.choice(pool), kind)
            rows = lines[agency]
            rows.insert(day.rng.randint(0, len(rows)), (text, (kind, field)))

    name = "pengyang-%s-" + args.date.isoformat() + ".ndjson"
    rejected, records = [], {}
    for feed, agency in feeds.items():
        texts = [text for text, _ in lines[feed]]
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            write_atomically(os.path.join(args.out, feed + ".ndjson"), texts)
        if args.spool:
            os.makedirs(os.path.join(args.spool, feed), exist_ok=True)
            write_atomically(os.path.join(args.spool, feed, name % feed), texts)
        broken = [(n + 1, bad) for n, (_, bad) in enumerate(lines[feed]) if bad]
        rejected += [{"agency": feed, "line": n, "kind": kind, "field": field}
                     for n, (kind, field) in broken]
        records[feed] = {"agency": agency,
                         "format": "generic" if formats[feed] is GENERIC else agency,
                         "lines": len(texts), "events": len(formatted[feed]),
                         "repeated": repeated[feed], "malformed": len(broken)}
        print("%-14s %-7s %5d lines: %5d events, %2d repeated, %2d malformed"
              % (feed, records[feed]["format"], len(texts), len(formatted[feed]),
                 repeated[feed], len(broken)), file=sys.stderr)
    print("%d cases over %d day(s): %d on time, %d with one agency late, %d stopped "
          "part-way; %d records out of order, %d repeated, %d malformed"
          % (total, args.days, fates["on_time"], fates["late"], fates["stuck"], moved,
             sum(repeated.values()), len(rejected)), file=sys.stderr)
    if args.expect:
        workflows = collections.defaultdict(collections.Counter)
        overdue = collections.Counter()
        for c in expected:
            for w in c["workflows"]:
                workflows[w["workflow"]][w["state"]] += 1
                overdue.update(agency for agency, _ in w["overdue"])
        by_kind = collections.defaultdict(collections.Counter)
        for r in rejected:
            by_kind[r["agency"]][r["kind"]] += 1
        summary = {
            "date": args.date.isoformat(), "days": args.days, "cases_per_day": args.cases,
            "seed": args.seed, "records": records,
            "events": sum(r["events"] for r in records.values()),
            "rejected": rejected, "rejected_by_kind": by_kind,
            "workflows": {wf: {s: n[s] for s in ("completed", "open", "rejected")}
                          for wf, n in sorted(workflows.items())},
            "overdue_steps": dict(sorted(overdue.items())),
            "tasks": dict(sorted(tasks.items())),
            "unmatched": sum(len(c["events"]) for c in expected if not c["workflows"]),
            "cases": expected}
        with open(args.expect, "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False, indent=1, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
