"""The `jira` Python library (pycontribs), unmodified, against the emulator as against Jira
Cloud: one check per operation an integration makes. It speaks REST v2 (wiki-markup strings),
which Jira Cloud serves beside v3, and searches through /search/jql as it does on Cloud.
Run by crates/emulators/tests/jira/real_clients.rs; see checks.py for the environment."""

import io

from jira import JIRA, JIRAError

from checks import Checks, env, expect, expect_eq, tag

URL = env("JIRA_URL")
USER, TOKEN = env("JIRA_USER"), env("JIRA_TOKEN")
PROJECT = env("JIRA_PROJECT")
MEMBER = env("JIRA_MEMBER_EMAIL")

c = Checks("pycontribs-jira")
jira = JIRA(server=URL, basic_auth=(USER, TOKEN))
T = tag()
state = {}


@c.check("server info says Cloud")
def _():
    info = jira.server_info()
    expect_eq(info["deploymentType"], "Cloud", "deploymentType")
    expect(jira._is_cloud, "the client treats the site as Cloud")


@c.check("myself")
def _():
    me = jira.myself()
    expect_eq(me["emailAddress"], USER, "emailAddress")
    expect(me["accountId"], "an accountId")
    state["me"] = me["accountId"]


@c.check("find a user by e-mail")
def _():
    users = jira.search_users(query=MEMBER)
    expect_eq([u.emailAddress for u in users], [MEMBER], "users found")
    state["member"] = users[0].accountId


@c.check("wrong token is refused")
def _():
    try:
        JIRA(server=URL, basic_auth=(USER, TOKEN + "x"), get_server_info=False).myself()
    except JIRAError as e:
        expect_eq(e.status_code, 401, "status")
    else:
        raise AssertionError("a wrong token signed in")


@c.check("fields include the custom fields")
def _():
    names = {f["name"]: f for f in jira.fields()}
    for name in ["Severity", "Location", "Story Points", "Target date", "Reviewer", "Watch team"]:
        expect(name in names and names[name]["custom"], f"custom field {name}")
    state["fields"] = {n: f["id"] for n, f in names.items()}


@c.check("project and its issue types")
def _():
    p = jira.project(PROJECT)
    expect_eq(p.key, PROJECT, "key")
    names = [t.name for t in p.issueTypes]
    expect("Sub-task" in names and "Task" in names, f"issue types {names}")
    expect(PROJECT in [x.key for x in jira.projects()], "listed in projects()")


@c.check("create an issue with custom fields")
def _():
    f = state["fields"]
    issue = jira.create_issue(
        fields={
            "project": {"key": PROJECT},
            "issuetype": {"name": "Task"},
            "summary": f"Printer on fire {T}",
            "description": "h2. Steps\n\n* smell smoke\n* see flames",
            "labels": [T, "printer"],
            "priority": {"name": "High"},
            f["Severity"]: {"value": "Sev 2"},
            f["Location"]: {"value": "EMEA", "child": {"value": "Berlin"}},
            f["Story Points"]: 5,
            f["Target date"]: "2030-01-31",
            f["Reviewer"]: {"accountId": state["member"]},
        }
    )
    expect(issue.key.startswith(PROJECT + "-"), f"key {issue.key}")
    state["key"] = issue.key


@c.check("read the issue back")
def _():
    f = state["fields"]
    issue = jira.issue(state["key"])
    expect_eq(issue.fields.summary, f"Printer on fire {T}", "summary")
    expect_eq(issue.fields.description, "h2. Steps\n\n* smell smoke\n* see flames", "description (wiki)")
    expect_eq(issue.fields.priority.name, "High", "priority")
    expect_eq(getattr(issue.fields, f["Severity"]).value, "Sev 2", "select")
    loc = getattr(issue.fields, f["Location"])
    expect_eq((loc.value, loc.child.value), ("EMEA", "Berlin"), "cascading select")
    expect_eq(getattr(issue.fields, f["Story Points"]), 5, "number")
    expect_eq(getattr(issue.fields, f["Target date"]), "2030-01-31", "date")
    expect_eq(getattr(issue.fields, f["Reviewer"]).accountId, state["member"], "user picker")
    expect_eq(issue.fields.status.name, "To Do", "initial status")
    expect_eq(issue.fields.reporter.accountId, state["me"], "reporter is the caller")


@c.check("edit fields")
def _():
    issue = jira.issue(state["key"])
    issue.update(summary=f"Printer on fire again {T}", fields={state["fields"]["Story Points"]: 8})
    again = jira.issue(state["key"])
    expect_eq(again.fields.summary, f"Printer on fire again {T}", "summary")
    expect_eq(getattr(again.fields, state["fields"]["Story Points"]), 8, "number")


@c.check("edit with update operations (labels add and remove)")
def _():
    issue = jira.issue(state["key"])
    issue.update(update={"labels": [{"add": "urgent"}, {"remove": "printer"}]})
    expect_eq(sorted(jira.issue(state["key"]).fields.labels), sorted([T, "urgent"]), "labels")


@c.check("an unknown field is refused with the field named")
def _():
    try:
        jira.issue(state["key"]).update(fields={"customfield_99999": "x"})
    except JIRAError as e:
        expect_eq(e.status_code, 400, "status")
        expect("customfield_99999" in (e.response.json().get("errors") or {}), e.text)
    else:
        raise AssertionError("an unknown field was accepted")


@c.check("assign the issue")
def _():
    jira.assign_issue(state["key"], state["member"])
    expect_eq(jira.issue(state["key"]).fields.assignee.emailAddress, MEMBER, "assignee")


