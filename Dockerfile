# The fulfillsync worker image (also runs the other `fulfillsync` commands, e.g. `topics create`).
#
#   docker build -t fulfillsync .
#   docker run --rm -p 6066:6066 -v "$PWD/config/compose.yaml:/etc/fulfillsync/config.yaml:ro" \
#       fulfillsync --config /etc/fulfillsync/config.yaml worker
#
# On Kubernetes, helm/fulfillsync deploys it (docs/deploy.md).
#
# On linux/amd64 every dependency ships a CPython 3.11 manylinux wheel, so the slim image needs no compiler.
# (faust-streaming 0.15.3 has no aarch64 wheel: an arm64 build compiles it from source and may need build-essential
# in the build stage.) The build stage installs into a virtualenv that the runtime stage copies; the source tree
# stays out of the final image.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
RUN pip install .


FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed, non-root uid/gid, so volume ownership and a Kubernetes `runAsUser` can name it.
RUN groupadd --system --gid 10001 fulfillsync \
    && useradd --system --uid 10001 --gid fulfillsync --home-dir /var/lib/fulfillsync --shell /usr/sbin/nologin \
        fulfillsync \
    && mkdir -p /var/lib/fulfillsync/state /etc/fulfillsync \
    && chown -R fulfillsync:fulfillsync /var/lib/fulfillsync

COPY --from=build /opt/venv /opt/venv

# The state dir exists in the image, owned by the app user, so a named volume mounted there starts with that owner.
WORKDIR /var/lib/fulfillsync
USER 10001:10001

# HTTP: the worker's /healthz, /readyz, /metrics, /webhooks/{connection_id} (worker.web_port), and the web app for
# sellers without an integration (`fulfillsync web`, web.port). helm/fulfillsync runs this image as it is: uid 10001,
# these ports, the state volume at /var/lib/fulfillsync/state, the configuration at /etc/fulfillsync/config.yaml
# (tests/helm/fulfillsync/test_dockerfile.py checks that the two agree).
EXPOSE 6066
EXPOSE 8080

ENTRYPOINT ["fulfillsync"]
CMD ["worker"]
