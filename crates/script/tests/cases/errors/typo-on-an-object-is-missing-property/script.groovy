class Issue {
    String summary = "s"
    Map status = [name: "Done"]
}
def issue = new Issue()
return issue.statusd
