binding.getVariable('nothere')
