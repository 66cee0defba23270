replica.summary = issue.summry.trim()
