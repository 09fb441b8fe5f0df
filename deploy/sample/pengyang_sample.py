#!/usr/bin/env python3
"""One day of sample Pengyang county (彭阳县, 640425) case records, as NDJSON.

Writes DIR/<agency>.ndjson for tax, land, power, water and bank, one record a
line in the generic adapter format ({"case_no", "event_type", "occurred_at",
"keys", "attrs"}), following DESIGN.md's workflows: property transfer (30%
with a bank mortgage), enterprise start-up, power and water connection,
bank-tax credit loan, tax refund. About one case in ten stops part-way.
Credit codes, unit numbers and resident ids carry valid check characters;
--malformed K adds K broken lines. Same arguments, same output.

Usage: pengyang_sample.py --date 2020-09-01 --cases 200 --out DIR [--seed N] [--malformed K]
"""

import argparse
import datetime
import json
import os
import random
import sys

AGENCIES = ("tax", "land", "power", "water", "bank")
DIVISION = "640425"
BEIJING = datetime.timezone(datetime.timedelta(hours=8))
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
POWER_CLASSES = [("low_voltage", 0.5, (8, 50)), ("low_voltage_external", 0.2, (20, 100)),
                 ("low_voltage_transformer", 0.12, (100, 400)),
                 ("high_voltage_single", 0.13, (400, 2500)), ("high_voltage_dual", 0.05, (2500, 8000))]
OFFICE_SECONDS = 6 * 3600  # 09:00-12:00 and 14:30-17:30


class Day:
    """Random source, date and per-agency case counters for one sample day."""

    def __init__(self, date, seed):
        self.rng = random.Random(seed)
        self.date = date
        self.ymd = date.strftime("%Y%m%d")
        self.seq = {a: self.rng.randint(100, 900) for a in AGENCIES + ("refund", "cert", "project")}
        self.records = {a: [] for a in AGENCIES}

    def next(self, counter):
        self.seq[counter] += 1
        return self.seq[counter]

    def times(self, count):
        """count increasing ISO 8601 times within office hours of the day."""
        morning = datetime.datetime.combine(self.date, datetime.time(9, 0), BEIJING)
        lunch = 9000  # seconds from 12:00 to 14:30
        return [(morning + datetime.timedelta(seconds=off + (lunch if off >= 3 * 3600 else 0)))
                .isoformat() for off in sorted(self.rng.sample(range(OFFICE_SECONDS), count))]

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
        """A Pengyang enterprise name and its GB 32100-2015 credit code, whose
        organisation code part carries a GB 11714 check digit."""
        rng = self.rng
        kind, form = rng.choice([("91", "有限公司"), ("91", "有限责任公司"),
                                 ("92", "个体工商户"), ("93", "农民专业合作社")])
        name = "彭阳县" + rng.choice(TOWNS[:4])[:2] + rng.choice("兴鑫丰源泰隆") + \
            rng.choice("盛达瑞和茂") + rng.choice(TRADES) + form
        org = "MA7" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(5))
        check = -sum(int(c, 36) * w for c, w in zip(org, ORG_WEIGHTS)) % 11
        org += "X" if check == 10 else str(check)
        return name, credit_check(kind + DIVISION + org)

    def address(self, town=None):
        town = self.rng.randrange(len(TOWNS)) if town is None else town
        if town == 0:
            return "彭阳县白阳镇%s%d号" % (self.rng.choice(STREETS), self.rng.randint(1, 300))
        return "彭阳县%s%s村" % (TOWNS[town], self.rng.choice(["沟口", "河湾", "新庄", "中庄", "杨寨"]))

    def property(self):
        """A GB/T 37346-2019 unit number (cadastral zone = town) and its address:
        flats on state land in the county seat, houses on homesteads elsewhere."""
        rng = self.rng
        town = 0 if rng.random() < 0.6 else rng.randrange(1, len(TOWNS))
        head = "%s%03d%03d" % (DIVISION, town + 1, rng.randint(1, 12))
        if town == 0:
            fixture = "F%04d%04d" % (rng.randint(1, 40), rng.randint(1, 6) * 100 + rng.randint(1, 4))
            return head + "GB%05d" % rng.randint(1, 4000) + fixture, self.address(0)
        return head + "JC%05d" % rng.randint(1, 4000) + "F00010001", self.address(town)

    def bank(self):
        """A bank's name and a fresh case number in its own style."""
        code, name = self.rng.choice(BANKS)
        return name, "%s-PY-%s-%06d" % (code, self.ymd, self.next("bank"))

    def tax_case(self):
        return "PYSW%s%05d" % (self.ymd, self.next("tax"))


