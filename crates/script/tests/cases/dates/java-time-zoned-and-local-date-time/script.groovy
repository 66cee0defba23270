import java.time.*
import java.time.format.DateTimeFormatter
def z = ZonedDateTime.parse('2024-06-01T12:00:00+02:00[Europe/Paris]')
def utc = z.withZoneSameInstant(ZoneId.of('UTC'))
def ldt = LocalDateTime.of(2024, 2, 28, 23, 45)
def ny = ldt.atZone(ZoneId.of('America/New_York'))
[z.toString(), utc.toString(), z.hour, utc.hour, z.toLocalDate().toString(), z.format(DateTimeFormatter.ISO_LOCAL_DATE),
 z.format(DateTimeFormatter.ofPattern('yyyy-MM-dd HH:mm z')), ldt.plusMinutes(30).toString(), ldt.plusDays(1).toLocalDate().toString(),
 ny.toInstant().toString(), ny.toEpochSecond(), z.toInstant().toEpochMilli(), LocalDateTime.parse('2024-06-01T08:15:30').toString(),
 ldt.format(DateTimeFormatter.ofPattern('dd/MM/yyyy HH:mm')), z.zone.toString(), z.offset.toString(), ZonedDateTime.parse('2024-01-01T00:00:00Z').toString(),
 Instant.parse('2024-06-01T12:00:00Z').atZone(ZoneId.of('Asia/Tokyo')).toLocalDateTime().toString(), LocalDate.of(2024, 6, 1).atStartOfDay().toString(),
 z.format(DateTimeFormatter.ISO_OFFSET_DATE_TIME), ldt.dayOfWeek.toString(), ldt.toLocalDate() < LocalDate.of(2024, 3, 1),
 DateTimeFormatter.ofPattern('yyyy-MM-dd HH:mm:ss').withZone(ZoneId.of('UTC')).format(Instant.ofEpochSecond(86400))]
