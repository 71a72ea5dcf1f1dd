module github.com/modgate/modgate

go 1.26.8

require (
	github.com/cloudflare/ahocorasick v0.0.0-20240916140611-054963ec9396
	golang.org/x/text v0.43.0
)
