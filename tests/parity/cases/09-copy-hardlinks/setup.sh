ln dir/a dir/b
mkdir dir/sub
ln dir/a dir/sub/c
