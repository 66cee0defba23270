"""The community client pysnow, unmodified, against the emulator: one check per operation.
Run by tests/real_clients.rs; see checks.py for the environment it needs (pysnow trusts the
emulator's certificate through REQUESTS_CA_BUNDLE, as requests reads it)."""

import os
import tempfile
import time
from urllib.parse import urlsplit

import pysnow
import requests
from pysnow.exceptions import NoResults

from checks import (
    OPERATOR_CASES,
    ROWS,
    Checks,
    connector_queries,
    env,
    expect,
    expect_eq,
    first_words,
    tag,
)

URL = env("SNOW_URL")
os.environ.setdefault("REQUESTS_CA_BUNDLE", env("SNOW_CA_BUNDLE"))
HOST = urlsplit(URL).netloc
USER, PASSWORD = env("SNOW_USER"), env("SNOW_PASSWORD")
CLIENT_ID, CLIENT_SECRET = env("SNOW_CLIENT_ID"), env("SNOW_CLIENT_SECRET")

c = Checks("pysnow")
client = pysnow.Client(host=HOST, user=USER, password=PASSWORD, use_ssl=True)
T = tag()
state = {}


def table(name, base_path="/api/now"):
    return client.resource(api_path=f"/table/{name}", base_path=base_path)


def rows(query, **kwargs):
    return table("incident").get(query=query, **kwargs).all()


def scoped(term):
    return [r["short_description"] for r in rows(f"correlation_id={T}^{term}")]


# --- CRUD --------------------------------------------------------------------------------
@c.check("create a record")
def _():
    r = table("incident").create(payload={"short_description": "created by pysnow", "urgency": "2", "correlation_id": T + "crud"})
    state["id"] = r["sys_id"]
    expect(r["number"].startswith("INC"), f"number {r['number']}")


@c.check("get one record (sends an empty sysparm_fields)")
def _():
    r = table("incident").get(query={"sys_id": state["id"]}).one()
    expect_eq(r["short_description"], "created by pysnow", "short_description")


@c.check("get by a versioned path (/api/now/v2/table)")
def _():
    r = table("incident", base_path="/api/now/v2").get(query={"sys_id": state["id"]}).one()
    expect_eq(r["sys_id"], state["id"], "sys_id")


@c.check("get by the v1 path (/api/now/v1/table)")
def _():
    r = table("incident", base_path="/api/now/v1").get(query={"sys_id": state["id"]}).one()
    expect_eq(r["sys_id"], state["id"], "sys_id")


@c.check("update a record")
def _():
    r = table("incident").update(query={"sys_id": state["id"]}, payload={"short_description": "updated by pysnow"})
    expect_eq(r["short_description"], "updated by pysnow", "returned record")
    again = table("incident").get(query={"sys_id": state["id"]}).one()
    expect_eq(again["short_description"], "updated by pysnow", "stored record")


@c.check("delete a record")
def _():
    r = table("incident").delete(query={"sys_id": state["id"]})
    expect_eq(r, {"status": "record deleted"}, "delete result")
    try:
        table("incident").get(query={"sys_id": state["id"]}).one()
    except NoResults:
        return
    raise AssertionError("the record is still there")


# --- encoded queries ---------------------------------------------------------------------
@c.check("create the rows the queries read")
def _():
    for desc, urgency, category in ROWS:
        table("incident").create(payload={"short_description": desc, "urgency": urgency, "category": category, "correlation_id": T})


for op, term, want in OPERATOR_CASES:

    @c.check(f"encoded query: {op} ({term})")
    def _(term=term, want=want):
        expect_eq(first_words(scoped(term)), want, term)


@c.check("the connector's change-detection queries")
def _():
    def rows_of(encoded, fields):
        return rows(encoded, fields=fields)

    rows_of.tag = T
    connector_queries(rows_of)


def built(q):
    return first_words(r["short_description"] for r in rows(q))


def base():
    return pysnow.QueryBuilder().field("correlation_id").equals(T).AND()


