mkdir -p d/e/f
echo x > x.txt
echo dx > d/x.txt
echo ex > d/e/x.txt
echo y > d/y.txt
echo ey > d/e/y.txt
echo fy > d/e/f/y.txt
find . -exec touch -h -d @1500000000 {} +
