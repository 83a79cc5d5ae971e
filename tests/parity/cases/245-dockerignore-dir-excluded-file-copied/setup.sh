mkdir -p dir/sub dir/other; echo k > dir/keep; echo d > dir/drop; echo s > dir/sub/s; echo o > dir/other/o
find . -exec touch -h -d @1500000000 {} +