@c.check("edit metadata")
def _():
    meta = jira.editmeta(state["key"])
    expect("summary" in meta["fields"], "summary is editable")
    expect("status" not in meta["fields"], "status is not editable")


@c.check("add, list, edit and delete comments")
def _():
    first = jira.add_comment(state["key"], "First *comment*")
    second = jira.add_comment(state["key"], "Second comment")
    comments = jira.comments(state["key"])
    expect_eq([x.body for x in comments], ["First *comment*", "Second comment"], "bodies")
    first.update(body="First comment, edited")
    expect_eq(jira.comment(state["key"], first.id).body, "First comment, edited", "edited body")
    second.delete()
    expect_eq([x.id for x in jira.comments(state["key"])], [first.id], "after delete")


@c.check("transitions available from To Do")
def _():
    names = [t["name"] for t in jira.transitions(state["key"])]
    expect_eq(names, ["Start progress"], "transitions")


@c.check("transition through the workflow to Done with a resolution")
def _():
    jira.transition_issue(state["key"], "Start progress")
    jira.transition_issue(state["key"], "Review")
    try:
        jira.transition_issue(state["key"], "Done")
    except JIRAError as e:
        expect_eq(e.status_code, 400, "Done without a resolution")
    else:
        raise AssertionError("Done went through without a resolution")
    jira.transition_issue(state["key"], "Done", fields={"resolution": {"name": "Done"}}, comment="Fixed it")
    issue = jira.issue(state["key"])
    expect_eq(issue.fields.status.name, "Done", "status")
    expect_eq(issue.fields.resolution.name, "Done", "resolution")
    expect(issue.fields.resolutiondate, "resolution date set")
    expect("Fixed it" in [x.body for x in jira.comments(state["key"])], "transition comment added")


@c.check("changelog records the status changes")
def _():
    issue = jira.issue(state["key"], expand="changelog")
    moves = [
        (i.fromString, i.toString)
        for h in issue.changelog.histories
        for i in h.items
        if i.field == "status"
    ]
    expect_eq(
        sorted(moves),
        sorted([("To Do", "In Progress"), ("In Progress", "In Review"), ("In Review", "Done")]),
        "status moves",
    )


@c.check("attach, download and delete a file")
def _():
    data = b"hello from the real client\n" * 10
    att = jira.add_attachment(issue=state["key"], attachment=io.BytesIO(data), filename="notes.txt")
    expect_eq(att.filename, "notes.txt", "filename")
    expect_eq(att.size, len(data), "size")
    expect_eq(att.get(), data, "downloaded bytes")
    issue = jira.issue(state["key"])
    expect_eq([a.filename for a in issue.fields.attachment], ["notes.txt"], "listed on the issue")
    jira.delete_attachment(att.id)
    expect_eq(jira.issue(state["key"]).fields.attachment, [], "after delete")


@c.check("create a sub-task under the issue")
def _():
    sub = jira.create_issue(
        project=PROJECT, issuetype={"name": "Sub-task"}, summary=f"Replace toner {T}", parent={"key": state["key"]}, labels=[T]
    )
    expect_eq(sub.fields.parent.key, state["key"], "parent")
    expect_eq([s.key for s in jira.issue(state["key"]).fields.subtasks], [sub.key], "subtasks")
    state["sub"] = sub.key


@c.check("search with JQL (labels, status, ORDER BY updated)")
def _():
    found = jira.search_issues(f'labels = {T} AND status = Done ORDER BY updated DESC')
    expect_eq([i.key for i in found], [state["key"]], "found")
    both = jira.search_issues(f'project = {PROJECT} AND labels = {T} AND updated >= "-1d" ORDER BY updated ASC')
    expect_eq(sorted(i.key for i in both), sorted([state["key"], state["sub"]]), "polling query")


@c.check("search pages with nextPageToken")
def _():
    for n in range(3):
        jira.create_issue(project=PROJECT, issuetype={"name": "Task"}, summary=f"page {n} {T}", labels=[T, "paging"])
    first = jira.enhanced_search_issues(f"labels = paging AND labels = {T} ORDER BY key", maxResults=2)
    expect_eq(len(first), 2, "first page")
    expect(first.nextPageToken, "a next page token")
    rest = jira.enhanced_search_issues(
        f"labels = paging AND labels = {T} ORDER BY key", maxResults=2, nextPageToken=first.nextPageToken
    )
    expect_eq(len(rest), 1, "last page")
    expect(not rest.nextPageToken, "no token on the last page")
    every = jira.search_issues(f"labels = paging AND labels = {T}", maxResults=False)
    expect_eq(len(every), 3, "all pages")


@c.check("key in (...) and a bad query's error")
def _():
    found = jira.search_issues(f"key in ({state['key']}, {state['sub']})")
    expect_eq(sorted(i.key for i in found), sorted([state["key"], state["sub"]]), "key in")
    try:
        jira.search_issues("nosuchfield = 1")
    except JIRAError as e:
        expect_eq(e.status_code, 400, "status")
    else:
        raise AssertionError("an unknown field was searched")


@c.check("delete an issue with its sub-tasks")
def _():
    jira.issue(state["key"]).delete(deleteSubtasks=True)
    for key in [state["key"], state["sub"]]:
        try:
            jira.issue(key)
        except JIRAError as e:
            expect_eq(e.status_code, 404, "status")
        else:
            raise AssertionError(f"{key} is still there")


c.finish()
