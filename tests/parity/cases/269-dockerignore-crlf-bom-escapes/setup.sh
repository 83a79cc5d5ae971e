printf '\357\273\277bom-first.txt\r\ncrlf.txt\r\n   # indented comment\r\n\\#hash.txt\r\nstar\\*.txt\r\n/lead/\r\ntrail.txt/\r\n!/lead/keep\r\n**/deep-only\r\nq?.txt\r\n[ab].dat\r\n' > .dockerignore
for f in bom-first.txt crlf.txt '#hash.txt' 'star*.txt' starX.txt trail.txt q1.txt q12.txt a.dat c.dat keep.txt; do echo x > "$f"; done
mkdir -p lead sub/deeper; echo k > lead/keep; echo d > lead/drop
echo d > sub/deeper/deep-only; echo d > deep-only; echo t > sub/trail.txt
find . -exec touch -h -d @1500000000 {} +
