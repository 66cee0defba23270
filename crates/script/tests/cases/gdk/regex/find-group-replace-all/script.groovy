def m = 'key: value' =~ /(?<k>\w+): (?<v>\w+)/
[m.find(), m.group('k'), m.group('v'), m.replaceAll('${v}=${k}'), 'ab12'.replaceAll(/(?<d>\d)/, '<${d}>')]
