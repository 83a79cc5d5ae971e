echo s > secret.txt
