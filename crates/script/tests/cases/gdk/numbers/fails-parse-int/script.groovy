Integer.parseInt('4.5')
