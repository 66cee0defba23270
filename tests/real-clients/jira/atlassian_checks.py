"""atlassian-python-api, unmodified, against the emulator as against Jira Cloud: its REST v3
client (`JiraCloud`, ADF bodies, /search/jql with nextPageToken, dynamic webhooks) and its
classic client (`Jira`, v2) for the helpers integrations lean on (set_issue_status, user
look-up by e-mail, file attachments). One check per operation.
Run by crates/emulators/tests/jira/real_clients.rs; see checks.py for the environment."""

import http.server
import json
import os
import tempfile
import threading
import time

from atlassian import Jira, JiraCloud
from requests import HTTPError

from checks import Checks, adf, adf_text, env, expect, expect_eq, tag

URL = env("JIRA_URL")
USER, TOKEN = env("JIRA_USER"), env("JIRA_TOKEN")
PROJECT = env("JIRA_PROJECT")
MEMBER = env("JIRA_MEMBER_EMAIL")

c = Checks("atlassian-python-api")
cloud = JiraCloud(URL, username=USER, password=TOKEN, api_version=3)
classic = Jira(URL, username=USER, password=TOKEN, cloud=True)
T = tag()
state = {}


def status_of(key):
    return cloud.get_issue(key, fields="status")["fields"]["status"]["name"]


@c.check("v3 myself")
def _():
    me = cloud.get_current_user()
    expect_eq(me["emailAddress"], USER, "emailAddress")
    state["me"] = me["accountId"]


@c.check("classic: find a user by e-mail")
def _():
    users = classic.user_find_by_user_string(query=MEMBER)
    expect_eq([u["emailAddress"] for u in users], [MEMBER], "users")
    state["member"] = users[0]["accountId"]


@c.check("v3 create metadata: issue types, then a type's fields")
def _():
    types = cloud.get_create_issue_meta_issue_types(PROJECT)["issueTypes"]
    by_name = {t["name"]: t for t in types}
    expect(by_name["Sub-task"]["subtask"], "Sub-task is a sub-task type")
    fields = cloud.get_create_issue_meta_issue_type_id(PROJECT, by_name["Bug"]["id"])["fields"]
    by_id = {f["fieldId"]: f for f in fields}
    expect(by_id["summary"]["required"] and by_id["project"]["required"], "required fields")
    loc = next(f for f in fields if f["name"] == "Location")
    expect_eq([o["value"] for o in loc["allowedValues"]], ["EMEA", "Americas"], "cascading parents")
    expect_eq([o["value"] for o in loc["allowedValues"][0]["children"]], ["Berlin", "London"], "children")
    state["bug"] = by_name["Bug"]["id"]
    state["fields"] = {f["name"]: f["fieldId"] for f in fields}


@c.check("v3 create an issue with an ADF description and custom fields")
def _():
    f = state["fields"]
    created = cloud.create_issue(
        data={
            "fields": {
                "project": {"key": PROJECT},
                "issuetype": {"id": state["bug"]},
                "summary": f"Scanner jammed {T}",
                "description": adf("The scanner on floor 3 is jammed."),
                "labels": [T],
                f["Severity"]: {"id": "10100"},
                f["Watch team"]: [{"accountId": state["member"]}, {"accountId": state["me"]}],
                f["Root cause"]: adf("Paper too thick"),
                "duedate": "2030-02-01",
                "components": [{"name": "Backend"}],
                "fixVersions": [{"name": "2.0"}],
            }
        }
    )
    expect(created["key"].startswith(PROJECT), f"key {created['key']}")
    state["key"] = created["key"]


@c.check("v3 read: ADF back, custom fields, names expanded")
def _():
    f = state["fields"]
    issue = cloud.get_issue(state["key"], expand="names")
    fields = issue["fields"]
    expect_eq(adf_text(fields["description"]), "The scanner on floor 3 is jammed.", "description")
    expect_eq(fields[f["Severity"]]["value"], "Sev 1", "select by id")
    expect_eq(sorted(u["accountId"] for u in fields[f["Watch team"]]), sorted([state["member"], state["me"]]), "multi-user")
    expect_eq(adf_text(fields[f["Root cause"]]), "Paper too thick", "paragraph field")
    expect_eq([x["name"] for x in fields["components"]], ["Backend"], "components")
    expect_eq([x["name"] for x in fields["fixVersions"]], ["2.0"], "fix versions")
    expect_eq(fields["duedate"], "2030-02-01", "due date")
    expect_eq(issue["names"][f["Severity"]], "Severity", "names")


