"""ServiceNow's own Python client, pysnc, unmodified, against the emulator: one check per
operation. Run by tests/real_clients.rs; see checks.py for the environment it needs."""

import io

from pysnc import ServiceNowClient, ServiceNowPasswordGrantFlow
from pysnc.exceptions import AuthenticationException

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
CA = env("SNOW_CA_BUNDLE")
USER, PASSWORD = env("SNOW_USER"), env("SNOW_PASSWORD")
CLIENT_ID, CLIENT_SECRET = env("SNOW_CLIENT_ID"), env("SNOW_CLIENT_SECRET")

c = Checks("pysnc")
client = ServiceNowClient(URL, (USER, PASSWORD), verify=CA)
T = tag()
state = {}


def insert(table, **fields):
    gr = client.GlideRecord(table)
    gr.initialize()
    for k, v in fields.items():
        setattr(gr, k, v)
    sys_id = gr.insert()
    expect(sys_id, f"insert into {table} returned no sys_id")
    return str(sys_id)


def descriptions(encoded):
    gr = client.GlideRecord("incident")
    gr.add_encoded_query(f"correlation_id={T}^{encoded}")
    gr.query()
    return [gr.get_value("short_description") for _ in gr]


# --- CRUD --------------------------------------------------------------------------------
@c.check("insert a record")
def _():
    state["id"] = insert("incident", short_description="created by pysnc", urgency="2", correlation_id=T + "crud")


@c.check("get a record by sys_id")
def _():
    gr = client.GlideRecord("incident")
    expect(gr.get(state["id"]), "get returned False")
    expect_eq(gr.get_value("short_description"), "created by pysnc", "short_description")
    expect(gr.get_value("number").startswith("INC"), f"number {gr.get_value('number')}")


@c.check("get a record by a field")
def _():
    gr = client.GlideRecord("incident")
    expect(gr.get("correlation_id", T + "crud"), "get by field returned False")
    expect_eq(gr.get_value("sys_id"), state["id"], "sys_id")


@c.check("update a record")
def _():
    gr = client.GlideRecord("incident")
    expect(gr.get(state["id"]), "get returned False")
    gr.short_description = "updated by pysnc"
    gr.update()
    again = client.GlideRecord("incident")
    again.get(state["id"])
    expect_eq(again.get_value("short_description"), "updated by pysnc", "after update")


@c.check("display values come with values (sysparm_display_value=all)")
def _():
    gr = client.GlideRecord("incident")
    gr.get(state["id"])
    expect_eq(gr.get_value("urgency"), "2", "urgency value")
    expect_eq(gr.get_display_value("urgency"), "2 - Medium", "urgency display value")


@c.check("delete a record")
def _():
    gr = client.GlideRecord("incident")
    gr.get(state["id"])
    expect(gr.delete(), "delete returned False")
    expect(not client.GlideRecord("incident").get(state["id"]), "the record is still there")


# --- encoded queries ---------------------------------------------------------------------
@c.check("insert the rows the queries read")
def _():
    for desc, urgency, category in ROWS:
        insert("incident", short_description=desc, urgency=urgency, category=category, correlation_id=T)


for op, term, want in OPERATOR_CASES:

    @c.check(f"encoded query: {op} ({term})")
    def _(term=term, want=want):
        expect_eq(first_words(descriptions(term)), want, term)


@c.check("the connector's change-detection queries")
def _():
    def rows(encoded, fields):
        gr = client.GlideRecord("incident")
        gr.add_encoded_query(encoded)
        gr.fields = fields
        gr.query()
        return [{f: gr.get_value(f) for f in fields} for _ in gr]

    rows.tag = T
    connector_queries(rows)


@c.check("add_query with an operator (NOT LIKE)")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.add_query("short_description", "NOT LIKE", "printer")
    gr.query()
    expect_eq(first_words(gr.get_value("short_description") for _ in gr), {"beta"}, "rows")


@c.check("add_query with an or-condition")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    q = gr.add_query("urgency", "1")
    q.add_or_condition("urgency", "2")
    gr.query()
    expect_eq(first_words(gr.get_value("short_description") for _ in gr), {"alpha", "beta"}, "rows")


@c.check("add_null_query and add_not_null_query")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.add_null_query("category")
    gr.query()
    expect_eq(first_words(gr.get_value("short_description") for _ in gr), {"gamma"}, "null")
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.add_not_null_query("category")
    gr.query()
    expect_eq(first_words(gr.get_value("short_description") for _ in gr), {"alpha", "beta"}, "not null")


