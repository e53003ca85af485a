#!/usr/bin/env python3
"""ledger_model.py: an independent reference model of the axs ledger rules.

It reads the JSON events a test produced (one message per line, exactly as
sent) and decides every event itself with the rules README.md documents
("The event" and its "Rules"): which messages are valid events, which
content an id stands for, the legs of each kind, all or none, the order of
the checks (unknown_currency, overflow, account_suspended,
insufficient_available within the credit line, insufficient_frozen),
idempotency by id.  It then compares with what the
ledger recorded: every decided id and its outcome, the id conflicts, every
balance, and every balance's history (one row per applied event that
changed it, with the balance after it).

It shares no code with the product: it does not call axs.event_legs or the
C decoder.  What it takes from the ledger is only the order in which events
were decided (axs.event_log.queue_position) and, for an id that was sent
with several contents, which of them the ledger took first (the ledger's
rendering of that one event, to pick among the contents the model parsed
itself).

Used by tests/e2e/lib_model.sh; prints "#" lines to describe the run and
one line per disagreement; exit status 0 when the model and the ledger
agree, 1 when they do not, 2 on bad input.
"""

import argparse
import decimal
import json
import re
import sys

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
MAX_LEGS = 16
MAX_LEVEL = 32         # the event object is level 1
CODE = re.compile(r"[A-Za-z0-9_.-]{1,16}\Z")
ACCOUNT_KINDS = ("deposit", "withdraw", "freeze", "unfreeze")


class Malformed(Exception):
    """The message is not a valid event (README: it raises and records nothing)."""


def integer(event, field, required=True, default=None):
    if field not in event or (not required and event[field] is None):
        if required:
            raise Malformed("missing field %s" % field)
        return default
    value = event[field]
    # A number is read as PostgreSQL's numeric reads it: an integer once its
    # exponent is applied if no fractional digit is left (1e2 is 100, 1.5e1
    # is 15; 1.50e1 is 15.0 and 100.0 are not integers).  true is not one.
    if isinstance(value, decimal.Decimal) and value.is_finite() and value.as_tuple().exponent >= 0:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed("field %s is not an integer" % field)
    if value < INT64_MIN or value > INT64_MAX:
        raise Malformed("field %s is beyond bigint" % field)
    return value


def positive(event, field, required=True, default=None):
    value = integer(event, field, required, default)
    if value is not None and value <= 0 and (required or field in event):
        raise Malformed("field %s must be positive" % field)
    return value


def code(event, field):
    if field not in event:
        raise Malformed("missing field %s" % field)
    value = event[field]
    if not isinstance(value, str) or not CODE.match(value):
        raise Malformed("field %s is not a currency code" % field)
    return value


def only_fields(event, allowed):
    for field in event:
        if field not in allowed:
            raise Malformed("unexpected field %s" % field)


def check_values(value, level):
    """No value deeper than MAX_LEVEL, no NUL in a key or a string."""
    if level > MAX_LEVEL:
        raise Malformed("a value nested deeper than %d levels" % MAX_LEVEL)
    if isinstance(value, str) and "\x00" in value:
        raise Malformed("NUL in a string")
    if isinstance(value, dict):
        for key, child in value.items():
            if "\x00" in key:
                raise Malformed("NUL in a key")
            check_values(child, level + 1)
    elif isinstance(value, list):
        for child in value:
            check_values(child, level + 1)


