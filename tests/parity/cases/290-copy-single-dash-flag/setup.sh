echo a290 > a290
