def f = new File("/etc/passwd")
