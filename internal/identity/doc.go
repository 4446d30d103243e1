// Package identity holds every credential primitive of tenantferry: random
// secrets and their hashes, mailbox password hashes, the server key that
// encrypts secrets at rest, the per-server signing keys, JWT issuance for the
// per-tenant OAuth 2.0 client-credentials endpoint, and verification of
// tokens from this or another tenantferry server (JWKS fetched and cached).
//
// Invariants:
//   - No secret, password or token is ever stored or logged in clear text:
//     app secrets and admin tokens are stored as HashSecret values, passwords
//     as argon2id hashes, endpoint secrets and signing keys sealed with the
//     server key.
//   - A token is accepted only if its signature verifies against a key of the
//     issuer the caller trusts, its issuer equals that issuer exactly, its
//     audience contains the expected resource, and it has not expired.
//   - All tenants of one server share the server's signing keys (one JWKS,
//     served under every tenant's path). A signature therefore proves only
//     which server issued a token; the exact "iss" match
//     (publicURL/<tenant id>/v2.0) is what separates its tenants. Never
//     accept a token on signature alone.
//   - A Verifier reuses a successful verification of the same token bytes
//     for the same issuer, JWKS URL and audience for at most
//     VerifiedTokenCacheTTL, never past the token's exp, with exp and nbf
//     checked on every use; failures are never remembered
//     (verifycache.go). Authorization decisions that read the directory
//     are never cached here.
//   - Only EdDSA (Ed25519) tokens are issued and accepted; "kid" is required.
//   - The issued "iss" and "tid" always use the tenant id, whichever tenant
//     reference (id, name, domain) the token request used.
//   - With Issuer.TenantDomains set, every token carries the tenant's
//     accepted domains (tenant_domains): a source server checks a move's
//     forwarding domain against them, trusting the list exactly as far as
//     it trusts the issuer. A token is never issued without the list when
//     it cannot be read.
//   - Plain http is used for a remote JWKS only on loopback hosts unless the
//     caller's policy allows more.
package identity
