[1, 2, 3].average().class.simpleName
