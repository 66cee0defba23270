if (issue.summary) {
  replica.summary = issue.summary
