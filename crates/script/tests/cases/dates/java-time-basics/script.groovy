import java.time.*
import java.time.format.DateTimeFormatter
import java.time.temporal.ChronoUnit
def i = Instant.parse('2024-06-01T12:00:00Z')
def i2 = i.plusSeconds(3600)
def ld = LocalDate.of(2024, 1, 31)
def z = ZonedDateTime.of(2024, 3, 31, 1, 30, 0, 0, ZoneId.of('Europe/Paris'))
def dur = Duration.between(i, i2.plus(Duration.ofMinutes(5)))
[i.toString(), i2.toString(), i.toEpochMilli(), i.epochSecond, Instant.ofEpochSecond(0).toString(), Instant.ofEpochMilli(1500).toString(),
 ld.plusMonths(1).toString(), ld.plusDays(1).toString(), ld.dayOfWeek.toString(), ld.getYear(), ld.monthValue, ld.dayOfMonth,
 ld.isLeapYear(), LocalDate.parse('2024-03-01').minusDays(1).toString(), z.plusHours(1).toString(), z.toInstant().toString(),
 dur.toMinutes(), dur.toString(), Duration.ofHours(25).toDays(), Duration.ofSeconds(90).toString(), dur.seconds, dur.toMillis(),
 ld.format(DateTimeFormatter.ofPattern('dd.MM.yyyy')), ld.isBefore(LocalDate.of(2024, 2, 1)), ld.isAfter(LocalDate.of(2024, 2, 1)),
 ChronoUnit.DAYS.between(ld, LocalDate.of(2024, 3, 1)), i.isBefore(i2), i.compareTo(i2), ld == LocalDate.of(2024, 1, 31),
 ld.month.toString(), ld.dayOfYear, LocalDate.of(2023, 12, 31).plusWeeks(1).toString(), ld.withDayOfMonth(1).toString(),
 ld.lengthOfMonth(), Duration.ofMinutes(-90).toString(), Duration.ZERO.isZero(), Duration.ofDays(2).plusHours(3).toHours(),
 i.minus(Duration.ofDays(1)).toString(), i.plus(2, ChronoUnit.HOURS).toString(), ChronoUnit.MINUTES.between(i, i2)]
