for n in a b c d zz; do echo $n > $n.txt; done
echo star > 'a*b'
echo ab > aXb
echo br > '[x].txt'
mkdir -p d1/s d2
echo f > d1/f.txt
echo s > d1/s/f.txt
echo g > d2/f.txt
echo file > dfile
find . -exec touch -h -d @1500000000 {} +
