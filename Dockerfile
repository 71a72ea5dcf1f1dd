# syntax=docker/dockerfile:1
#
# docker build -t modgate \
#   --build-arg VERSION=$(git describe --tags --always --dirty) \
#   --build-arg REVISION=$(git rev-parse HEAD) \
#   --build-arg BUILD_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# The build context has no .git (.dockerignore), so the version, revision
# and build time that `modgate version` prints are stamped from these
# arguments; left out, it prints (devel).
#
# Your own rules: mount the folder that holds rules.yaml (and its list
# files) over /etc/modgate. A folder rather than the file alone: an editor
# that saves by writing a new file and renaming it would leave a mounted
# file showing the old version, while a mounted folder shows the change,
# and modgate reloads it within MODGATE_RULES_POLL.
#
#   docker run -p 8080:8080 -e STREAM_API_KEY=... -e STREAM_API_SECRET=... \
#     -v "$PWD/my-rules:/etc/modgate:ro" modgate

# The Go toolchain go.mod names (its go line), and no other: GOTOOLCHAIN=local
# makes the build fail, rather than fetch another Go, should go.mod ever ask
# for a newer one than this image has. A test keeps this tag and go.mod in step.
FROM golang:1.26.8-bookworm AS build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG REVISION=""
ARG BUILD_TIME=""
RUN go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION} -X main.buildTime=${BUILD_TIME}" \
      -o /out/modgate ./cmd/modgate \
 && /out/modgate check rules.yaml \
 && /out/modgate version

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=""
ARG REVISION=""
LABEL org.opencontainers.image.title="modgate" \
      org.opencontainers.image.description="A moderation hook for Stream Chat" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/modgate /modgate
COPY --from=build /src/rules.yaml /etc/modgate/rules.yaml
COPY --from=build /src/LICENSE /src/NOTICE /usr/share/doc/modgate/
ENV MODGATE_RULES=/etc/modgate/rules.yaml MODGATE_ADDR=:8080
USER nonroot:nonroot
EXPOSE 8080
# The image has no shell and no curl: modgate asks itself (/readyz on
# MODGATE_ADDR). Ready means a valid rule set is loaded and it is not
# draining; a Redis that is down is reported, not unready.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/modgate", "healthcheck"]
ENTRYPOINT ["/modgate"]
CMD ["serve"]
