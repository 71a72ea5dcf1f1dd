package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultBaseURL is Stream Chat's server-side API.
const DefaultBaseURL = "https://chat.stream-io-api.com"

// Client calls Stream's server-side REST API for the decisions modgate
// makes after the fact: update, commit or delete a pending message, send an
// approved one on its sender's behalf. It retries with backoff and jitter on 429,
// 5xx and network errors, waiting for X-RateLimit-Reset when Stream gives
// it, and decodes Stream's errors into *APIError. Client is safe for
// concurrent use.
type Client struct {
	base    *url.URL
	apiKey  string
	token   string // the server JWT: HS256 over {"server": true}
	http    *http.Client
	options ClientOptions
}

// ClientOptions tune a Client; zero values take the defaults.
type ClientOptions struct {
	BaseURL     string        // default DefaultBaseURL; tests point it at a local fake
	HTTPClient  *http.Client  // default: a client with keep-alive and no overall timeout
	CallTimeout time.Duration // for each attempt; default 5s
	MaxAttempts int           // attempts per call, the first included; default 5
	MinBackoff  time.Duration // before the first retry; doubled each time, with jitter; default 200ms
	MaxBackoff  time.Duration // the longest wait between attempts, X-RateLimit-Reset included; default 30s

	// Sleep waits between attempts; tests replace it. It returns early with
	// ctx's error when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewClient returns a client for the app with apiKey and apiSecret.
func NewClient(apiKey, apiSecret string, opts ClientOptions) (*Client, error) {
	if apiKey == "" || apiSecret == "" {
		return nil, errors.New("stream client: an API key and secret are needed")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("stream client: base URL %q is not an http(s) URL", opts.BaseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true,
		}}
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString([]byte(apiSecret))
	if err != nil {
		return nil, fmt.Errorf("stream client: signing the server token: %w", err)
	}
	return &Client{base: base, apiKey: apiKey, token: token, http: opts.HTTPClient, options: opts}, nil
}

// APIError is an error Stream answered with. Code and Message come from
// Stream's JSON error body; Body holds the raw answer when it was not JSON
// (edge rate limits answer in plain text).
type APIError struct {
	HTTPStatus      int               `json:"-"`
	Code            int               `json:"code"`
	Message         string            `json:"message"`
	StatusCode      int               `json:"StatusCode"`
	Duration        string            `json:"duration"`
	MoreInfo        string            `json:"more_info"`
	ExceptionFields map[string]string `json:"exception_fields"`
	Body            string            `json:"-"`
}

func (e *APIError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("stream answered %d (code %d): %s", e.HTTPStatus, e.Code, e.Message)
	}
	return fmt.Sprintf("stream answered %d: %.200s", e.HTTPStatus, e.Body)
}

// Temporary reports whether trying again later may succeed.
func (e *APIError) Temporary() bool {
	return e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus == http.StatusRequestTimeout || e.HTTPStatus >= 500
}

// codeNotFound is Stream's error code for "does not exist".
const codeNotFound = 16

// NotFound reports whether Stream answered that the object does not exist.
func (e *APIError) NotFound() bool {
	return e.HTTPStatus == http.StatusNotFound || e.Code == codeNotFound
}

// Says reports whether Stream's message contains s, ignoring case.
func (e *APIError) Says(s string) bool {
	return strings.Contains(strings.ToLower(e.Message+e.Body), strings.ToLower(s))
}

// HookRefusal is Stream's answer to a send or an update that a
// before-message-send hook refused: a 2xx whose message has the type
// "error" and, as text, the hook's reply. Nothing was stored.
type HookRefusal struct {
	Text string
}

func (e *HookRefusal) Error() string {
	return fmt.Sprintf("the before-message-send hook refused the message: %q", e.Text)
}

// CommitMessage makes a pending message visible: POST /messages/{id}/commit.
func (c *Client) CommitMessage(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodPost, "/messages/"+url.PathEscape(id)+"/commit", nil, nil)
	return err
}

// DeleteMessage hard-deletes a message (pending messages can only be
// hard-deleted): DELETE /messages/{id}?hard=true.
func (c *Client) DeleteMessage(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/messages/"+url.PathEscape(id), url.Values{"hard": {"true"}}, nil)
	return err
}

// SendMessage sends message (a JSON object with text, user_id and any
// custom fields) to a channel on its sender's behalf:
// POST /channels/{type}/{id}/message. A send the before-message-send hook
// refused returns a *HookRefusal.
func (c *Client) SendMessage(ctx context.Context, channelType, channelID string, message json.RawMessage) error {
	return c.postMessage(ctx, "/channels/"+url.PathEscape(channelType)+"/"+url.PathEscape(channelID)+"/message", message)
}

