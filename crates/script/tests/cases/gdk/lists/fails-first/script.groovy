[].first()
