return "abc" as Integer