def parse(line):
    """The canonical content of a message (a hashable tuple), or Malformed."""
    try:
        event = json.loads(line, parse_float=decimal.Decimal)
    except (ValueError, RecursionError) as error:
        raise Malformed("not JSON: %s" % error)
    if not isinstance(event, dict):
        raise Malformed("not a JSON object")
    check_values(event, 1)
    event_id = positive(event, "id")
    kind = event.get("kind")
    if not isinstance(kind, str):
        raise Malformed("kind is missing or not a string")
    if kind in ACCOUNT_KINDS:
        only_fields(event, ("id", "kind", "account", "currency", "amount"))
        return (event_id, kind, positive(event, "account"), code(event, "currency"),
                positive(event, "amount"))
    if kind == "transfer":
        only_fields(event, ("id", "kind", "from", "to", "currency", "amount"))
        source, target = positive(event, "from"), positive(event, "to")
        if source == target:
            raise Malformed("transfer to the same account")
        return (event_id, kind, source, target, code(event, "currency"), positive(event, "amount"))
    if kind == "trade":
        only_fields(event, ("id", "kind", "buyer", "seller", "base", "quote", "base_amount",
                            "quote_amount", "buyer_fee", "seller_fee", "fee_account"))
        buyer, seller = positive(event, "buyer"), positive(event, "seller")
        if buyer == seller:
            raise Malformed("trade with buyer = seller")
        base, quote = code(event, "base"), code(event, "quote")
        if base == quote:
            raise Malformed("trade with base = quote")
        base_amount, quote_amount = positive(event, "base_amount"), positive(event, "quote_amount")
        buyer_fee = integer(event, "buyer_fee", False, 0)
        seller_fee = integer(event, "seller_fee", False, 0)
        if buyer_fee < 0 or seller_fee < 0:
            raise Malformed("negative fee")
        if buyer_fee > base_amount or seller_fee > quote_amount:
            raise Malformed("fee above its amount")
        fee_account = positive(event, "fee_account", False, None)
        if (buyer_fee or seller_fee) and fee_account is None:
            raise Malformed("fee without fee_account")
        return (event_id, kind, buyer, seller, base, quote, base_amount, quote_amount,
                buyer_fee, seller_fee, fee_account)
    if kind == "legs":
        only_fields(event, ("id", "kind", "legs"))
        legs = event.get("legs")
        if not isinstance(legs, list) or not 1 <= len(legs) <= MAX_LEGS:
            raise Malformed("legs must be an array of 1 to %d legs" % MAX_LEGS)
        parsed, sums = [], {}
        for leg in legs:
            if not isinstance(leg, dict):
                raise Malformed("a leg is not an object")
            only_fields(leg, ("account", "currency", "available", "frozen"))
            entry = (positive(leg, "account"), code(leg, "currency"),
                     integer(leg, "available", False, 0), integer(leg, "frozen", False, 0))
            parsed.append(entry)
            sums[entry[1]] = sums.get(entry[1], 0) + entry[2] + entry[3]
        if any(total != 0 for total in sums.values()):
            raise Malformed("legs do not sum to zero per currency")
        return (event_id, kind, tuple(parsed))
    raise Malformed("unknown kind %r" % kind)


def canonical_from_json(text):
    """Parse the ledger's rendering of one event; None if the model rejects it."""
    try:
        return parse(text)
    except Malformed:
        return None


def legs_of(content):
    """(account, currency, available delta, frozen delta) per README's table."""
    kind = content[1]
    if kind in ACCOUNT_KINDS:
        _, _, account, currency, amount = content
        return {
            "deposit": [(account, currency, amount, 0)],
            "withdraw": [(account, currency, -amount, 0)],
            "freeze": [(account, currency, -amount, amount)],
            "unfreeze": [(account, currency, amount, -amount)],
        }[kind]
    if kind == "transfer":
        _, _, source, target, currency, amount = content
        return [(source, currency, -amount, 0), (target, currency, amount, 0)]
    if kind == "trade":
        (_, _, buyer, seller, base, quote, base_amount, quote_amount,
         buyer_fee, seller_fee, fee_account) = content
        legs = [(buyer, quote, 0, -quote_amount), (buyer, base, base_amount - buyer_fee, 0),
                (seller, base, 0, -base_amount), (seller, quote, quote_amount - seller_fee, 0)]
        if fee_account is not None:
            legs += [(fee_account, base, buyer_fee, 0), (fee_account, quote, seller_fee, 0)]
        return legs
    return list(content[2])


class Rules:
    """Credit lines by (account, currency code) and suspended accounts."""

    def __init__(self):
        self.credit = {}
        self.suspended = set()

    def change(self, change, account, currency, value):
        """One row of axs.account_changes: change, account, currency, new_value."""
        if change == "credit_limit":
            self.credit[(account, currency)] = int(value)
        elif change == "suspend":
            self.suspended.add(account)
        elif change == "resume":
            self.suspended.discard(account)
        else:
            raise ValueError("unknown change %r" % change)


