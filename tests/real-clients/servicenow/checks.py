"""A tiny check runner shared by the client scripts: every operation is one named check that
passes or fails on its own, so a run reports how many operations a client tried and how many
worked, not just the first failure.

The emulator to talk to comes from the environment:
  SNOW_URL            https://127.0.0.1:PORT (pysnc refuses plain http)
  SNOW_CA_BUNDLE      the emulator's self-signed certificate (PEM), trusted by the client
  SNOW_USER, SNOW_PASSWORD              a user the emulator knows
  SNOW_CLIENT_ID, SNOW_CLIENT_SECRET    an OAuth client the emulator knows
  SNOW_ONLY           optional: run only checks whose name contains this text
"""

import os
import sys
import traceback
import uuid


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: see the docstring of checks.py for what the scripts need")
    return value


class Checks:
    def __init__(self, client):
        self.client = client
        self.tried = 0
        self.working = 0
        self.failed = []
        self.only = os.environ.get("SNOW_ONLY", "")

    def check(self, name):
        """Decorator: runs the function at once as the check `name`."""

        def run(fn):
            if self.only and self.only not in name:
                return fn
            self.tried += 1
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - a check reports any failure
                self.failed.append(name)
                detail = "".join(traceback.format_exception_only(type(e), e)).strip()
                print(f"FAIL {self.client}: {name}: {detail}", flush=True)
                if os.environ.get("SNOW_TRACE"):
                    traceback.print_exc()
            else:
                self.working += 1
                print(f"ok   {self.client}: {name}", flush=True)
            return fn

        return run

    def finish(self):
        print(f"{self.client}: {self.working} of {self.tried} operations working", flush=True)
        if self.failed:
            print(f"{self.client}: failed: {', '.join(self.failed)}", flush=True)
        sys.exit(0 if not self.failed else 1)


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def expect_eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def tag():
    """A marker unique to one run, put in correlation_id so a query sees only its own rows."""
    return "rc" + uuid.uuid4().hex[:12]


# The rows every operator check queries: (short_description, urgency, category).
ROWS = [
    ("alpha printer on fire", "1", "network"),
    ("beta scanner jammed", "2", "hardware"),
    ("gamma printer out of paper", "3", ""),
]

# One check per operator of the encoded-query reference (tracker-apis.md §1.5): the term,
# and which of ROWS it must return (by the first word of short_description).
OPERATOR_CASES = [
    ("=", "urgency=1", {"alpha"}),
    ("!=", "urgency!=1", {"beta", "gamma"}),
    (">", "urgency>1", {"beta", "gamma"}),
    (">=", "urgency>=2", {"beta", "gamma"}),
    ("<", "urgency<2", {"alpha"}),
    ("<=", "urgency<=2", {"alpha", "beta"}),
    ("IN", "categoryINnetwork,hardware", {"alpha", "beta"}),
    ("NOT IN", "categoryNOT INnetwork", {"beta"}),
    ("LIKE", "short_descriptionLIKEprinter", {"alpha", "gamma"}),
    ("CONTAINS", "short_descriptionCONTAINSprinter", {"alpha", "gamma"}),
    ("NOT LIKE", "short_descriptionNOT LIKEprinter", {"beta"}),
    ("STARTSWITH", "short_descriptionSTARTSWITHbeta", {"beta"}),
    ("ENDSWITH", "short_descriptionENDSWITHpaper", {"gamma"}),
    ("ISEMPTY", "categoryISEMPTY", {"gamma"}),
    ("ISNOTEMPTY", "categoryISNOTEMPTY", {"alpha", "beta"}),
    ("ANYTHING", "categoryANYTHING", {"alpha", "beta", "gamma"}),
    ("INSTANCEOF", "sys_class_nameINSTANCEOFtask", {"alpha", "beta", "gamma"}),
    ("INSTANCEOF another table", "sys_class_nameINSTANCEOFproblem", set()),
    ("BETWEEN", "urgencyBETWEEN2@3", {"beta", "gamma"}),
    ("^OR", "urgency=1^ORurgency=3", {"alpha", "gamma"}),
    ("^EQ (the end of a list URL's filter)", "urgency=1^EQ", {"alpha"}),
    ("sys_class_name=", "sys_class_name=incident^urgency!=2", {"alpha", "gamma"}),
    ("sys_class_name= another table", "sys_class_name=problem", set()),
    ("RELATIVEGT", "sys_created_onRELATIVEGT@hour@ago@48", {"alpha", "beta", "gamma"}),
    ("RELATIVEGT ahead", "sys_created_onRELATIVEGT@hour@ahead@1", set()),
    ("RELATIVELT", "sys_created_onRELATIVELT@hour@ago@48", set()),
    ("javascript:gs.daysAgo", "sys_created_on>javascript:gs.daysAgo(1)", {"alpha", "beta", "gamma"}),
    ("javascript:gs.daysAgo before", "sys_created_on<javascript:gs.daysAgo(1)", set()),
    (
        "javascript:gs.beginningOfLast7Days",
        "sys_created_on>=javascript:gs.beginningOfLast7Days()",
        {"alpha", "beta", "gamma"},
    ),
    (
        "javascript:gs.beginningOfLast7Days before",
        "sys_created_on<javascript:gs.beginningOfLast7Days()",
        set(),
    ),
    (
        "javascript:gs.dateGenerate",
        "sys_created_on<javascript:gs.dateGenerate('2000-01-01','00:00:00')",
        set(),
    ),
]


def first_words(descriptions):
    return {d.split(" ")[0] for d in descriptions}


def connector_queries(rows):
    """The queries Tandem's ServiceNow connector sends (crates/connectors/src/servicenow/
    poll.rs, journal.rs, attachments.rs), through `rows(encoded_query, fields)`, which returns
    records as dicts of raw values. Raises on the first difference."""
    scope = f"correlation_id={rows.tag}"
    order = "ORDERBYsys_updated_on^ORDERBYsys_id"
    fields = ["sys_id", "sys_updated_on", "sys_mod_count"]
    every = rows(f"{scope}^sys_updated_on>=2000-01-01 00:00:00^{order}", fields)
    expect_eq(len(every), 3, "change window from a watermark")
    keys = [(r["sys_updated_on"], r["sys_id"]) for r in every]
    expect_eq(keys, sorted(keys), "ordered by sys_updated_on, then sys_id")
    t, first = keys[0]
    after = rows(f"{scope}^sys_updated_on>{t}^NQ{scope}^sys_updated_on={t}^sys_id>{first}^{order}", fields)
    expect_eq([r["sys_id"] for r in after], [k[1] for k in keys[1:]], "keyset page after the first row")
    two = rows(f"sys_idIN{keys[0][1]},{keys[2][1]}", fields)
    expect_eq(sorted(r["sys_id"] for r in two), sorted([keys[0][1], keys[2][1]]), "sys_idIN")
