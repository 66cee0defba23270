import java.math.RoundingMode
def d = 2.345
[d.setScale(2, RoundingMode.HALF_UP), d.setScale(2, RoundingMode.HALF_EVEN), d.setScale(1, RoundingMode.DOWN),
 (-2.5).setScale(0, RoundingMode.HALF_UP), 2.5.setScale(0, RoundingMode.HALF_EVEN), 1.21.setScale(1, RoundingMode.CEILING),
 (-1.21).setScale(1, RoundingMode.FLOOR), 1.2.setScale(3), 3.14159.round(2), 2.5.round(), 3.7.round(), (-2.5).round(),
 (2.345 as double).round(2), 10.05.setScale(1, BigDecimal.ROUND_HALF_UP), RoundingMode.HALF_UP.toString(),
 1.25.setScale(1, java.math.RoundingMode.HALF_DOWN), 1.25.setScale(1, RoundingMode.UP), (-1.25).setScale(1, RoundingMode.UP),
 12.5.setScale(-1, RoundingMode.HALF_UP).toPlainString(), 1.5f.round(), 2.567d.round(1),
 RoundingMode.valueOf('HALF_EVEN').name(), 0.125.setScale(2, RoundingMode.HALF_EVEN).scale(), 1.999.setScale(0, RoundingMode.FLOOR).class.simpleName]
