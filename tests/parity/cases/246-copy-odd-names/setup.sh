echo b > 'back\slash'
printf 't\n' > "$(printf 'tab\tname')"
echo d > -dash
echo q > "quote'single"
echo q > 'quote"double'
echo c > 'colon:name'
echo s > '.hidden'
echo u > "$(printf '\346\227\245\346\234\254')"
mkdir "$(printf 'sp ace dir')"; echo x > "sp ace dir/x y"
find . -exec touch -h -d @1500000000 {} +
