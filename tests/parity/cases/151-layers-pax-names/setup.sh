# Names ustar cannot hold (non-ASCII, over 100 and over 255 bytes, long link targets): the
# PAX headers' own bytes (mode, name) decide the diffID.
echo a > "$(printf 'caf\303\251')"
echo b > "$(printf 'lat\351n1')"
ln -s "$(printf 'caf\303\251')" "$(printf 'lnk\303\251')"
d60=$(printf 'd%.0s' $(seq 1 60)); e60=$(printf 'e%.0s' $(seq 1 60)); f120=$(printf 'f%.0s' $(seq 1 120))
mkdir -p "$d60/$e60"
echo c > "$d60/$e60/$f120"
g200=$(printf 'g%.0s' $(seq 1 200)); h200=$(printf 'h%.0s' $(seq 1 200)); i250=$(printf 'i%.0s' $(seq 1 250))
mkdir -p "$g200/$h200"
echo d > "$g200/$h200/$i250"
ln -s "$g200/$h200/$i250" longlink
ln "$g200/$h200/$i250" hardlong
mkdir "$(printf 'dir\303\251')"
echo e > "$(printf 'dir\303\251')/f"
find . -exec touch -h -d @1500000000 {} +
