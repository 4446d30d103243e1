# Developer shortcuts; CI runs .ci/run. See CONTRIBUTING.md.
.PHONY: test race fuzz

# The README's test command.
test:
	go test ./...

# The race detector over the packages that run goroutines against shared
# state (sessions, watchers, queues, the replication engine, job runners).
# Slower than `make test` (about 3x); run it before merging concurrency
# changes and nightly.
RACE_PKGS = ./internal/imapd/... ./internal/mailstore/... ./internal/migration/... ./internal/delivery/... \
	./internal/smtpd/... ./internal/replication/... ./internal/jobs/... ./internal/blobstore/... ./internal/dav/... ./internal/groupware/...
race:
	go test -race -timeout 60m $(RACE_PKGS)

# Every fuzz target for FUZZTIME each (default 10s); failing inputs land in
# the package's testdata/fuzz and become regression tests.
fuzz:
	bash .ci/fuzz