def credit_check(body17):
    """body17 followed by its GB 32100-2015 check character."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(body17, CREDIT_WEIGHTS))
    return body17 + CREDIT_ALPHABET[(31 - total % 31) % 31]


def cut(day, steps):
    """Most cases run to the end; about one in ten stops part-way."""
    if len(steps) > 1 and day.rng.random() < 0.1:
        return steps[:day.rng.randint(1, len(steps) - 1)]
    return steps


# -- scenarios: each returns its steps as (agency, case_no, type, keys, attrs) --

def property_transfer(day):
    rng = day.rng
    unit_number, location = day.property()
    unit = {"unit_number": unit_number}
    land = "彭不动产受〔%d〕第%06d号" % (day.date.year, day.next("land"))
    tax = day.tax_case()
    buyer, buyer_id, phone = day.person()
    seller, seller_id, _ = day.person()
    area = round(rng.uniform(55, 145), 2)
    price = round(area * rng.uniform(2800, 4600))
    first_home = rng.random() < 0.8
    rate = 0.03 if not first_home else 0.01 if area <= 90 else 0.015
    deed_tax = round(price * rate, 2)
    mortgage = rng.random() < 0.3
    steps = [
        ("land", land, "transfer.accepted", unit,
         {"buyer_name": buyer, "buyer_id_no": buyer_id, "phone": phone, "seller_name": seller,
          "seller_id_no": seller_id, "location": location, "area_m2": area,
          "price_yuan": price, "has_mortgage": mortgage}),
        ("tax", tax, "deed_tax.assessed", unit,
         {"buyer_name": buyer, "buyer_id_no": buyer_id, "taxable_price_yuan": price,
          "deed_tax_rate": rate, "deed_tax_yuan": deed_tax, "first_home": first_home}),
        ("tax", tax, "deed_tax.paid", unit,
         {"deed_tax_yuan": deed_tax, "payment_channel": rng.choice(["counter", "pos", "wechat"])})]
    if mortgage:
        bank_name, bank_case = day.bank()
        loan = int(round(price * rng.choice([0.5, 0.6, 0.7]), -3))
        steps.append(("bank", bank_case, "mortgage.filed", unit,
                      {"bank_name": bank_name, "borrower_name": buyer, "borrower_id_no": buyer_id,
                       "loan_yuan": loan, "term_months": rng.choice([120, 240, 360])}))
    cert = "宁(%d)彭阳县不动产权第%07d号" % (day.date.year, day.next("cert"))
    steps.append(("land", land, "transfer.registered", unit, {"certificate_no": cert}))
    if mortgage:
        steps.append(("land", land, "mortgage.registered", unit,
                      {"certificate_no": "宁(%d)彭阳县不动产证明第%07d号"
                       % (day.date.year, day.next("cert")), "loan_yuan": loan}))
    steps.append(("power", "PYGD-GH-%s-%04d" % (day.ymd, day.next("power")), "account.transferred",
                  unit, {"account_no": "64%011d" % rng.randint(0, 10 ** 11 - 1),
                         "new_holder_name": buyer, "phone": phone}))
    steps.append(("water", "PYSW-G-%s-%04d" % (day.ymd, day.next("water")), "account.transferred",
                  unit, {"account_no": "PY%08d" % rng.randint(0, 10 ** 8 - 1),
                         "new_holder_name": buyer, "phone": phone}))
    return steps


def enterprise_startup(day):
    name, code = day.enterprise()
    key = {"credit_code": code}
    rep, rep_id, phone = day.person()
    bank_name, bank_case = day.bank()
    return [("bank", bank_case, "account.opened", key,
             {"enterprise_name": name, "legal_rep_name": rep, "legal_rep_id_no": rep_id,
              "phone": phone, "bank_name": bank_name, "account_kind": "basic"}),
            ("tax", day.tax_case(), "invoice.issued", key,
             {"enterprise_name": name, "invoice_kind": day.rng.choice(["vat_ordinary", "vat_special"]),
              "invoice_count": day.rng.choice([25, 50, 100]), "ukey_issued": True})]


def power_connection(day):
    rng = day.rng
    cls, _, (low, high) = rng.choices(POWER_CLASSES, [c[1] for c in POWER_CLASSES])[0]
    case = "PYGD-%d-%s-%04d" % (day.date.year, day.ymd[4:], day.next("power"))
    keys = {"application_no": case}
    if cls != "low_voltage":
        keys["project_code"] = "%d-%s-44-03-%06d" % (day.date.year, DIVISION, day.next("project"))
    name, _, phone = day.person()
    return [("power", case, "connection.accepted", keys,
             {"connection_class": cls, "capacity_kva": rng.randint(low, high),
              "applicant_name": name, "phone": phone, "address": day.address()}),
            ("power", case, "connection.completed", keys,
             {"connection_class": cls, "meter_no": "3110%09d" % rng.randint(0, 10 ** 9 - 1),
              "connected": True})]


def water_connection(day):
    rng = day.rng
    case = "PYSW-J-%s-%04d" % (day.ymd, day.next("water"))
    external = rng.random() < 0.3
    name, _, phone = day.person()
    return [("water", case, "connection.accepted", {"application_no": case},
             {"applicant_name": name, "phone": phone, "address": day.address(),
              "pipe_diameter_mm": rng.choice([20, 25, 32, 50]), "external_works": external}),
            ("water", case, "connection.completed", {"application_no": case},
             {"external_works": external, "meter_no": "PYW%07d" % rng.randint(0, 10 ** 7 - 1)})]


def credit_loan(day):
    rng = day.rng
    name, code = day.enterprise()
    key = {"credit_code": code}
    grade = rng.choices("ABM", [4, 4, 2])[0]
    bank_name, bank_case = day.bank()
    amount = rng.choice([100000, 200000, 300000, 500000, 1000000])
    approved = rng.random() < (0.9 if grade == "A" else 0.65)
    decided = {"approved": approved, "approved_yuan": amount if approved else 0}
    if approved:
        decided["annual_rate"] = rng.choice([0.0435, 0.0475, 0.0515])
    return [("tax", day.tax_case(), "credit_grade.shared", key,
             {"enterprise_name": name, "grade": grade, "grade_year": day.date.year - 1}),
            ("bank", bank_case, "loan.applied", key,
             {"enterprise_name": name, "bank_name": bank_name, "product": "银税贷",
              "amount_yuan": amount, "term_months": rng.choice([12, 24, 36])}),
            ("bank", bank_case, "loan.decided", key, decided)]


def tax_refund(day):
    rng = day.rng
    name, code = day.enterprise()
    keys = {"refund_no": "TK%s%s%05d" % (DIVISION, day.ymd, day.next("refund")), "credit_code": code}
    amount = round(rng.uniform(200, 80000), 2)
    bank_name, bank_case = day.bank()
    return [("tax", day.tax_case(), "refund.approved", keys,
             {"refund_yuan": amount, "enterprise_name": name,
              "reason": rng.choice(["overpaid", "vat_credit_refund", "policy_relief"])}),
            ("bank", bank_case, "refund.received", keys,
             {"refund_yuan": amount, "bank_name": bank_name,
              "account_no": "6217%012d" % rng.randint(0, 10 ** 12 - 1)})]


SCENARIOS = [(property_transfer, 30), (enterprise_startup, 15), (power_connection, 15),
             (water_connection, 10), (credit_loan, 15), (tax_refund, 15)]


def malform(day, record, kind):
    """A broken copy of record under a fresh case number, as one line of text."""
    bad = json.loads(json.dumps(record))
    bad["case_no"] += "-X%d" % day.rng.randint(100, 999)
    if kind == 0:
        return json.dumps(bad, ensure_ascii=False)[:day.rng.randint(20, 60)]
    if kind == 1:
        del bad["case_no"]
    elif kind == 2:
        code = bad["keys"]["credit_code"]
        bad["keys"]["credit_code"] = code[:17] + ("A" if code[17] != "A" else "B")
    else:
        bad["occurred_at"] = day.date.strftime("%Y/%m/%d") + " 25:61"
    return json.dumps(bad, ensure_ascii=False)


def iso_date(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError('date "%s" is not YYYY-MM-DD' % text) from None


def main():
    parser = argparse.ArgumentParser(description="one day of Pengyang county sample case records")
    parser.add_argument("--date", required=True, type=iso_date,
                        help="the day, YYYY-MM-DD")
    parser.add_argument("--cases", type=int, default=200, help="cases to start (default 200)")
    parser.add_argument("--out", required=True, help="directory for <agency>.ndjson")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--malformed", type=int, default=0, metavar="K",
                        help="add K broken lines spread over the files")
    args = parser.parse_args()
    if args.cases < 0 or args.malformed < 0:
        parser.error("--cases and --malformed must not be negative")

    day = Day(args.date, args.seed)
    for _ in range(args.cases):
        scenario = day.rng.choices([s for s, _ in SCENARIOS], [w for _, w in SCENARIOS])[0]
        steps = cut(day, scenario(day))
        for (agency, case_no, event_type, keys, attrs), when in zip(steps, day.times(len(steps))):
            day.records[agency].append({"case_no": case_no, "event_type": event_type,
                                        "occurred_at": when, "keys": keys, "attrs": attrs})

    lines = {}
    for agency in AGENCIES:
        day.records[agency].sort(key=lambda r: (r["occurred_at"], r["case_no"]))
        lines[agency] = [json.dumps(r, ensure_ascii=False) for r in day.records[agency]]
    broken = 0
    for k in range(args.malformed):
        kind = k % 4  # not JSON, no case_no, bad credit code check char, bad time
        pool = [(a, r) for a in AGENCIES for r in day.records[a]
                if kind != 2 or "credit_code" in r["keys"]]
        if not pool:
            continue
        agencies = sorted({a for a, _ in pool}, key=AGENCIES.index)
        agency = agencies[(k // 4 + kind) % len(agencies)]  # spread over the files
        source = day.rng.choice([r for a, r in pool if a == agency])
        lines[agency].insert(day.rng.randint(0, len(lines[agency])), malform(day, source, kind))
        broken += 1

    os.makedirs(args.out, exist_ok=True)
    for agency in AGENCIES:
        with open(os.path.join(args.out, agency + ".ndjson"), "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines[agency])
        print("%s: %d lines" % (os.path.join(args.out, agency + ".ndjson"), len(lines[agency])),
              file=sys.stderr)
    if broken < args.malformed:
        print("only %d of %d malformed lines: too few cases to break" % (broken, args.malformed),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
