def r = []
3.times { r << it }
1.upto(3) { r << it }
3.downto(1) { r << it }
0.step(10, 4) { r << it }
10.step(0, -5) { r << it }
1.0.step(2.0, 0.5) { r << it }
r
