#!/usr/bin/env python3
"""outcome_check.py: check an outcome topic, as a read_committed consumer
read it (kcat), against the ledger.

Inputs (files written by tests/e2e/36_outcome_stream.sh):
  --messages   kcat -f '%p\\t%o\\t%k\\t%h\\t%s\\n': partition, offset, key,
               headers (k=v,k=v or empty), value
  --decided    id|status|reason (reason empty when applied): every row of
               axs.event_log, with axs.event_status's words
  --history    account|code|event_id|available_delta|frozen_delta|available|frozen
               (lib_model.sh model_dump_history: every balance's history)
  --partitions the outcome topic's partition count
  --source-topic the Kafka topic the events came from

Checks: each decided id in exactly one message and nothing else; seq is
1..N, once each; key = id; status and reason are the ledger's; an applied
event's balances are exactly its history rows (a rejected one's are empty);
within each outcome partition seq increases; an event from source partition
p is in partition p; per source partition, outcomes follow the source
offsets; decided_at is RFC 3339 in UTC.  Prints one line per check and
exits 1 if any fails.
"""
import argparse
import collections
import json
import re
import sys

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def read_messages(path):
    messages = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t", 4)
            if len(fields) != 5:
                raise SystemExit(f"{path}:{number}: not partition, offset, key, headers, value: {line[:200]}")
            partition, offset, key, headers, value = fields
            parsed_headers = {}
            if headers:
                for item in headers.split(","):
                    name, _, content = item.partition("=")
                    parsed_headers[name] = content
            messages.append({"partition": int(partition), "offset": int(offset), "key": key,
                             "headers": parsed_headers, "value": json.loads(value)})
    return messages


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", required=True)
    parser.add_argument("--decided", required=True)
    parser.add_argument("--history", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--source-topic", required=True)
    args = parser.parse_args()

    messages = read_messages(args.messages)
    decided = {}
    with open(args.decided, encoding="utf-8") as f:
        for line in f:
            event_id, status, reason = line.rstrip("\n").split("|")
            decided[int(event_id)] = (status, reason or None)
    history = collections.defaultdict(set)
    with open(args.history, encoding="utf-8") as f:
        for line in f:
            account, code, event_id, _, _, available, frozen = line.rstrip("\n").split("|")
            history[int(event_id)].add((int(account), code, int(available), int(frozen)))

    failures = 0

    def check(description, problems):
        nonlocal failures
        if problems:
            failures += 1
            print(f"not ok - {description}: {len(problems)} problem(s), e.g. {problems[:3]}")
        else:
            print(f"ok - {description}")

    by_id = collections.defaultdict(list)
    for m in messages:
        by_id[m["value"]["id"]].append(m)
    seqs = sorted(m["value"]["seq"] for m in messages)
    print(f"# {len(messages)} committed messages, {len(decided)} decided events, "
          f"{sum(1 for m in messages if m['headers'])} from Kafka, "
          f"{sum(1 for m in messages if m['value']['status'] == 'applied')} applied")

    check("every decided id has exactly one committed message",
          [(i, len(by_id.get(i, []))) for i in decided if len(by_id.get(i, [])) != 1])
    check("no message for an id the ledger did not decide", [i for i in by_id if i not in decided])
    check("seq runs 1..N, each once", [] if seqs == list(range(1, len(decided) + 1)) else
          [f"{len(seqs)} seqs, first {seqs[:3]}, last {seqs[-3:]}, {len(seqs) - len(set(seqs))} repeated"])
    check("the key is the event id in decimal", [m["key"] for m in messages if m["key"] != str(m["value"]["id"])])
    check("status and reason are axs.event_status's",
          [(m["value"]["id"], m["value"]["status"], m["value"]["reason"], decided.get(m["value"]["id"]))
           for m in messages
           if (m["value"]["status"], m["value"]["reason"]) != decided.get(m["value"]["id"])])
    balance_problems = []
    for m in messages:
        v = m["value"]
        got = {(b["account"], b["currency"], b["available"], b["frozen"]) for b in v["balances"]}
        if len(got) != len(v["balances"]):
            balance_problems.append((v["id"], "a balance listed twice"))
        expected = history.get(v["id"], set()) if v["status"] == "applied" else set()
        if got != expected:
            balance_problems.append((v["id"], sorted(got), sorted(expected)))
    check("balances are the event's history rows (balance right after it); none for a rejected event",
          balance_problems)
    check("every history row is in a message",
          [i for i in history if i not in by_id])
    order_problems = []
    per_partition = collections.defaultdict(list)
    for m in messages:
        per_partition[m["partition"]].append(m)
    for partition, items in per_partition.items():
        items.sort(key=lambda m: m["offset"])
        for a, b in zip(items, items[1:]):
            if a["value"]["seq"] >= b["value"]["seq"]:
                order_problems.append((partition, a["offset"], a["value"]["seq"], b["value"]["seq"]))
    check("within each outcome partition seq increases with the offset", order_problems)
    routing = []
    source_order = collections.defaultdict(list)
    for m in messages:
        h = m["headers"]
        if not h:
            continue
        source_partition = int(h.get("axs-source-partition", "-1"))
        if h.get("axs-source-topic") != args.source_topic:
            routing.append((m["value"]["id"], "source topic", h.get("axs-source-topic")))
        if source_partition < args.partitions and m["partition"] != source_partition:
            routing.append((m["value"]["id"], source_partition, m["partition"]))
        source_order[source_partition].append((m["value"]["seq"], int(h["axs-source-offset"])))
    check("an event from source partition p is in outcome partition p, with its source topic", routing)
    source_problems = []
    for partition, items in source_order.items():
        items.sort()
        for a, b in zip(items, items[1:]):
            if a[1] >= b[1]:
                source_problems.append((partition, a, b))
    check("per source partition, outcomes are in the order of the source offsets", source_problems)
    check("decided_at is RFC 3339 in UTC with microseconds",
          [m["value"]["decided_at"] for m in messages if not RFC3339.match(m["value"]["decided_at"])])
    check("messages carry exactly the documented fields",
          [sorted(m["value"]) for m in messages
           if list(m["value"]) != ["id", "seq", "status", "reason", "kind", "decided_at", "balances"]])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