@c.check("encoded query: ^NQ (a new query)")
def _():
    gr = client.GlideRecord("incident")
    gr.add_encoded_query(f"correlation_id={T}^urgency=1^NQcorrelation_id={T}^urgency=3")
    gr.query()
    expect_eq(first_words(gr.get_value("short_description") for _ in gr), {"alpha", "gamma"}, "rows")


@c.check("order_by and order_by_desc")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.order_by("urgency")
    gr.query()
    expect_eq([gr.get_value("urgency") for _ in gr], ["1", "2", "3"], "ascending")
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.order_by_desc("urgency")
    gr.query()
    expect_eq([gr.get_value("urgency") for _ in gr], ["3", "2", "1"], "descending")


@c.check("get_row_count reads X-Total-Count")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.query()
    expect_eq(gr.get_row_count(), 3, "row count")


@c.check("dot-walked condition on a reference (caller_id.user_name)")
def _():
    user = insert("sys_user", user_name=T + ".caller", first_name="Beth", last_name="Anglin")
    state["caller"] = user
    insert("incident", short_description="delta called in", caller_id=user, correlation_id=T + "dot")
    insert("incident", short_description="epsilon nobody called", correlation_id=T + "dot")
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T + "dot")
    gr.add_query("caller_id.user_name", T + ".caller")
    gr.query()
    expect_eq(first_words(gr.get_value("short_description") for _ in gr), {"delta"}, "rows")


@c.check("a user's name is made of first and last name")
def _():
    gr = client.GlideRecord("sys_user")
    expect(gr.get(state["caller"]), "the user is missing")
    expect_eq(gr.get_value("name"), "Beth Anglin", "name")


@c.check("a reference displays the referenced record's name")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T + "dot")
    gr.add_not_null_query("caller_id")
    gr.query()
    expect(gr.next(), "no incident with a caller")
    expect_eq(gr.get_display_value("caller_id"), "Beth Anglin", "caller display value")


@c.check("active=false written on insert is kept")
def _():
    sys_id = insert("incident", short_description="inactive from the start", active="false", correlation_id=T + "inactive")
    gr = client.GlideRecord("incident")
    gr.get(sys_id)
    expect_eq(gr.get_value("active"), "false", "active")


# --- paging and parameters -----------------------------------------------------------------
@c.check("paging across several pages (batch_size 10, 25 rows)")
def _():
    for i in range(25):
        insert("incident", short_description=f"page row {i:02}", correlation_id=T + "page")
    gr = client.GlideRecord("incident", batch_size=10)
    gr.add_query("correlation_id", T + "page")
    gr.order_by("short_description")
    gr.query()
    got = [gr.get_value("short_description") for _ in gr]
    expect_eq(got, [f"page row {i:02}" for i in range(25)], "all rows in order")


@c.check("limit stops early")
def _():
    gr = client.GlideRecord("incident", batch_size=10)
    gr.add_query("correlation_id", T + "page")
    gr.limit = 12
    gr.query()
    expect_eq(len([1 for _ in gr]), 12, "rows")


@c.check("fields limits the columns (sysparm_fields)")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.fields = ["short_description", "urgency"]
    gr.query()
    expect(gr.next(), "no row")
    expect(gr.get_value("short_description"), "short_description missing")
    expect(gr.get_value("category") is None, f"category came back: {gr.get_value('category')!r}")


@c.check("display_value=true gives labels")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.add_query("urgency", "1")
    gr.display_value = True
    gr.query()
    expect(gr.next(), "no row")
    expect_eq(gr.get_value("urgency"), "1 - High", "urgency")


@c.check("exclude_reference_link=false keeps reference links")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T + "dot")
    gr.add_encoded_query("caller_idISNOTEMPTY")
    gr.exclude_reference_link = False
    gr.query()
    expect(gr.next(), "no row")
    link = gr.get_element("caller_id").get_link()
    expect(link and link.endswith("/api/now/table/sys_user/" + state["caller"]), f"link {link!r}")


# --- journals -----------------------------------------------------------------------------
@c.check("comments and work notes are written and read back from sys_journal_field")
def _():
    sys_id = insert("incident", short_description="journal", correlation_id=T + "journal")
    gr = client.GlideRecord("incident")
    gr.get(sys_id)
    gr.comments = "first public comment"
    gr.update()
    gr = client.GlideRecord("incident")
    gr.get(sys_id)
    gr.work_notes = "an internal note"
    gr.update()
    j = client.GlideRecord("sys_journal_field")
    j.add_query("element_id", sys_id)
    j.order_by("sys_created_on")
    j.query()
    got = sorted((j.get_value("element"), j.get_value("value")) for _ in j)
    expect_eq(got, [("comments", "first public comment"), ("work_notes", "an internal note")], "journal")
    state["journal"] = sys_id


