# tenantferry container image: a static binary on a minimal, non-root base.
#   docker build -t tenantferry .
#   docker run -p 8080:8080 -p 2525:2525 -p 1143:1143 -p 1587:1587 -v tf-data:/data tenantferry
# With PostgreSQL: packaging/compose.yaml. The ports inside are the
# unprivileged defaults (HTTP 8080, SMTP 2525, IMAP 1143, submission 1587);
# map 25/143/587 to them on the host.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tenantferry ./cmd/tenantferry

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tenantferry /usr/local/bin/tenantferry
# The data directory (SQLite, message packs, keys, the operator token)
# belongs to the image's non-root user (65532).
VOLUME ["/data"]
USER nonroot:nonroot
EXPOSE 8080 2525 1143 1587
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/tenantferry", "healthcheck", "--url", "http://127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/tenantferry"]
CMD ["serve", "--data", "/data", "--http", ":8080", "--smtp", ":2525", "--imap", ":1143", "--submission", ":1587"]
