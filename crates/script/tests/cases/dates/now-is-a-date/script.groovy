def a = new Date()
def b = new Date()
def i = java.time.Instant.now()
def t = System.currentTimeMillis()
[a instanceof Date, !b.before(a), a.time > 1600000000000L, i.toEpochMilli() >= a.time, t >= a.time,
 java.time.LocalDate.now().year >= 2024, java.time.ZonedDateTime.now(java.time.ZoneId.of('UTC')).year >= 2024]
