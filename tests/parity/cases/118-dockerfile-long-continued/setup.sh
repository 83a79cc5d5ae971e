# One instruction of ~100 KB made of 1,000 continuation lines of 100 bytes each.
{
  printf 'RUN echo start'
  line=$(head -c 96 /dev/zero | tr '\000' b)
  for i in $(seq 1000); do printf ' \\\n  %s' "$line"; done
  printf ' > /f\n'
} >> Dockerfile
