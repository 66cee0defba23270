1.25.setScale(1, java.math.RoundingMode.UNNECESSARY)