@c.check("QueryBuilder: not_contains (NOT LIKE)")
def _():
    expect_eq(built(base().field("short_description").not_contains("printer")), {"beta"}, "rows")


@c.check("QueryBuilder: contains, starts_with, ends_with")
def _():
    expect_eq(built(base().field("short_description").contains("printer")), {"alpha", "gamma"}, "contains")
    expect_eq(built(base().field("short_description").starts_with("beta")), {"beta"}, "starts_with")
    expect_eq(built(base().field("short_description").ends_with("paper")), {"gamma"}, "ends_with")


@c.check("QueryBuilder: equals a list (IN) and not_equals a list (NOT IN)")
def _():
    expect_eq(built(base().field("category").equals(["network", "hardware"])), {"alpha", "beta"}, "IN")
    expect_eq(built(base().field("category").not_equals(["network"])), {"beta"}, "NOT IN")


@c.check("QueryBuilder: greater_than, less_than_or_equal")
def _():
    expect_eq(built(base().field("urgency").greater_than(1)), {"beta", "gamma"}, ">")
    expect_eq(built(base().field("urgency").less_than_or_equal(2)), {"alpha", "beta"}, "<=")


@c.check("QueryBuilder: is_empty, is_not_empty")
def _():
    expect_eq(built(base().field("category").is_empty()), {"gamma"}, "ISEMPTY")
    expect_eq(built(base().field("category").is_not_empty()), {"alpha", "beta"}, "ISNOTEMPTY")


@c.check("QueryBuilder: OR and NQ")
def _():
    q = base().field("urgency").equals("1").OR().field("urgency").equals("3")
    expect_eq(built(q), {"alpha", "gamma"}, "OR")
    q = base().field("urgency").equals("1").NQ().field("correlation_id").equals(T).AND().field("urgency").equals("2")
    expect_eq(built(q), {"alpha", "beta"}, "NQ")


@c.check("QueryBuilder: order_descending")
def _():
    q = base().field("urgency").order_descending()
    got = [r["urgency"] for r in rows(q)]
    expect_eq(got, ["3", "2", "1"], "order")


@c.check("QueryBuilder: between two dates")
def _():
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    q = base().field("sys_created_on").between(now - timedelta(days=1), now + timedelta(days=1))
    expect_eq(built(q), {"alpha", "beta", "gamma"}, "BETWEEN around now")
    q = base().field("sys_created_on").between(now - timedelta(days=3), now - timedelta(days=2))
    expect_eq(built(q), set(), "BETWEEN in the past")


@c.check("QueryBuilder: greater_than a date-time")
def _():
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    expect_eq(built(base().field("sys_created_on").greater_than(now - timedelta(hours=1))), {"alpha", "beta", "gamma"}, "after an hour ago")
    expect_eq(built(base().field("sys_created_on").greater_than(now + timedelta(hours=1))), set(), "after an hour ahead")


@c.check("a plain dict query (field=value)")
def _():
    got = rows({"correlation_id": T, "urgency": "2"})
    expect_eq(first_words(r["short_description"] for r in got), {"beta"}, "rows")


@c.check("dot-walked condition on a reference (caller_id.user_name)")
def _():
    user = table("sys_user").create(payload={"user_name": T + ".caller", "first_name": "Beth", "last_name": "Anglin"})
    state["caller"] = user["sys_id"]
    table("incident").create(payload={"short_description": "delta called in", "caller_id": user["sys_id"], "correlation_id": T + "dot"})
    table("incident").create(payload={"short_description": "epsilon nobody called", "correlation_id": T + "dot"})
    got = rows(f"correlation_id={T}dot^caller_id.user_name={T}.caller")
    expect_eq(first_words(r["short_description"] for r in got), {"delta"}, "rows")


@c.check("a user's name is made of first and last name")
def _():
    u = table("sys_user").get(query={"sys_id": state["caller"]}).one()
    expect_eq(u["name"], "Beth Anglin", "name")


@c.check("active=false written on insert is kept")
def _():
    r = table("incident").create(payload={"short_description": "inactive", "active": "false", "correlation_id": T + "inactive"})
    expect_eq(r["active"], "false", "active")


