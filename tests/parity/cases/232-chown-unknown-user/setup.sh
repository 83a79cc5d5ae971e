echo a > a