def decide(content, balances, currencies, rules, history):
    """Apply one event all or none; return its outcome ("applied" or the reason).

    An applied event adds to history, per balance it changed (a net change of
    zero is none), (id, available delta, frozen delta, available, frozen).
    """
    delta = {}
    for account, currency, available, frozen in legs_of(content):
        old = delta.get((account, currency), (0, 0))
        delta[(account, currency)] = (old[0] + available, old[1] + frozen)
    after = {}
    for key, (available, frozen) in delta.items():
        old = balances.get(key, (0, 0))
        after[key] = (old[0] + available, old[1] + frozen)
    if any(currency not in currencies for _, currency in after):
        return "unknown_currency"
    if any(not INT64_MIN <= value <= INT64_MAX
           for pairs in (after, delta) for pair in pairs.values() for value in pair):
        return "overflow"
    if any(key[0] in rules.suspended and available + frozen < 0
           for key, (available, frozen) in delta.items()):
        return "account_suspended"
    if any(delta[key][0] < 0 and available < -rules.credit.get(key, 0)
           for key, (available, _) in after.items()):
        return "insufficient_available"
    if any(frozen < 0 for _, frozen in after.values()):
        return "insufficient_frozen"
    balances.update(after)
    for key, (available, frozen) in delta.items():
        if available or frozen:
            history.setdefault(key, []).append((content[0], available, frozen) + after[key])
    return "applied"


