printf 'RUN echo %s > /f\n' "$(head -c 70000 /dev/zero | tr '\\0' a)" >> Dockerfile
