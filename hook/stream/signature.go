package stream

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"sync"
)

// Errors of signature checking. The HTTP layer answers 401 for all of them.
var (
	ErrNoSignature  = errors.New("missing X-Signature header")
	ErrBadSignature = errors.New("signature does not match the body")
	ErrUnknownKey   = errors.New("unknown X-Api-Key")
	// ErrMalformedSignature is an ErrBadSignature that is not even the
	// shape of one: not 64 hex digits.
	ErrMalformedSignature = fmt.Errorf("%w: X-Signature is not 64 hex digits", ErrBadSignature)
)

// Keys holds the API secrets modgate accepts, by API key. An app may have
// several keys during a rotation; Stream signs with the one named in
// X-Api-Key. Keys is safe for concurrent use.
type Keys struct {
	byKey map[string]*secret
	all   []*secret
}

type secret struct {
	pool sync.Pool // of *mac, keyed with the secret
}

// NewKeys builds Keys from API key → secret pairs. A secret under the empty
// key name is used for any X-Api-Key that has no secret of its own.
func NewKeys(secrets map[string]string) *Keys {
	k := &Keys{byKey: make(map[string]*secret, len(secrets))}
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := []byte(secrets[name])
		s := &secret{}
		s.pool.New = func() any { return &mac{h: hmac.New(sha256.New, key)} }
		k.byKey[name] = s
		k.all = append(k.all, s)
	}
	return k
}

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.all) }

// Has reports whether apiKey is configured by name (not merely signed for
// by a secret without a key name).
func (k *Keys) Has(apiKey string) bool {
	_, ok := k.byKey[apiKey]
	return ok && apiKey != ""
}

// Verify checks that signature (lowercase hex of HMAC-SHA256 over body) was
// made with the secret of apiKey. Without an API key every secret is tried.
func (k *Keys) Verify(apiKey string, body []byte, signature string) error {
	if signature == "" {
		return ErrNoSignature
	}
	var want [sha256.Size]byte
	if len(signature) != 2*sha256.Size {
		return ErrMalformedSignature
	}
	if _, err := hex.Decode(want[:], []byte(signature)); err != nil {
		return ErrMalformedSignature
	}
	if apiKey != "" {
		s, ok := k.byKey[apiKey]
		if !ok {
			// A secret configured without its key name signs for any key.
			if s, ok = k.byKey[""]; !ok {
				return ErrUnknownKey
			}
		}
		if !s.verify(body, want[:]) {
			return ErrBadSignature
		}
		return nil
	}
	for _, s := range k.all {
		if s.verify(body, want[:]) {
			return nil
		}
	}
	return ErrBadSignature
}

// mac is a keyed HMAC with room for its sum, reused across requests.
type mac struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func (s *secret) verify(body, want []byte) bool {
	m := s.pool.Get().(*mac)
	m.h.Reset()
	m.h.Write(body)
	ok := hmac.Equal(m.h.Sum(m.sum[:0]), want)
	s.pool.Put(m)
	return ok
}

// Sign returns the signature Stream sends for body: lowercase hex of
// HMAC-SHA256 keyed with the API secret. Tests and the load tool use it.
func Sign(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Errors of decompression.
var (
	ErrTooLarge = errors.New("body is larger than the limit")
	ErrBadGzip  = errors.New("body is not valid gzip")
)

// IsGzip reports whether body starts with the gzip magic bytes. Stream's
// Content-Encoding header may have been removed by a proxy, so the bytes decide.
func IsGzip(body []byte) bool {
	return len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b
}

// Gunzip inflates body into dst, refusing output larger than limit bytes.
func Gunzip(dst *bytes.Buffer, body []byte, limit int64) error {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return errors.Join(ErrBadGzip, err)
	}
	defer zr.Close()
	n, err := dst.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return errors.Join(ErrBadGzip, err)
	}
	if n > limit {
		return ErrTooLarge
	}
	return nil
}
