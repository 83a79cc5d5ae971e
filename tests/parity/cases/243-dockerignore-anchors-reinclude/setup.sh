echo t > top.txt
mkdir -p sub gen a/b/gen excluded-dir/sub vendor/x vendor/y deep/1/2
echo s > sub/top.txt
echo g > gen/g; echo g > a/b/gen/g; echo k > a/b/keep
echo k > excluded-dir/keep.txt; echo d > excluded-dir/drop.txt
echo m > excluded-dir/sub/r.md; echo n > excluded-dir/sub/n.txt
echo d > dot-prefixed
echo v > vendor/x/f; echo v > vendor/file
echo s > spaced.txt
echo b > x.bak; echo i > important.bak
echo a > deep/1/2/skip-me; echo b > deep/1/2/skip-keep; echo c > deep/skip-top
find . -exec touch -h -d @1500000000 {} +
