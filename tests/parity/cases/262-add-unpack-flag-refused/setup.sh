mkdir s; echo a > s/a; tar -cf a.tar -C s a; rm -r s