@c.check("v3 a v2-style string description is refused")
def _():
    try:
        cloud.edit_issue(state["key"], data={"fields": {"description": "plain"}})
    except HTTPError as e:
        expect_eq(e.response.status_code, 400, "status")
    else:
        raise AssertionError("a plain string was taken as ADF")


@c.check("v3 edit and return the issue")
def _():
    issue = cloud.edit_issue(
        state["key"],
        return_issue=True,
        data={"fields": {"summary": f"Scanner jammed badly {T}"}, "update": {"labels": [{"add": "hardware"}]}},
    )
    expect_eq(issue["fields"]["summary"], f"Scanner jammed badly {T}", "summary")
    expect_eq(sorted(issue["fields"]["labels"]), sorted([T, "hardware"]), "labels")


@c.check("v3 edit metadata")
def _():
    meta = cloud.get_edit_issue_meta(state["key"])["fields"]
    expect_eq(meta["priority"]["allowedValues"][0]["name"], "Highest", "priorities")
    expect("status" not in meta, "status is not on the edit screen")


@c.check("v3 comments with ADF: add, page, edit, delete; internal comments marked")
def _():
    ids = []
    for n in range(3):
        ids.append(cloud.add_comment(state["key"], data={"body": adf(f"comment {n}")})["id"])
    internal = cloud.add_comment(
        state["key"],
        data={"body": adf("agents only"), "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]},
    )
    expect_eq(internal["jsdPublic"], False, "internal comment")
    page = cloud.get_comments(state["key"], start_at=1, max_results=2)
    expect_eq((page["startAt"], page["maxResults"], page["total"]), (1, 2, 4), "paging")
    expect_eq([adf_text(x["body"]) for x in page["comments"]], ["comment 1", "comment 2"], "page")
    edited = cloud.update_comment(state["key"], ids[0], data={"body": adf("comment 0, edited")})
    expect_eq(adf_text(edited["body"]), "comment 0, edited", "edited")
    cloud.delete_comment(state["key"], ids[1])
    left = [x["id"] for x in cloud.get_comments(state["key"])["comments"]]
    expect_eq(left, [ids[0], ids[2], internal["id"]], "after delete")


@c.check("v3 transitions with fields expanded")
def _():
    ts = cloud.get_transitions(state["key"], expand="transitions.fields")["transitions"]
    expect_eq([(t["name"], t["to"]["name"]) for t in ts], [("Start progress", "In Progress")], "from To Do")


@c.check("v3 do a transition; an unavailable one is refused")
def _():
    cloud.do_transition(state["key"], data={"transition": {"id": "21"}})
    expect_eq(status_of(state["key"]), "In Progress", "status")
    try:
        cloud.do_transition(state["key"], data={"transition": {"id": "71"}})
    except HTTPError as e:
        expect_eq(e.response.status_code, 400, "status")
    else:
        raise AssertionError("Reopen went through from In Progress")


@c.check("classic set_issue_status finds the transition by target status")
def _():
    classic.set_issue_status(state["key"], "In Review")
    expect_eq(status_of(state["key"]), "In Review", "status")
    classic.set_issue_status(state["key"], "Done", fields={"resolution": {"name": "Won't Do"}})
    issue = cloud.get_issue(state["key"], fields="status,resolution")
    expect_eq(issue["fields"]["status"]["name"], "Done", "status")
    expect_eq(issue["fields"]["resolution"]["name"], "Won't Do", "resolution")


@c.check("v3 changelog, oldest first")
def _():
    log = cloud.get_change_logs(state["key"])
    moves = [(i["fromString"], i["toString"]) for h in log["values"] for i in h["items"] if i["field"] == "status"]
    expect_eq(moves, [("To Do", "In Progress"), ("In Progress", "In Review"), ("In Review", "Done")], "moves")


@c.check("classic attach a file; v3 metadata and content; delete")
def _():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "trace.log")
        data = bytes(range(256)) * 8
        with open(path, "wb") as fh:
            fh.write(data)
        added = classic.add_attachment(state["key"], path)
    att = added[0] if isinstance(added, list) else added
    expect_eq(att["filename"], "trace.log", "filename")
    content = cloud.get_attachment_content(att["id"], not_json_response=True)
    expect_eq(content, data, "content")
    meta = cloud.get_attachment(att["id"])
    expect_eq(meta["size"], len(data), "size")
    cloud.remove_attachment(att["id"])
    expect_eq(cloud.get_issue(state["key"], fields="attachment")["fields"]["attachment"], [], "after delete")


