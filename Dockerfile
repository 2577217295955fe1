# ProcLab lesson server: one container per classroom.
#   docker build -t proclab .
#   docker run --rm -p 8000:8000 proclab
# More isolation (pid/net/mount namespaces, cgroup limits) when the container may use them:
#   docker run --rm -p 8000:8000 --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns=private proclab
FROM python:3.11-slim

# tini is PID 1: it reaps orphans, forwards signals. make runs the README's commands. procps gives `ps` to lessons.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini make procps \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/proclab
COPY . .
# The README's first command, split: install at build time, start at run time.
RUN make install

ENV PROCLAB_HOST=0.0.0.0 \
    PROCLAB_PORT=8000 \
    PROCLAB_DATA_DIR=/var/lib/proclab
VOLUME ["/var/lib/proclab"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python3 -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["/usr/bin/tini", "-g", "--"]
CMD ["make", "run"]
