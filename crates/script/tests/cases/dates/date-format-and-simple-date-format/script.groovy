import java.text.SimpleDateFormat
def d = new Date(86400000L * 365 + 3723004)
def f = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ")
f.setTimeZone(TimeZone.getTimeZone('UTC'))
def g = new SimpleDateFormat('dd/MM/yy HH:mm')
g.timeZone = TimeZone.getTimeZone('Europe/Paris')
def h = new java.text.SimpleDateFormat('EEEE, MMMM d, yyyy h:mm:ss a z')
h.timeZone = TimeZone.getTimeZone('America/New_York')
[d.time, d.getTime(), d.format('yyyy-MM-dd'), d.format('EEE, d MMM yyyy hh:mm a', TimeZone.getTimeZone('UTC')), f.format(d), g.format(d),
 h.format(d), d.toString(), d.format("yyyy-MM-dd'T'HH:mm:ssXXX"), d.format('D w u k K S'), d.format('yy-M-d H:m:s'),
 new SimpleDateFormat('MMM').format(new Date(0)), d.format("'quoted ''text''' yyyy"), f.toPattern()]
