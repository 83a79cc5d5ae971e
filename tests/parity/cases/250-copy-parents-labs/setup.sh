mkdir -p a/b; echo c > a/b/c.txt