def read_rows(path, columns):
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("|", columns - 1))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", action="append", required=True,
                        help="produced messages, one per line (repeatable, in any order)")
    parser.add_argument("--currencies", required=True, help="registered codes, one per line")
    parser.add_argument("--decided", required=True,
                        help="queue_position|id|outcome of axs.event_log, in queue order")
    parser.add_argument("--balances", required=True, help="account|code|available|frozen")
    parser.add_argument("--chosen", required=True,
                        help="id|event JSON: the ledger's rendering of ids sent with several contents")
    parser.add_argument("--conflicts", help="id|count of axs.id_conflicts: compared when given "
                        "(each message reached the queue exactly once)")
    parser.add_argument("--duplicates", type=int,
                        help="re-sent same-content copies the applier counted: compared when given "
                        "(each message reached the queue exactly once)")
    parser.add_argument("--dead-letters", type=int,
                        help="axs.dead_letters rows: must equal the malformed messages")
    parser.add_argument("--rules", help="watermark|change|account|currency|new_value of axs.account_changes, "
                        "in the order they were made: each applies to the events queued after its watermark")
    parser.add_argument("--history", help="account|code|event_id|available_delta|frozen_delta|available|frozen "
                        "of axs.history, each balance's rows in order: compared when given")
    parser.add_argument("--limit", type=int, default=10, help="disagreements shown per kind")
    args = parser.parse_args()

    problems = []

    def problem(kind, text):
        problems.append((kind, text))

    # 1. The messages: valid ones by id, malformed ones counted.
    messages = malformed = 0
    contents = {}           # id -> {content: copies}, in first-seen order
    for path in args.events:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            for line in handle:
                messages += 1
                try:
                    content = parse(line.rstrip("\n"))
                except Malformed:
                    malformed += 1
                    continue
                copies = contents.setdefault(content[0], {})
                copies[content] = copies.get(content, 0) + 1
    currencies = {line.strip() for line in open(args.currencies, encoding="utf-8") if line.strip()}
    chosen = {int(event_id): text for event_id, text in read_rows(args.chosen, 2)}

    # 2. Every decided event, in the ledger's order, decided again by the model,
    # with the credit lines and suspensions in force at its queue position.
    rules = Rules()
    changes = read_rows(args.rules, 5) if args.rules else []
    balances = {}
    history = {}
    outcomes = {"applied": 0}
    expected_conflicts = {}
    expected_duplicates = 0
    decided_ids = set()
    last_position = None
    for position, event_id, ledger_outcome in read_rows(args.decided, 3):
        event_id = int(event_id)
        if position == "":
            problem("order", "id %d was decided synchronously: no queue order to follow" % event_id)
            continue
        position = int(position)
        if last_position is not None and position <= last_position:
            problem("order", "queue positions not increasing at %d" % position)
        last_position = position
        while changes and int(changes[0][0]) < position:
            _, change, account, currency, value = changes.pop(0)
            rules.change(change, int(account), currency, value)
        if event_id in decided_ids:
            problem("ids", "id %d decided twice" % event_id)
            continue
        decided_ids.add(event_id)
        candidates = contents.get(event_id)
        if not candidates:
            problem("ids", "id %d decided by the ledger, but no valid message carries it" % event_id)
            continue
        if len(candidates) == 1:
            content = next(iter(candidates))
        else:
            content = canonical_from_json(chosen.get(event_id, "null"))
            if content not in candidates:
                problem("ids", "id %d: sent with %d contents; the ledger's (%s) is none of them"
                        % (event_id, len(candidates), chosen.get(event_id, "not given")))
                continue
        expected_conflicts[event_id] = sum(n for c, n in candidates.items() if c != content)
        expected_duplicates += candidates[content] - 1
        model_outcome = decide(content, balances, currencies, rules, history)
        outcomes[model_outcome] = outcomes.get(model_outcome, 0) + 1
        if model_outcome != ledger_outcome:
            problem("outcome", "id %d at queue position %d: the model says %s, the ledger %s"
                    % (event_id, position, model_outcome, ledger_outcome))
    for event_id in sorted(set(contents) - decided_ids):
        problem("ids", "id %d: a valid message carries it, but the ledger never decided it" % event_id)

    # 3. Conflicts and dead letters, when the caller can tell them exactly.
    if args.conflicts:
        recorded = {int(i): int(n) for i, n in read_rows(args.conflicts, 2)}
        for event_id in sorted(set(recorded) | {i for i, n in expected_conflicts.items() if n}):
            if recorded.get(event_id, 0) != expected_conflicts.get(event_id, 0):
                problem("conflicts", "id %d: %d messages with other content, %d rows in axs.id_conflicts"
                        % (event_id, expected_conflicts.get(event_id, 0), recorded.get(event_id, 0)))
    if args.duplicates is not None and args.duplicates != expected_duplicates:
        problem("duplicates", "%d re-sent copies of decided events, the applier counted %d"
                % (expected_duplicates, args.duplicates))
    if args.dead_letters is not None and args.dead_letters != malformed:
        problem("malformed", "%d malformed messages, %d dead letters" % (malformed, args.dead_letters))

    # 4. Every balance; a missing row is (0, 0).
    ledger = {}
    for account, currency, available, frozen in read_rows(args.balances, 4):
        ledger[(int(account), currency)] = (int(available), int(frozen))
    for key in sorted(set(balances) | set(ledger)):
        model, actual = balances.get(key, (0, 0)), ledger.get(key, (0, 0))
        if model != actual:
            problem("balance", "account %d %s: the model has available %d frozen %d, axs.balances %d %d"
                    % (key + model + actual))

    # 5. Every balance's history, row by row.
    history_rows = 0
    if args.history:
        recorded = {}
        for row in read_rows(args.history, 7):
            recorded.setdefault((int(row[0]), row[1]), []).append(tuple(int(v) for v in row[2:]))
        for key in sorted(set(history) | set(recorded)):
            model, actual = history.get(key, []), recorded.get(key, [])
            history_rows += len(model)
            if model != actual:
                at = next((i for i, (m, a) in enumerate(zip(model, actual)) if m != a), min(len(model), len(actual)))
                problem("history", "account %d %s: %d rows in the model, %d in axs.history; row %d: the model has %s, "
                        "axs.history %s" % (key + (len(model), len(actual), at + 1,
                                                   model[at] if at < len(model) else "none",
                                                   actual[at] if at < len(actual) else "none")))

    print("# model: %d messages, %d malformed, %d distinct valid ids, %d re-sent copies; "
          "%d decided in queue order: %s; %d balances; %s"
          % (messages, malformed, len(contents), expected_duplicates, len(decided_ids),
             ", ".join("%s %d" % kv for kv in sorted(outcomes.items())),
             len([k for k, v in balances.items() if v != (0, 0)]),
             "%d history rows" % history_rows if args.history else "history not compared"))
    shown = {}
    for kind, text in problems:
        shown[kind] = shown.get(kind, 0) + 1
        if shown[kind] <= args.limit:
            print("%s: %s" % (kind, text))
    for kind, count in sorted(shown.items()):
        if count > args.limit:
            print("%s: ... %d more" % (kind, count - args.limit))
    if problems:
        print("# model and ledger disagree: %s" % ", ".join("%d %s" % (n, k) for k, n in sorted(shown.items())))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
