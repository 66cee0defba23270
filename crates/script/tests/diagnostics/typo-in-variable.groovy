replica.summary = isue.summary