@c.check("attachments without the XSRF header are refused")
def _():
    r = cloud._session.post(
        f"{URL}/rest/api/3/issue/{state['key']}/attachments", files={"file": ("x.txt", b"x")}
    )
    expect_eq(r.status_code, 403, "status")


@c.check("v3 search/jql pages with nextPageToken and no total")
def _():
    for n in range(4):
        cloud.create_issue(
            data={"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}, "summary": f"p{n} {T}", "labels": [T, "pg"]}}
        )
    jql = f"labels = pg AND labels = {T} ORDER BY created ASC"
    first = cloud.enhanced_jql(jql, fields="summary", limit=3)
    expect_eq([i["fields"]["summary"] for i in first["issues"]], [f"p0 {T}", f"p1 {T}", f"p2 {T}"], "page 1")
    expect("total" not in first and first["isLast"] is False, "no total; not last")
    second = cloud.enhanced_jql(jql, fields="summary", limit=3, nextPageToken=first["nextPageToken"])
    expect_eq([i["fields"]["summary"] for i in second["issues"]], [f"p3 {T}"], "page 2")
    expect(second["isLast"] and "nextPageToken" not in second, "last page")
    every = cloud.enhanced_jql_get_list_of_tickets(jql, fields="summary", limit=10)
    expect_eq(len(every), 4, "all pages")


@c.check("v3 search/jql without fields returns ids only; unbounded JQL refused")
def _():
    r = cloud.search_and_reconsile_issues_using_jql(jql=f"key = {state['key']}")
    expect_eq(r["issues"], [{"id": cloud.get_issue(state["key"], fields="summary")["id"]}], "ids only")
    try:
        cloud.search_and_reconsile_issues_using_jql(jql="ORDER BY updated")
    except HTTPError as e:
        expect_eq(e.response.status_code, 400, "status")
    else:
        raise AssertionError("unbounded JQL was run")


@c.check("v3 search POST with OR, status and updated window")
def _():
    r = cloud.search_and_reconsile_issues_using_jql_post(
        data={
            "jql": f'labels = {T} AND (status = Done OR summary ~ "p3") AND updated >= "-10m" ORDER BY updated DESC',
            "fields": ["summary", "status"],
            "maxResults": 10,
        }
    )
    expect_eq(len(r["issues"]), 2, f"found {[i['fields']['summary'] for i in r['issues']]}")


@c.check("v3 approximate count")
def _():
    expect_eq(cloud.count_issues(data={"jql": f"labels = {T}"})["count"], 5, "count")


class Receiver(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.got.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@c.check("v3 register a webhook; the emulator calls it on change")
def _():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        reg = cloud.register_dynamic_webhooks(
            data={"url": url, "webhooks": [{"events": ["jira:issue_updated", "comment_created"], "jqlFilter": f"project = {PROJECT}"}]}
        )
        hook = reg["webhookRegistrationResult"][0]["createdWebhookId"]
        expect(hook in [w["id"] for w in cloud.get_dynamic_webhooks_for_app()["values"]], "listed")
        cloud.edit_issue(state["key"], data={"fields": {"summary": f"Webhook test {T}"}})
        cloud.add_comment(state["key"], data={"body": adf("hook me")})
        deadline = time.time() + 20
        while time.time() < deadline:
            events = {(g["webhookEvent"], g["issue"]["key"]) for g in Receiver.got}
            if {("jira:issue_updated", state["key"]), ("comment_created", state["key"])} <= events:
                break
            time.sleep(0.05)
        events = [(g["webhookEvent"], g["issue"]["key"], g.get("matchedWebhookIds")) for g in Receiver.got]
        expect(("jira:issue_updated", state["key"], [hook]) in events, f"issue_updated in {events}")
        expect(("comment_created", state["key"], [hook]) in events, f"comment_created in {events}")
        changed = next(g for g in Receiver.got if g["webhookEvent"] == "jira:issue_updated")
        expect_eq([i["field"] for i in changed["changelog"]["items"]], ["summary"], "changelog")
        cloud.delete_webhook_by_id(data={"webhookIds": [hook]})
        expect(hook not in [w["id"] for w in cloud.get_dynamic_webhooks_for_app()["values"]], "deleted")
    finally:
        server.shutdown()


@c.check("v3 delete the issue")
def _():
    cloud.delete_issue(state["key"])
    try:
        cloud.get_issue(state["key"])
    except HTTPError as e:
        expect_eq(e.response.status_code, 404, "status")
    else:
        raise AssertionError("the issue is still there")


c.finish()
