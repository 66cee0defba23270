"""A tiny check runner shared by the Jira client scripts: every operation is one named check
that passes or fails on its own, so a run reports how many operations a client tried and how
many worked, not just the first failure.

The emulator to talk to comes from the environment:
  JIRA_URL             http://127.0.0.1:PORT
  JIRA_USER            the signing-in user's e-mail
  JIRA_TOKEN           that user's API token
  JIRA_PROJECT         a project key the emulator has
  JIRA_MEMBER_EMAIL    another user's e-mail (to find and assign)
  JIRA_ONLY            optional: run only checks whose name contains this text
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
        self.only = os.environ.get("JIRA_ONLY", "")

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
                if os.environ.get("JIRA_TRACE"):
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
    """A label unique to one run, so a search sees only its own issues."""
    return "rc" + uuid.uuid4().hex[:12]


def adf(text):
    """A one-paragraph ADF document."""
    return {"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


def adf_text(doc):
    """The text of an ADF document."""
    out = []

    def walk(node):
        if node.get("type") == "text":
            out.append(node.get("text", ""))
        for child in node.get("content", []) or []:
            walk(child)

    walk(doc)
    return "".join(out)
