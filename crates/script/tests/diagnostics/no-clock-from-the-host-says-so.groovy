def stamp = new Date()
return stamp.format('yyyy-MM-dd')
