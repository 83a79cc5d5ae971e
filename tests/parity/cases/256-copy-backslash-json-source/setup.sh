echo b > 'back\slash'
