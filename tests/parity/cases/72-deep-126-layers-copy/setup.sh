mkdir f
for i in $(seq -w 1 130); do echo "$i" > "f/$i"; done
