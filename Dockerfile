# ProcLab lesson server: one container per classroom (README "Docker"; docs/deploy.md has the isolation tiers).
#   docker build -t proclab .
#   docker run --rm -p 8000:8000 proclab
# BASE: a Debian-based image with python3 >= 3.11, venv and pip: python:3.11-slim (its python3 is
# /usr/local/bin/python3.11), or Debian's own python3 (/usr/bin/python3.11) in a base made with debootstrap
# (tests/test_container.py makes one when no registry is reachable). Only `python3` on PATH is used.
ARG BASE=python:3.11-slim

# The package is built and installed into /opt/proclab with the tested versions (constraints.txt); the venv's
# pip and setuptools are removed after: the server uses neither.
FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY app app
COPY lessons lessons
COPY static static
COPY templates templates
COPY docs/events.schema.json docs/
RUN python3 -m venv /opt/proclab \
 && /opt/proclab/bin/pip install --no-cache-dir --quiet -c constraints.txt ".[cluster]" \
 && /opt/proclab/bin/pip uninstall --quiet -y setuptools pip

FROM ${BASE}
# tini is PID 1: it reaps orphans and forwards signals. procps gives lessons `ps`; gcc and libc6-dev build
# the C programs of lessons.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini procps gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=build /opt/proclab /opt/proclab
# The run uids have a name (`ls -l`, `ps` USER, pwd.getpwuid) in the plain container too, where no mount
# namespace can give them one: every uid a launcher may claim (PROCLAB_UID_BASE and the 999 after it) is
# `student`. Build with the same --build-arg UID_BASE when PROCLAB_UID_BASE is changed.
ARG UID_BASE=61000
RUN for u in $(seq "${UID_BASE}" $((UID_BASE + 999))); do \
      echo "student:x:${u}:${u}:ProcLab student:/tmp:/usr/sbin/nologin" >> /etc/passwd; \
      echo "student:x:${u}:" >> /etc/group; \
    done

ENV PATH=/opt/proclab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PROCLAB_HOST=0.0.0.0 \
    PROCLAB_PORT=8000 \
    PROCLAB_DATA_DIR=/var/lib/proclab
VOLUME ["/var/lib/proclab"]
EXPOSE 8000
# Readiness, not only liveness: unhealthy while the launcher is down, the sandbox floor missing or storage failing.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request as u; u.urlopen(f'http://127.0.0.1:{os.environ[\"PROCLAB_PORT\"]}/readyz', timeout=2)"]
ENTRYPOINT ["/usr/bin/tini", "-g", "--"]
CMD ["proclab", "serve"]
