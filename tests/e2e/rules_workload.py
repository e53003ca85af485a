#!/usr/bin/env python3
"""rules_workload.py: the workload of 27_account_rules.sh.

A deterministic (seeded) stream of events over a few accounts, in steps,
with one credit-line or suspension change after each step, so that credit
lines and suspensions decide many events.  Writes, into the directory given:

  events.jsonl   every event, one JSON object a line (the model reads it)
  plan.tsv       step, n, event: the events by step, for COPY into a table
  changes.tsv    step, SQL: the change made after that step's events
"""

import json
import os
import random
import sys

ACCOUNTS = 40
STEPS = 25
EVENTS_PER_STEP = 800


def event(rng, n):
    account = rng.randint(1, ACCOUNTS)
    currency = rng.choice(("USDT", "BTC"))
    pick = rng.random()
    if pick < 0.20:
        return {"id": n, "kind": "deposit", "account": account, "currency": currency,
                "amount": rng.randint(1, 1000)}
    if pick < 0.45:
        return {"id": n, "kind": "withdraw", "account": account, "currency": currency,
                "amount": rng.randint(1, 500)}
    if pick < 0.65:
        return {"id": n, "kind": "freeze", "account": account, "currency": currency,
                "amount": rng.randint(1, 500)}
    if pick < 0.75:
        return {"id": n, "kind": "unfreeze", "account": account, "currency": currency,
                "amount": rng.randint(1, 500)}
    other = 1 + (account + rng.randint(0, ACCOUNTS - 2)) % ACCOUNTS
    if pick < 0.90:
        return {"id": n, "kind": "transfer", "from": account, "to": other, "currency": currency,
                "amount": rng.randint(1, 500)}
    return {"id": n, "kind": "trade", "buyer": account, "seller": other, "base": "BTC", "quote": "USDT",
            "base_amount": rng.randint(1, 50), "quote_amount": rng.randint(1, 500)}


def change(rng, suspended):
    account = rng.randint(1, ACCOUNTS)
    pick = rng.random()
    if pick < 0.4:
        credit = rng.choice((0, 200, 2000))
        return "SELECT axs.set_credit_limit(%d, '%s', %d)" % (account, rng.choice(("USDT", "BTC")), credit)
    if pick < 0.7 or not suspended:
        suspended.add(account)
        return "SELECT axs.suspend_account(%d, 'review %d')" % (account, rng.randint(1, 3))
    account = rng.choice(sorted(suspended))
    suspended.discard(account)
    return "SELECT axs.resume_account(%d)" % account


def main():
    out = sys.argv[1]
    rng = random.Random(2717)
    suspended = set()
    n = 0
    with open(os.path.join(out, "events.jsonl"), "w", encoding="utf-8") as events, \
            open(os.path.join(out, "plan.tsv"), "w", encoding="utf-8") as plan, \
            open(os.path.join(out, "changes.tsv"), "w", encoding="utf-8") as changes:
        for step in range(STEPS):
            for _ in range(EVENTS_PER_STEP):
                n += 1
                text = json.dumps(event(rng, n), separators=(",", ":"))
                events.write(text + "\n")
                plan.write("%d\t%d\t%s\n" % (step, n, text))
            changes.write("%d\t%s\n" % (step, change(rng, suspended)))


if __name__ == "__main__":
    main()