# --- paging and parameters -----------------------------------------------------------------
@c.check("paging across several pages (limit 10, 25 rows)")
def _():
    for i in range(25):
        table("incident").create(payload={"short_description": f"page row {i:02}", "correlation_id": T + "page"})
    got, offset = [], 0
    while True:
        page = table("incident").get(query=f"correlation_id={T}page^ORDERBYshort_description", limit=10, offset=offset).all()
        got.extend(r["short_description"] for r in page)
        if len(page) < 10:
            break
        offset += 10
    expect_eq(got, [f"page row {i:02}" for i in range(25)], "rows in order")


@c.check("the Link header pages through every row (as the connector follows it)")
def _():
    import re

    response = table("incident").get(query=f"correlation_id={T}page^ORDERBYshort_description", limit=10)
    expect_eq(response.headers.get("X-Total-Count"), "25", "X-Total-Count")
    got = [r["short_description"] for r in response.all()]
    link = response.headers.get("Link", "")
    pages = 1
    while True:
        nxt = re.search(r'<([^>]+)>;rel="next"', link)
        if not nxt:
            break
        page = client.session.get(nxt.group(1))
        page.raise_for_status()
        got.extend(r["short_description"] for r in page.json()["result"])
        link = page.headers.get("Link", "")
        pages += 1
    expect_eq(pages, 3, "pages")
    expect_eq(got, [f"page row {i:02}" for i in range(25)], "rows in order")


@c.check("streamed results (stream=True)")
def _():
    got = list(table("incident").get(query=f"correlation_id={T}page", stream=True).all())
    expect_eq(len(got), 25, "rows")


@c.check("fields limits the columns (sysparm_fields)")
def _():
    got = rows(f"correlation_id={T}", fields=["short_description", "urgency"])
    expect_eq(len(got), 3, "rows")
    expect_eq(set(got[0]), {"short_description", "urgency"}, "columns")


@c.check("display_value=True gives labels")
def _():
    got = rows(f"correlation_id={T}^urgency=1", display_value=True)
    expect_eq(got[0]["urgency"], "1 - High", "urgency")


@c.check("display_value='all' gives both")
def _():
    got = rows(f"correlation_id={T}^urgency=1", display_value="all")
    expect_eq(got[0]["urgency"], {"display_value": "1 - High", "value": "1"}, "urgency")


@c.check("a reference comes with a link, and without it when excluded")
def _():
    with_link = rows(f"correlation_id={T}dot^caller_idISNOTEMPTY")[0]["caller_id"]
    expect(isinstance(with_link, dict) and with_link["link"].endswith("/sys_user/" + state["caller"]), f"{with_link!r}")
    without = rows(f"correlation_id={T}dot^caller_idISNOTEMPTY", exclude_reference_link=True)[0]["caller_id"]
    expect_eq(without, state["caller"], "caller_id without link")


@c.check("a reference displays the referenced record's name")
def _():
    got = rows(f"correlation_id={T}dot^caller_idISNOTEMPTY", display_value=True, exclude_reference_link=True)
    expect_eq(got[0]["caller_id"], "Beth Anglin", "caller display value")


# --- journals -----------------------------------------------------------------------------
@c.check("comments and work notes are written and read back from sys_journal_field")
def _():
    r = table("incident").create(payload={"short_description": "journal", "correlation_id": T + "journal"})
    sys_id = r["sys_id"]
    table("incident").update(query={"sys_id": sys_id}, payload={"comments": "first public comment"})
    table("incident").update(query={"sys_id": sys_id}, payload={"work_notes": "an internal note"})
    got = table("sys_journal_field").get(query=f"element_idIN{sys_id}^elementINcomments,work_notes^ORDERBYsys_created_on").all()
    pairs = sorted((j["element"], j["value"]) for j in got)
    expect_eq(pairs, [("comments", "first public comment"), ("work_notes", "an internal note")], "journal")
    state["journal"] = sys_id


