# One physical line over 65,535 bytes: RUN echo aaaa… (70,000 a's).
printf 'RUN echo %s > /f\n' "$(head -c 70000 /dev/zero | tr '\000' a)" >> Dockerfile
