def l = [1, 2]
return l.frobnicate()
