{ printf 'RUN echo start'; for i in $(seq 1000); do printf ' \\\n  %s' "$(head -c 96 /dev/zero | tr '\\0' b)"; done; printf ' > /f\n'; } >> Dockerfile
