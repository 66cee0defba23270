def f(int x) { 'int' }
def f(String s) { 'str' }
def f(List l) { 'list' }
def f(Map m) { 'map' }
def f(Object o) { 'obj' }
[f(1), f('a'), f([1]), f([a: 1]), f(1.5), f(null as String), f(true)]
