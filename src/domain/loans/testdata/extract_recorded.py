"""Copies the recorded legacy exchanges the loan unit tests compare against from the golden
samples (contract/samples/domain-loans.json and domain-loan-admin.json) into recorded.json:
name -> {"request": body or query, "status": int, "response": data, or the CSV text}.

    python3 extract_recorded.py <path of contract/samples> > recorded.json
"""

import json
import sys

WANTED = {
    "domain-loans.json": [
        "quote 400 variable_rate_missing (no desired type; VARIABLE allowed, no PBGC rate, no margin)",
        "quote 200 zero-rate FIXED P&I (principal / term)",
        "quote 200 SHARES 3500 FIXED P&I 12 (allocation across two grants)",
        "quote 200 PERCENT 50, no desired terms (all type x method options, term = min)",
        "quote 200 VARIABLE BALLOON 24 (rate = PBGC + margin, displayed rounded)",
        "quote 200 future as_of_date counts future vesting",
        "quote 400 invalid_selection percent > 100",
        "quote 400 invalid_selection shares not whole",
        "quote 400 invalid_selection results in zero shares",
        "quote 400 shares_exceed_eligibility",
        "quote 400 invalid_term below min",
        "quote 400 exercise_ineligible (no grants)",
        "quote 400 exercise_ineligible (service duration + min vested)",
        "quote 400 interest_type_not_allowed",
        "quote 400 repayment_method_not_allowed",
        "quote 400 shares_exceed_eligibility after reservation (available = vested - reserved)",
        "quote 400 no_exercisable_shares (everything reserved)",
        "quote 200 with 10 % down payment",
        "create draft 201 (to be overtaken by a policy change)",
        "patch 200 recalc refreshes policy snapshot (down payment applied)",
        "get SUBMITTED loan schedule 200 (no status check; starts from as_of_date)",
        "admin POST repayment 201 (scheduled period 1)",
        "admin POST repayment 201 (period 2 + 100.00 extra principal)",
        "schedule 200 after repayments (remaining entries, re-amortized estimate)",
        "schedule 200 include_paid=true",
        "schedule 200 as_of before the repayments (they are ignored)",
        "what-if 200 empty body (remaining principal, original terms, start = activation date)",
        "what-if 200 term 24 at 5 %",
        "what-if 200 BALLOON with explicit principal",
        "export 200 CSV",
        "export 200 fully paid (header only)",
    ],
    "domain-loan-admin.json": [
        "loan detail after activation (ACTIVE)",
        "record repayment 400 invalid_repayment_amount",
        "record repayment 400 invalid_principal_amount",
        "record repayment 400 invalid_interest_amount",
        "record repayment 400 principal_overpayment",
        "record repayment 400 interest_overpayment",
        "record scheduled repayment with registered evidence key",
        "record repayment with explicit amounts and an evidence file",
        "loan detail with payment status after two repayments",
        "record payoff repayment (extra principal and interest)",
        "record repayment 400 loan_fully_paid",
        "loan detail after payoff",
        "schedule (remaining, default as_of today)",
        "schedule include_paid=true",
        "schedule as_of before any repayment",
        "schedule of a SUBMITTED BALLOON loan (starts at as_of_date)",
        "what-if (as the SPA sends it)",
        "what-if with principal override",
        "schedule export CSV",
        "schedule export CSV include_paid for paid-off loan",
    ],
}

DETAIL_KEYS = [
    "status", "loan_principal", "nominal_annual_rate_percent", "term_months", "repayment_method",
    "activation_date", "as_of_date", "total_payable_amount", "next_payment_date",
    "next_payment_amount", "next_principal_due", "next_interest_due", "principal_remaining",
    "interest_remaining", "total_remaining", "missed_payment_count",
    "missed_payment_amount_total", "missed_payment_dates",
]


def main(base):
    out = {}
    for file, names in WANTED.items():
        exchanges = {e["name"]: e for e in json.load(open(f"{base}/{file}"))}
        for name in names:
            e = exchanges[name]
            body = e["response"]["body"]
            if isinstance(body, dict):
                data = body["data"] if body.get("data") is not None else {
                    k: body[k] for k in ("code", "message", "details")}
                if isinstance(data, dict) and "org_settings_snapshot" in data:
                    data = {k: data[k] for k in DETAIL_KEYS}
            else:
                data = body
            out[name] = {
                "request": e["request"]["body"] if e["request"]["body"] is not None
                else e["request"].get("query"),
                "status": e["response"]["status"],
                "response": data,
            }
    json.dump(out, sys.stdout, indent=1)


main(sys.argv[1])
