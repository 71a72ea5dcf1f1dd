# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/modgate ./cmd/modgate \
 && /out/modgate check rules.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/modgate /modgate
COPY --from=build /src/rules.yaml /etc/modgate/rules.yaml
ENV MODGATE_RULES=/etc/modgate/rules.yaml MODGATE_ADDR=:8080
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/modgate"]
CMD ["serve"]
