// Package packaging holds the files that install tenantferry — the
// Dockerfile at the repository root, packaging/compose.yaml (with
// PostgreSQL) and packaging/tenantferry.service (systemd, hardened) — and
// the tests that check them with the real tools where they are available:
// systemd-analyze verify and security for the unit, docker build for the
// image. It has no code.
package packaging
