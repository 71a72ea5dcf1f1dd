// Package deploy holds the tests of modgate's deployment files: that
// compose.yaml is a valid Compose file (the Compose specification's own
// loader and schema, as `docker compose config` uses them) and that
// kubernetes/ renders with kustomize into objects the Kubernetes API types
// accept field for field, with what running modgate safely takes.
//
// It is a module of its own so that the service's module does not carry
// kustomize, the Kubernetes types and the Compose loader: run its tests
// with `cd deploy && go test ./...` (CI does).
package deploy