@c.check("a journal field's display value holds the history")
def _():
    r = table("incident").get(query={"sys_id": state["journal"]}, fields=["comments_and_work_notes"], display_value=True).one()
    text = r["comments_and_work_notes"]
    expect("first public comment" in text and "an internal note" in text, f"{text!r}")


# --- attachments ----------------------------------------------------------------------------
@c.check("upload an attachment")
def _():
    r = table("incident").create(payload={"short_description": "with a file", "correlation_id": T + "att"})
    state["att_record"] = r["sys_id"]
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(b"hello from pysnow")
        path = f.name
    up = table("incident").attachments.upload(r["sys_id"], path, name="notes.txt")
    expect_eq(up["file_name"], "notes.txt", "file_name")
    state["att"] = up["sys_id"]


@c.check("list attachments")
def _():
    got = table("incident").attachments.get(state["att_record"])
    expect_eq([a["file_name"] for a in got], ["notes.txt"], "attachments")


@c.check("download an attachment through a versioned path (/api/now/v1/attachment)")
def _():
    att = client.resource(api_path="/attachment", base_path="/api/now/v1")
    response = att.request("GET", path_append=f"/{state['att']}")
    expect_eq(response.one()["file_name"], "notes.txt", "metadata")


@c.check("delete an attachment")
def _():
    table("incident").attachments.delete(state["att"])
    expect_eq(table("incident").attachments.get(state["att_record"]), [], "attachments left")


# --- aggregate API ---------------------------------------------------------------------------
@c.check("count with the Aggregate API (/api/now/stats)")
def _():
    stats = client.resource(api_path="/stats/incident")
    stats.parameters.add_custom({"sysparm_count": "true"})
    r = stats.get(query=f"correlation_id={T}").one()
    expect_eq(r["stats"]["count"], "3", "count")


@c.check("group counts with the Aggregate API")
def _():
    stats = client.resource(api_path="/stats/incident")
    stats.parameters.add_custom({"sysparm_count": "true", "sysparm_group_by": "urgency"})
    got = stats.get(query=f"correlation_id={T}").all()
    counts = {g["groupby_fields"][0]["value"]: g["stats"]["count"] for g in got}
    expect_eq(counts, {"1": "1", "2": "1", "3": "1"}, "counts")


# --- OAuth ---------------------------------------------------------------------------------------
@c.check("OAuth password grant")
def _():
    o = pysnow.OAuthClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, host=HOST, use_ssl=True, token_updater=lambda t: state.update(refreshed=t))
    token = o.generate_token(USER, PASSWORD)
    o.set_token(token)
    got = o.resource(api_path="/table/incident").get(query=f"correlation_id={T}").all()
    expect_eq(len(got), 3, "rows with a bearer token")
    state["oauth"], state["token"] = o, token


@c.check("OAuth refresh grant (an expired token is refreshed)")
def _():
    o, token = state["oauth"], dict(state["token"])
    token["expires_at"] = time.time() - 60
    token["expires_in"] = -60
    o.set_token(token)
    got = o.resource(api_path="/table/incident").get(query=f"correlation_id={T}").all()
    expect_eq(len(got), 3, "rows after the refresh")
    expect("refreshed" in state and state["refreshed"]["access_token"] != token["access_token"], "no new token")


# --- errors -------------------------------------------------------------------------------------
def status_of(fn):
    try:
        fn()
    except requests.HTTPError as e:
        return e.response.status_code
    return None


@c.check("404: a missing record")
def _():
    code = status_of(lambda: table("incident").request("GET", path_append="/" + "0" * 32).one())
    expect_eq(code, 404, "status")


@c.check("401: a wrong password")
def _():
    bad = pysnow.Client(host=HOST, user=USER, password=PASSWORD + "x", use_ssl=True)
    code = status_of(lambda: bad.resource(api_path="/table/incident").get(query={}).all())
    expect_eq(code, 401, "status")


@c.check("400: a negative offset")
def _():
    code = status_of(lambda: table("incident").get(query={}, offset=-1).all())
    expect_eq(code, 400, "status")


c.finish()
