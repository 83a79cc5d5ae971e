echo a > a; echo b > b
