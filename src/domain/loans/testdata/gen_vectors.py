"""Generates python-vectors.json: loan figures computed with Python's decimal module (the
library and default context of the legacy service), from the formulas of the loans contract
(§4.5 options, §5.1 schedules, §5.3 waterfall and remaining schedule, §6.2 payment status).

Run with the Python the legacy service used (3.11, C decimal):
    python3 gen_vectors.py > python-vectors.json
"""

import calendar
import hashlib
import json
import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def q2(v):
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


def rate_of(annual):
    return annual / Decimal("1200")


def level_payment(p, annual, n, zero):
    if n <= 0:
        return zero
    r = rate_of(annual)
    if r == 0:
        return q2(p / Decimal(n))
    f = (Decimal("1") + r) ** n
    return q2(p * r * f / (f - Decimal("1")))


def option(p, annual, n, method):
    if method == "PRINCIPAL_AND_INTEREST":
        pay = level_payment(p, annual, n, Decimal("0"))
        total = q2(pay * Decimal(n))
    else:
        pay = q2(p * rate_of(annual))
        total = q2(pay * Decimal(n) + p)
    return [str(annual.quantize(CENT, rounding=ROUND_HALF_UP)), str(pay), str(total), str(q2(total - p))]


def add_months(start, k):
    i = start.month - 1 + k
    y = start.year + i // 12
    m = i % 12 + 1
    return date(y, m, min(start.day, calendar.monthrange(y, m)[1]))


def schedule(p, annual, n, method, start):
    r = rate_of(annual)
    bal = p
    rows = []
    if method == "PRINCIPAL_AND_INTEREST":
        pay = level_payment(p, annual, n, Decimal("0.00"))
        est = pay
        for k in range(1, n + 1):
            i = q2(bal * r)
            pk = q2(pay - i)
            if k == n:
                pk = bal
                pay = q2(pk + i)
            bal = q2(bal - pk)
            rows.append([k, add_months(start, k), pay, pk, i, bal])
    else:
        mi = q2(p * r)
        est = mi
        for k in range(1, n + 1):
            pk = Decimal("0.00")
            pay = mi
            if k == n:
                pk = bal
                pay = q2(mi + pk)
            bal = q2(bal - pk)
            rows.append([k, add_months(start, k), pay, pk, mi, bal])
    return est, rows


def waterfall(rows, repayments):
    pl = [row[3] for row in rows]
    il = [row[4] for row in rows]
    for _, _, _, pp, ip in sorted(repayments, key=lambda x: (x[0], x[1])):
        for slots, pay in ((pl, pp), (il, ip)):
            for idx, left in enumerate(slots):
                if pay <= 0:
                    break
                if left <= 0:
                    continue
                applied = min(pay, left)
                slots[idx] = left - applied
                pay -= applied
    return pl, il


