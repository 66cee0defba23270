def r = []
for (int i = 0; i < 3; i++) { if (i == 1) continue ; r << i }
def j = 0
while (true) { if (++j > 3) break }
def k = 0
do { k++ } while (k < 3)
[r, j, k]
