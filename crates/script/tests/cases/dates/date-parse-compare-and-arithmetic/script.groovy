import java.text.SimpleDateFormat
def f = new SimpleDateFormat('yyyy-MM-dd HH:mm:ss')
f.timeZone = TimeZone.getTimeZone('UTC')
def d = f.parse('2024-06-01 12:30:00')
def jira = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ").parse('2024-06-01T12:00:00.000+0200')
def later = new Date(d.time + 86400000L * 3)
[d.time, jira.time, d.before(jira), d.after(jira), d.compareTo(jira), d == new Date(d.time), (d + 1).format('yyyy-MM-dd'),
 (d - 1).format('yyyy-MM-dd'), later - d, Date.parse('yyyy-MM-dd', '2024-02-29').format('EEEE d MMMM yyyy'),
 Date.parse('yyyy-MM-dd HH:mm:ss', '2024-06-01 12:00:00').time, d < later, [later, d, jira].min() == jira,
 new Date(0).clearTime().time, d.toInstant().toString(), Date.from(java.time.Instant.parse('2020-01-02T03:04:05Z')).time,
 new SimpleDateFormat('dd.MM.yyyy').parse('31.12.2023').format('yyyy/MM/dd'), d.equals(new Date(d.time)), d.hashCode() == new Date(d.time).hashCode()]
