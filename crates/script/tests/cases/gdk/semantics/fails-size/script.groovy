assert [1, 2].size() == 3
