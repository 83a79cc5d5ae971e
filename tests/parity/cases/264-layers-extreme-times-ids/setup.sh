mkdir t
echo a > a
echo old > t/pre-1970
echo far > t/year-2100
echo z > t/zero
n99=$(printf 'n%.0s' $(seq 1 99)); n100=$(printf 'n%.0s' $(seq 1 100)); n101=$(printf 'n%.0s' $(seq 1 101))
echo 99 > "t/$n99"; echo 100 > "t/$n100"; echo 101 > "t/$n101"
find . -exec touch -h -d @1500000000 {} +
touch -d @-86400 t/pre-1970
touch -d @4102444800 t/year-2100
touch -d @0 t/zero
