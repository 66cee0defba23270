import java.text.DecimalFormat
def money = new DecimalFormat('#,##0.00')
def hours = new DecimalFormat('0.#')
[money.format(1234.5), money.format(1234567.891), money.format(0.005), money.format(0.015), money.format(-42),
 hours.format(2.0), hours.format(2.25), hours.format(2.35), new DecimalFormat('000').format(7), new DecimalFormat('#').format(0),
 new DecimalFormat('00.00').format(3.14159), new DecimalFormat('$#,##0').format(1234567), new DecimalFormat('#,##0 h').format(12.6),
 new DecimalFormat('0.00').format(1.005d), new DecimalFormat('#.##').format(-0.001), money.toPattern()]
