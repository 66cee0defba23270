x = 5
def local = 1
binding.setVariable('z', 7)
binding.variables.q = 3
[binding.hasVariable('x'), binding.hasVariable('local'), binding.hasVariable('nope'),
 binding.variables.x, binding.variables.containsKey('z'), z, q, binding.getVariable('x'),
 binding.variables.get('zz'), binding.getProperty('q'), binding.variables.containsKey('local')]