@c.check("a journal field's display value holds the history")
def _():
    gr = client.GlideRecord("incident")
    gr.get(state["journal"])
    text = gr.get_display_value("comments")
    expect("first public comment" in text and "(Additional comments)" in text, f"comments {text!r}")


# --- attachments ----------------------------------------------------------------------------
@c.check("add an attachment")
def _():
    sys_id = insert("incident", short_description="with a file", correlation_id=T + "att")
    gr = client.GlideRecord("incident")
    gr.get(sys_id)
    location = gr.add_attachment("notes.txt", io.BytesIO(b"hello from pysnc"), "text/plain")
    expect("/attachment/" in location, f"location {location!r}")
    state["att_record"] = sys_id


@c.check("list and read attachments")
def _():
    gr = client.GlideRecord("incident")
    gr.get(state["att_record"])
    atts = gr.get_attachments()
    names = []
    for a in atts:
        names.append(a.file_name)
        expect_eq(a.read(), b"hello from pysnc", "content")
    expect_eq(names, ["notes.txt"], "attachments")


@c.check("get an attachment's metadata and delete it")
def _():
    gr = client.GlideRecord("incident")
    gr.get(state["att_record"])
    atts = gr.get_attachments()
    expect(atts.next(), "no attachment")
    att_id = atts.sys_id
    one = client.Attachment("incident")
    expect(one.get(att_id), "attachment get returned False")
    one.delete()
    expect(not client.Attachment("incident").get(att_id), "the attachment is still there")


# --- batch API ---------------------------------------------------------------------------------
@c.check("update_multiple goes through the Batch API")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T + "page")
    gr.query()
    for _ in gr:
        gr.category = "batched"
    expect(gr.update_multiple(), "update_multiple reported a failure")
    check = client.GlideRecord("incident")
    check.add_query("correlation_id", T + "page")
    check.add_query("category", "batched")
    check.query()
    expect_eq(check.get_row_count(), 25, "updated rows")


@c.check("delete_multiple goes through the Batch API")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T + "page")
    expect(gr.delete_multiple(), "delete_multiple reported a failure")
    check = client.GlideRecord("incident")
    check.add_query("correlation_id", T + "page")
    check.query()
    expect_eq(check.get_row_count(), 0, "rows left")


@c.check("a very long query goes through the Batch API")
def _():
    gr = client.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    values = [f"x{i:05}" for i in range(1500)] + ["alpha printer on fire"]
    gr.add_query("short_description", "NOT IN", ",".join(values))
    gr.query()
    expect_eq(first_words(gr.get_value("short_description") for _ in gr), {"beta", "gamma"}, "rows")


# --- OAuth ---------------------------------------------------------------------------------------
@c.check("OAuth password grant")
def _():
    oauth = ServiceNowClient(URL, ServiceNowPasswordGrantFlow(USER, PASSWORD, CLIENT_ID, CLIENT_SECRET), verify=CA)
    gr = oauth.GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.query()
    expect_eq(gr.get_row_count(), 3, "rows read with a bearer token")
    state["oauth"] = oauth


@c.check("OAuth refresh grant")
def _():
    session = state["oauth"].session
    old = session.token["access_token"]
    session.refresh_token(session.auto_refresh_url)
    expect(session.token["access_token"] != old, "the refresh gave the same access token")
    gr = state["oauth"].GlideRecord("incident")
    gr.add_query("correlation_id", T)
    gr.query()
    expect_eq(gr.get_row_count(), 3, "rows read with the refreshed token")


# --- errors -------------------------------------------------------------------------------------
@c.check("404: a missing record is not found")
def _():
    gr = client.GlideRecord("incident")
    expect(not gr.get("0" * 32), "get of a missing sys_id returned True")


@c.check("401: a wrong password is refused")
def _():
    bad = ServiceNowClient(URL, (USER, PASSWORD + "x"), verify=CA)
    gr = bad.GlideRecord("incident")
    try:
        gr.query()
    except AuthenticationException:
        return
    raise AssertionError("the query with a wrong password did not fail with 401")


@c.check("400: an unknown table is a bad request")
def _():
    from pysnc.exceptions import RequestException

    gr = client.GlideRecord("no_such_table")
    try:
        gr.query()
    except RequestException:
        return
    raise AssertionError("a query on an unknown table did not fail")


c.finish()
