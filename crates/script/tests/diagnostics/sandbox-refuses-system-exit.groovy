System.exit(1)
