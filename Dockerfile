# syntax=docker/dockerfile:1
#
# hush in a container: a static binary on a minimal, shell-less image,
# running as a non-root user, keeping its host key and code salt in /data.
#
#   docker build --build-arg VERSION=v1.0.0 --build-arg COMMIT=$(git rev-parse --short HEAD) -t hush .
#   docker run -d -p 2222:2222 -v hush-data:/data hush

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/hush . \
    && mkdir -p /out/data

# distroless/static: CA certificates, tzdata, /etc/passwd with "nonroot"
# (65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/hush /hush
# A fresh named volume takes its owner from the image's /data.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 2222
# "hush health" reads the same HUSH_* settings as the server: it asks
# /healthz when HUSH_METRICS is set, else dials the SSH port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["/hush", "health"]
ENTRYPOINT ["/hush"]
CMD ["--data", "/data", "--listen", ":2222"]
