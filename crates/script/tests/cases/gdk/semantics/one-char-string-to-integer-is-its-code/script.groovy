Integer n = '5'
