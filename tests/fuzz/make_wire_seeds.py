#!/usr/bin/python3
"""Writes the seed corpus of fuzz_wire: serialized AdapterMessages as
adapters send them (good batches of each agency, a batch mixing good and
bad events, a heartbeat), with fixed ids and times near the harness's
clock (2026-01-01T00:00:00Z) so that validation runs to its end.

Usage: tests/fuzz/make_wire_seeds.py [OUT_DIR]   (default tests/fuzz/corpus/wire)
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOW = 1767225600000


def load_pb(tmp):
    subprocess.run(["protoc", f"--python_out={tmp}", f"--proto_path={ROOT / 'proto'}",
                    "onenet.proto"], check=True)
    spec = importlib.util.spec_from_file_location("onenet_pb2", f"{tmp}/onenet_pb2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(pb, n, agency, event_type, keys, attrs=()):
    e = pb.CaseEvent(schema_version=1, event_id="0f8fad5b-d9cb-469f-a165-%012x" % n,
                     agency=agency, adapter_id=agency + "-1", case_no="PY-%06d" % n,
                     event_type=event_type, occurred_at_ms=NOW - 3600_000,
                     accepted_at_ms=NOW - 60_000)
    for kind, value in keys:
        e.keys.add(kind=kind, value=value)
    for name, kind, value in attrs:
        a = e.attributes.add(name=name)
        setattr(a, kind, value)
    return e


def batch(pb, seq, agency, events):
    msg = pb.AdapterMessage()
    msg.batch.batch_seq = seq
    msg.batch.adapter_id = (agency or "mixed") + "-1"
    msg.batch.agency = agency
    msg.batch.events.extend(events)
    return msg.SerializeToString()


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "tests/fuzz/corpus/wire")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pb = load_pb(tmp)
    unit = (pb.UNIT_NUMBER, "640425001002GB00123F00010001")
    credit = (pb.CREDIT_CODE, "91350100M000100Y43")
    land = [event(pb, 1, "land", "transfer.accepted", [unit],
                  [("buyer_name", "text", "马建国"), ("area_m2", "number", 89.5),
                   ("parcels", "integer", 2), ("has_mortgage", "flag", True),
                   ("registered_at", "time_ms", NOW - 7200_000)]),
            event(pb, 2, "land", "transfer.registered", [unit])]
    seeds = {
        "batch_land": batch(pb, 1, "land", land),
        "batch_tax": batch(pb, 2, "tax", [
            event(pb, 3, "tax", "deed_tax.assessed", [unit, credit],
                  [("deed_tax_yuan", "number", 12000.5)])]),
        "batch_mixed": batch(pb, 3, "", [
            event(pb, 4, "power", "account.transferred", [unit]),
            event(pb, 5, "bank", "loan.applied", [credit, (pb.APPLICATION_NO, "APP-1")]),
            event(pb, 6, "land", "no.such_type", [unit]),
            event(pb, 7, "water", "connection.accepted", [(pb.PROJECT_CODE, "P-1")])]),
        "batch_bad": batch(pb, 4, "land", [
            event(pb, 8, "land", "transfer.accepted", [(pb.UNIT_NUMBER, "bad")]),
            event(pb, 9, "tax", "deed_tax.paid", [credit])]),
    }
    hb = pb.AdapterMessage()
    hb.heartbeat.adapter_id = "land-1"
    hb.heartbeat.agency = "land"
    hb.heartbeat.sent_at_ms = NOW
    hb.heartbeat.outbox_depth = 3
    hb.heartbeat.takes_tasks = True
    seeds["heartbeat"] = hb.SerializeToString()
    for name, data in seeds.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
