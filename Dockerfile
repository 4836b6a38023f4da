# One image for every component; the command picks which one runs:
#
#   docker run xuc services.auth      (also services.contacts, services.telephony)
#   docker run xuc                    (the HTTP gateway, the default)
#
# Settings come from the environment (XUC_*, see xuc/runtime/settings.py); compose.yaml sets them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Only what the package is made of (see .dockerignore): the source tree is not kept in the image,
# the processes run the installed copy.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY xuc ./xuc
COPY xucproto ./xucproto
COPY services ./services
COPY gateway ./gateway
RUN pip install --no-cache-dir . \
 && cd / \
 && rm -rf /build

# An unprivileged user owning /data: the auth service keeps its signing key there (a volume in
# compose.yaml; an empty named volume takes this directory's owner when first mounted).
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin xuc \
 && mkdir -p /data \
 && chown xuc:xuc /data \
 && chmod 0700 /data

ENV XUC_DATA_DIR=/data \
    XUC_LOG_FORMAT=json
WORKDIR /data
USER 10001:10001

# The gateway's HTTP port; the gRPC services listen where XUC_<COMPONENT>_GRPC_LISTEN says.
EXPOSE 8090

ENTRYPOINT ["python", "-m"]
CMD ["gateway"]