// UpdateMessage replaces a stored message with message (the whole message,
// with user_id: the update is made as that user): POST /messages/{id}. An
// update the before-message-send hook refused returns a *HookRefusal.
func (c *Client) UpdateMessage(ctx context.Context, id string, message json.RawMessage) error {
	return c.postMessage(ctx, "/messages/"+url.PathEscape(id), message)
}

// PartialUpdateMessage sets fields of a stored message and leaves the
// others as they are: PUT /messages/{id} with {"set": set, "user_id":
// userID} (the update is made as that user). An update the
// before-message-send hook refused returns a *HookRefusal.
func (c *Client) PartialUpdateMessage(ctx context.Context, id, userID string, set json.RawMessage) error {
	if !json.Valid(set) || len(set) == 0 || set[0] != '{' {
		return errors.New("stream client: the fields to set are not a JSON object")
	}
	body := make([]byte, 0, len(set)+len(userID)+24)
	body = append(append(body, `{"set":`...), set...)
	body = append(AppendString(append(body, `,"user_id":`...), userID), '}')
	path := "/messages/" + url.PathEscape(id)
	answer, err := c.do(ctx, http.MethodPut, path, nil, body)
	if err != nil {
		return err
	}
	return hookRefusal(http.MethodPut, path, answer)
}

func (c *Client) postMessage(ctx context.Context, path string, message json.RawMessage) error {
	if !json.Valid(message) || len(message) == 0 || message[0] != '{' {
		return errors.New("stream client: the message to send is not a JSON object")
	}
	body := make([]byte, 0, len(message)+16)
	body = append(append(append(body, `{"message":`...), message...), '}')
	answer, err := c.do(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return err
	}
	return hookRefusal(http.MethodPost, path, answer)
}

// hookRefusal reads Stream's answer to a send or an update: a message of
// type "error" is the hook's refusal.
func hookRefusal(method, path string, answer []byte) error {
	var sent struct {
		Message struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"message"`
	}
	if json.Unmarshal(answer, &sent) == nil && sent.Message.Type == "error" {
		return fmt.Errorf("%s %s: %w", method, path, &HookRefusal{Text: sent.Message.Text})
	}
	return nil
}

// do makes one call with retries and returns the body of its 2xx answer.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte) ([]byte, error) {
	u := *c.base
	// path holds escaped ids: keep them escaped on the wire.
	u.RawPath = c.base.EscapedPath() + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("api_key", c.apiKey)
	u.RawQuery = q.Encode()
	target := u.String()

	backoff := c.options.MinBackoff
	var lastErr error
	for attempt := 1; ; attempt++ {
		answer, wait, err := c.attempt(ctx, method, target, body)
		if err == nil {
			return answer, nil
		}
		lastErr = err
		var apiErr *APIError
		retryable := !errors.As(err, &apiErr) || apiErr.Temporary()
		if !retryable || attempt >= c.options.MaxAttempts || ctx.Err() != nil {
			break
		}
		if wait <= 0 {
			// Full jitter: a random wait up to the doubled backoff.
			wait = time.Duration(rand.Int64N(int64(backoff))) + c.options.MinBackoff/2
			backoff = min(2*backoff, c.options.MaxBackoff)
		}
		if err := c.options.Sleep(ctx, min(wait, c.options.MaxBackoff)); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, errors.Join(lastErr, err))
		}
	}
	return nil, fmt.Errorf("%s %s: %w", method, path, lastErr)
}

// attempt makes one request and returns the body of a 2xx answer. For a
// 429 it returns how long to wait, from X-RateLimit-Reset.
func (c *Client) attempt(ctx context.Context, method, target string, body []byte) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.options.CallTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", c.token)
	req.Header.Set("Stream-Auth-Type", "jwt")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, 0, nil
	}
	apiErr := &APIError{HTTPStatus: resp.StatusCode}
	if json.Unmarshal(data, apiErr) != nil || (apiErr.Message == "" && apiErr.Code == 0) {
		*apiErr = APIError{HTTPStatus: resp.StatusCode, Body: string(data)}
	}
	var wait time.Duration
	if resp.StatusCode == http.StatusTooManyRequests {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			wait = time.Until(time.Unix(reset, 0)) + 100*time.Millisecond
		}
	}
	return nil, wait, apiErr
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