def digest(rows):
    """SHA-256 of the rows as `period,due_date,payment,principal,interest,remaining_balance`
    lines joined by newlines (keeps the vector file small)."""
    text = "\n".join(",".join(str(x) for x in row) for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def remaining(p, annual, n, method, start, repayments, as_of, include_paid):
    _, rows = schedule(p, annual, n, method, start)
    pl, il = waterfall(rows, [x for x in repayments if x[0] <= as_of])
    total = sum(pl, Decimal("0"))
    bal = total
    out = []
    for row, pd, idue in zip(rows, pl, il):
        due = q2(pd + idue)
        if due <= 0 and not include_paid:
            continue
        pr = q2(pd)
        bal = q2(bal - pr)
        out.append([row[0], row[1].isoformat(), str(due), str(pr), str(q2(idue)), str(bal)])
    term = n if include_paid else len(out)
    if method == "PRINCIPAL_AND_INTEREST":
        est = level_payment(total, annual, term, Decimal("0.00"))
    else:
        est = q2(total * rate_of(annual))
    return {"term_months": term, "principal": str(q2(total)), "estimated": str(est),
            "count": len(out), "digest": digest(out)}


def status(p, annual, n, method, start, repayments, as_of):
    _, rows = schedule(p, annual, n, method, start)
    pl, il = waterfall(rows, [x for x in repayments if x[0] <= as_of])
    nxt = None
    missed = []
    missed_total = Decimal("0")
    for row, pd, idue in zip(rows, pl, il):
        t = pd + idue
        if t <= 0:
            continue
        if nxt is None:
            nxt = [row[1].isoformat(), str(t), str(pd), str(idue)]
        if row[1] < as_of:
            missed.append(row[1].isoformat())
            missed_total += t
    pr = sum(pl, Decimal("0"))
    ir = sum(il, Decimal("0"))
    return {"next": nxt, "principal_remaining": str(pr), "interest_remaining": str(ir),
            "total_remaining": str(pr + ir), "missed_count": len(missed),
            "missed_first": missed[0] if missed else None, "missed_total": str(missed_total)}


def main():
    rnd = random.Random(20261207)
    rates = ["6.5", "6.5000", "7", "4.935", "4.94", "4.9350", "0", "0.0000", "3.81", "5", "7.5",
             "12", "18.25", "0.5", "0.0001", "1.125", "99.9999", "2.49", "9.99"]
    methods = ["PRINCIPAL_AND_INTEREST", "BALLOON"]
    options = []
    for _ in range(1000):
        p = q2(Decimal(rnd.randrange(1, 5_000_000_00)) / Decimal(100)) if rnd.random() < 0.8 \
            else Decimal(rnd.randrange(1, 999_999)) / Decimal(rnd.choice([1, 100, 1000]))
        annual = Decimal(rnd.choice(rates)) if rnd.random() < 0.6 \
            else Decimal(rnd.randrange(0, 30_0000)) / Decimal(10_000)
        n = rnd.randint(1, 120)
        m = rnd.choice(methods)
        options.append([str(p), str(annual), n, m, option(p, annual, n, m)])

    # Half-cent ties: principals for which P × annual / 1200 is exactly x.xx5, so the result
    # depends on the 28 significant digits of the monthly rate (Python rounds 7/1200 down and
    # 6.5/1200 up; the product then rounds back to the tie or not).
    ties = []
    while len(ties) < 300:
        annual = Decimal(rnd.randrange(1, 3000)) / Decimal(100)
        j = 2 * rnd.randrange(0, 5000) + 1
        p = Decimal(6 * j) / annual
        if p != p.quantize(CENT) or p > Decimal(10_000_000):
            continue
        p = p.quantize(CENT)
        n = rnd.randint(1, 60)
        m = rnd.choice(methods)
        ties.append([str(p), str(annual), n, m, option(p, annual, n, m)])
    options.extend(ties)

    schedules = []
    for case in range(240):
        p = (Decimal(rnd.randrange(1, 2_000_000_00)) / Decimal(100)).quantize(Decimal("0.000001"))
        if case % 3 == 0:
            # The first month's interest is a half-cent tie.
            while True:
                a = Decimal(rnd.randrange(1, 2500)) / Decimal(100)
                t = Decimal(6 * (2 * rnd.randrange(0, 20000) + 1)) / a
                if t == t.quantize(CENT):
                    p, annual_tie = t.quantize(Decimal("0.000001")), a.quantize(Decimal("0.0001"))
                    break
        annual = Decimal(rnd.choice(rates)) if rnd.random() < 0.5 \
            else (Decimal(rnd.randrange(0, 2_500)) / Decimal(100)).quantize(Decimal("0.0001"))
        if case % 3 == 0:
            annual = annual_tie
        n = rnd.randint(1, 36)
        m = rnd.choice(methods)
        start = date(2026, rnd.randint(1, 12), rnd.randint(1, 28))
        if rnd.random() < 0.2:
            start = date(rnd.choice([2027, 2028]), rnd.choice([1, 3, 5, 8, 10, 12]), 31)
        est, rows = schedule(p, annual, n, m, start)
        # Repayments: scheduled instalments paid in order, some with extra principal, at
        # assorted dates; amounts at numeric(18,6) as read back from the column.
        reps = []
        day = 0
        k = 0
        while k < n and rnd.random() < 0.85:
            row = rows[k]
            extra = Decimal(rnd.randrange(0, 20_000)) / Decimal(100) if rnd.random() < 0.2 else Decimal("0")
            pp = (row[3] + extra).quantize(Decimal("0.000001"))
            ip = row[4].quantize(Decimal("0.000001"))
            if rnd.random() < 0.1:
                pp = (pp / 2).quantize(Decimal("0.000001"))
            day += rnd.randint(0, 40)
            reps.append((date.fromordinal(start.toordinal() + day), len(reps), (pp + ip), pp, ip))
            k += 1
        as_of = date.fromordinal(start.toordinal() + rnd.randint(0, 60 * 31))
        include_paid = rnd.random() < 0.3
        schedules.append({
            "principal": str(p), "annual": str(annual), "n": n, "method": m, "start": start.isoformat(),
            "estimated": str(est),
            "digest": digest([[r[0], r[1].isoformat(), r[2], r[3], r[4], r[5]] for r in rows]),
            "last": [str(rows[-1][2]), str(rows[-1][3]), str(rows[-1][4])],
            # [payment_date, principal_amount, interest_amount]; amount = their sum, created in
            # list order.
            "repayments": [[r[0].isoformat(), str(r[3]), str(r[4])] for r in reps],
            "as_of": as_of.isoformat(), "include_paid": include_paid,
            "remaining": remaining(p, annual, n, m, start, reps, as_of, include_paid),
            "status": status(p, annual, n, m, start, reps, as_of),
        })
    json.dump({"options": options, "schedules": schedules}, fp=__import__("sys").stdout,
              separators=(",", ":"))


main()
