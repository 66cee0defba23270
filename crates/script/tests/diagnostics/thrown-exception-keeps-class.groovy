if (issue.key == "A-1") {
  throw new com.exalate.api.exception.IssueTrackerException("A-1 must not sync")
}
