mkdir -p s x y d1/in d2/in
echo a > s/a
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C s -cf a266.tar a
rm -r s
echo x > x/f; echo y > y/f
echo 1 > d1/in/one; echo 2 > d2/in/two; echo 1 > d1/both; echo 2 > d2/both
find . -exec touch -h -d @1500000000 {} +
touch -d @1400000000 d2/in
