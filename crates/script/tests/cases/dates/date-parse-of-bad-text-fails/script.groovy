new java.text.SimpleDateFormat('yyyy-MM-dd').parse('not a date')
