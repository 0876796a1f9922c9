# Both services and the Redis module from one build: the libraries compile once in the `build`
# stage, and each service image is a target on slim Debian 12 with only the runtime libraries, as a
# non-root user; the `redis` target is Debian's redis-server with uhc_module.so beside it.
#   podman build --target enrollment-svc -t uhc/enrollment-svc:0.1.0 .
#   podman build --target classifier-svc -t uhc/classifier-svc:0.1.0 .
#   podman build --target redis -t uhc/redis:0.1.0 .
#   podman build --target backup -t uhc/backup:0.1.0 .
# (docker build works the same.) Tests are off in image builds; .dockerignore keeps .git, local
# build folders and run/ out of the context.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev \
      protobuf-compiler libabsl-dev libhiredis-dev libssl-dev libcpp-httplib-dev ca-certificates \
      && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build /build -j"$(nproc)" --target enrollment-svc classifier-svc uhc_module \
         uhc-backup

FROM debian:12-slim AS runtime
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libhiredis0.14 libssl3 libcpp-httplib0.11 \
      && rm -rf /var/lib/apt/lists/* \
      && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin uhc
COPY data /etc/uhc/data
COPY config/policies /etc/uhc/policies
USER 10001:10001
ENV UHC_DATA_DIR=/etc/uhc/data UHC_POLICY_DIR=/etc/uhc/policies UHC_METRICS_HOST=0.0.0.0

FROM runtime AS enrollment-svc
COPY --from=build /build/enrollment-svc/enrollment-svc /usr/local/bin/enrollment-svc
ENV UHC_LISTEN=0.0.0.0:50051 UHC_METRICS_PORT=9101
EXPOSE 50051 9101
ENTRYPOINT ["/usr/local/bin/enrollment-svc"]

FROM runtime AS classifier-svc
COPY --from=build /build/classifier-svc/classifier-svc /usr/local/bin/classifier-svc
ENV UHC_LISTEN=0.0.0.0:50052 UHC_METRICS_PORT=9102
EXPOSE 50052 9102
ENTRYPOINT ["/usr/local/bin/classifier-svc"]

# Redis 7.0 from Debian with the module that applies events (enrollment-svc/module/): start it with
# --loadmodule /usr/lib/redis/modules/uhc_module.so. Like the official image: no /etc/redis of its
# own, /data owned by uid 999, redis-server as the entrypoint.
FROM debian:12-slim AS redis
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      redis-server redis-tools && rm -rf /var/lib/apt/lists/* /etc/redis \
      && mkdir /data && chown 999:999 /data
COPY --from=build /build/enrollment-svc/module/uhc_module.so /usr/lib/redis/modules/uhc_module.so
WORKDIR /data
ENTRYPOINT ["redis-server"]

# The backup CronJob's image (deploy/k8s/data/production/backup.yaml): uhc-backup and redis-cli.
FROM runtime AS backup
USER root
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      redis-tools && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/tools/uhc-backup /usr/local/bin/uhc-backup
USER 10001:10001
