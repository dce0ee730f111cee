// Package elastic is the Elasticsearch timeline store: the case timeline at
// scale, for Kibana. It keeps the same contract as the SQLite store (one
// suite, timeline/storetest, holds both to it) and adds what a network
// store needs to lose nothing: deterministic document IDs written with the
// bulk `create` op (a re-index is a no-op, a 409 is a duplicate), per-item
// failure handling, retries with backoff on 429 and 5xx, gzip, and memory
// bounded by the bulk indexer's flush threshold.
package elastic

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/jejak-forensics/jejak/timeline"
)

// Config says where and how to reach Elasticsearch.
type Config struct {
	URLs  []string // one or more node URLs; requests rotate over them
	Index string   // e.g. "jejak-<case>"

	User, Password string // basic auth
	APIKey         string // base64 "id:key"; overrides User/Password
	CACert         []byte // PEM; added to the system pool for https URLs

	// Workers is how many bulk requests are in flight at once (default 2).
	// Each has FlushBytes of request and FlushBytes/512 queued events, so
	// memory is about Workers*(FlushBytes + FlushBytes/512*event size).
	Workers    int
	FlushBytes int // flush a bulk request at this size (default 5 MiB)
	// MaxRetries bounds both the HTTP-level retries of one request and the
	// rounds in which items the cluster refused (429, 5xx, lost responses)
	// are sent again (default 8).
	MaxRetries int
	// Backoff is the first retry delay; it doubles up to MaxBackoff
	// (defaults 200ms and 10s).
	Backoff, MaxBackoff time.Duration
	// RequestTimeout bounds the wait for a response's headers, so a
	// stalled node becomes a retry rather than a hang (default 60s).
	RequestTimeout time.Duration
	PageSize       int // search page size (default 1000)
	// Uncompressed sends request bodies as they are instead of gzipped. For
	// a node on the same machine gzip saves no network, and it costs both
	// sides CPU the node needs: a third of `jejak index`'s own CPU (profiled).
	Uncompressed bool
	// ReadOnly opens an existing index for reading: nothing is installed or
	// created on the cluster, and a missing index is an error.
	ReadOnly bool
	// CAFingerprint pins the cluster's certificate (or its CA's) by the
	// SHA-256 fingerprint Elasticsearch prints on first start, hex, colons
	// allowed: the alternative to CACert the Elastic clients offer.
	CAFingerprint string
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.FlushBytes <= 0 {
		c.FlushBytes = 5 << 20
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 8
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.PageSize <= 0 {
		c.PageSize = 1000
	}
}

// Stats counts the work behind the writes, for progress and reports.
type Stats struct {
	// Retries is how many times jejak tried again after a 429, a 5xx, a
	// reset or a timeout: each resend of a non-bulk request, and each round
	// in which Write resent the events of failed bulk requests.
	Retries int64
	// ItemRetries is how many events Write resent (the same event counts
	// once per resend).
	ItemRetries int64
	// ResentConflicts counts re-sent events answered 409: they are in the
	// index, but whether the lost first attempt or an earlier ingest put them
	// there cannot be told, so Write counts them as duplicates.
	ResentConflicts int64
	BulkRequests    int64
}

// ErrNoIndex: a read asked for an index the cluster does not hold.
var ErrNoIndex = errors.New("elasticsearch: no such index")

// Store is an Elasticsearch-backed timeline.Store. Write must be called by
// one goroutine at a time (one writer per store, as for SQLite).
type Store struct {
	cfg        Config
	client     *elasticsearch.Client // retries 429/5xx/resets itself
	bulkClient *elasticsearch.Client // no transport retries: see Open

	retries, itemRetries, resentConflicts, bulkRequests atomic.Int64

	closeOnce sync.Once
}

var _ timeline.Store = (*Store)(nil)

// Open connects, checks the cluster answers and accepts the credentials,
// installs the index template and creates the index if needed.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.defaults()
	if len(cfg.URLs) == 0 {
		return nil, errors.New("elasticsearch: no URL given")
	}
	// Credentials in a URL leave it here, so no message below can print
	// the password (see userinfo.go).
	urls, user, password, err := SplitUserinfo(cfg.URLs)
	if err != nil {
		return nil, err
	}
	cfg.URLs = urls
	if cfg.User == "" && cfg.APIKey == "" {
		cfg.User, cfg.Password = user, password
	}
	if cfg.Index == "" {
		return nil, errors.New("elasticsearch: no index name given")
	}
	if cfg.Index != strings.ToLower(cfg.Index) || strings.ContainsAny(cfg.Index, `\/*?"<>| ,#:`) {
		return nil, fmt.Errorf("elasticsearch: %q is not a valid index name (lowercase, no \\/*?\"<>| ,#:)", cfg.Index)
	}
	s := &Store{cfg: cfg}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   cfg.Workers + 2,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	base := elasticsearch.Config{
		Addresses: cfg.URLs,
		Username:  cfg.User,
		Password:  cfg.Password,
		APIKey:    cfg.APIKey,
		CACert:    cfg.CACert,
		// The transport wants bare hex; "openssl x509 -fingerprint" and
		// Kibana print it with colons.
		CertificateFingerprint: strings.ToLower(strings.ReplaceAll(cfg.CAFingerprint, ":", "")),
		Transport:              tr,
		CompressRequestBody:    !cfg.Uncompressed,
		// Level 1, not the default 6: a bulk body of events still shrinks
		// 14x (6 gets 20x), and gzip's share of `jejak index`'s CPU falls
		// from 18% to 9% (profiled), CPU the node lacks when both share a
		// machine.
		CompressRequestBodyLevel: gzip.BestSpeed,
		PoolCompressor:           true,
	}
	withRetry := base
	withRetry.RetryOnStatus = []int{429, 502, 503, 504}
	withRetry.MaxRetries = cfg.MaxRetries
	withRetry.RetryOnError = func(req *http.Request, err error) bool { return req.Context().Err() == nil }
	withRetry.RetryBackoff = func(attempt int) time.Duration {
		// The transport also asks after its last attempt; that is no retry.
		if attempt <= cfg.MaxRetries {
			s.retries.Add(1)
		}
		return s.backoff(attempt)
	}
	client, err := elasticsearch.NewClient(withRetry)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	// Bulk requests are not retried by the transport: a resend after a lost
	// answer comes back as 409s that the transport would hand over as if
	// they were the first answer, and Write could no longer tell "already
	// there before this ingest" from "put there by the attempt whose answer
	// was lost". Write resends failed items itself and keeps that apart.
	noRetry := base
	noRetry.DisableRetry = true
	bulkClient, err := elasticsearch.NewClient(noRetry)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	s.bulkClient = bulkClient
	s.client = client
	if err := s.ping(ctx); err != nil {
		return nil, err
	}
	if cfg.ReadOnly {
		if err := s.mustExist(ctx); err != nil {
			return nil, err
		}
		return s, s.checkSchema(ctx)
	}
	if err := s.install(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// mustExist refuses a read of an index that is not there, instead of
// answering "0 events" (and, through a search, making it).
func (s *Store) mustExist(ctx context.Context) error {
	res, err := s.client.Indices.Exists([]string{s.cfg.Index}, s.client.Indices.Exists.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("elasticsearch: index %s: %w", s.cfg.Index, err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: index %s is not on the cluster (make it with 'jejak index CASE --es URL', or name another with --index)", ErrNoIndex, s.cfg.Index)
	}
	return apiError("index "+s.cfg.Index, res)
}

func (s *Store) backoff(attempt int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// Client is the underlying client, for commands and tests that need more
// than the store contract.
func (s *Store) Client() *elasticsearch.Client { return s.client }

// Index is the index this store writes to.
func (s *Store) Index() string { return s.cfg.Index }

// Stats returns the counters accumulated since Open.
func (s *Store) Stats() Stats {
	return Stats{
		Retries:         s.retries.Load(),
		ItemRetries:     s.itemRetries.Load(),
		ResentConflicts: s.resentConflicts.Load(),
		BulkRequests:    s.bulkRequests.Load(),
	}
}

// apiError turns a non-2xx answer into an error that says what to do.
func apiError(what string, res *esapi.Response) error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	reason := strings.TrimSpace(string(body))
	var e struct {
		Error struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Type != "" {
		reason = e.Error.Type + ": " + e.Error.Reason
	}
	switch res.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%s: elasticsearch refused the credentials (401): check --user/--password or --api-key: %s", what, reason)
	case http.StatusForbidden:
		return fmt.Errorf("%s: the elasticsearch user lacks a privilege for this (403): %s", what, reason)
	case http.StatusTooManyRequests:
		return fmt.Errorf("%s: elasticsearch is overloaded and kept answering 429 Too Many Requests through every retry: %s", what, reason)
	}
	return fmt.Errorf("%s: elasticsearch answered %s: %s", what, res.Status(), reason)
}

func (s *Store) ping(ctx context.Context) error {
	// One plain attempt per node first: when none of them even accepts a
	// connection (a wrong URL, a stopped cluster) say so at once instead of
	// after the retrying client's full backoff.
	var dialErrs []string
	for range s.cfg.URLs {
		res, err := s.bulkClient.Cluster.Health(s.bulkClient.Cluster.Health.WithContext(ctx))
		if err == nil {
			res.Body.Close()
			break
		}
		dialErrs = append(dialErrs, err.Error())
	}
	if len(dialErrs) == len(s.cfg.URLs) {
		return fmt.Errorf("elasticsearch unreachable at %s: %s", strings.Join(s.cfg.URLs, ", "), strings.Join(dialErrs, "; "))
	}
	res, err := s.client.Cluster.Health(s.client.Cluster.Health.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("elasticsearch unreachable at %s: %w", strings.Join(s.cfg.URLs, ", "), err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return apiError("connect to "+strings.Join(s.cfg.URLs, ", "), res)
	}
	var h struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		return fmt.Errorf("elasticsearch at %s: unreadable cluster health: %w", strings.Join(s.cfg.URLs, ", "), err)
	}
	if h.Status == "red" {
		return fmt.Errorf("elasticsearch cluster at %s is red: some primary shards are unassigned", strings.Join(s.cfg.URLs, ", "))
	}
	return nil
}

func (s *Store) install(ctx context.Context) error {
	tmpl, err := Template(s.cfg.Index)
	if err != nil {
		return err
	}
	res, err := s.client.Indices.PutIndexTemplate(TemplateName(s.cfg.Index), bytes.NewReader(tmpl),
		s.client.Indices.PutIndexTemplate.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("install index template: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return apiError("install index template "+TemplateName(s.cfg.Index), res)
	}
	cres, err := s.client.Indices.Create(s.cfg.Index, s.client.Indices.Create.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("create index %s: %w", s.cfg.Index, err)
	}
	defer cres.Body.Close()
	if cres.IsError() {
		body, _ := io.ReadAll(cres.Body)
		if !bytes.Contains(body, []byte("resource_already_exists_exception")) {
			cres.Body = io.NopCloser(bytes.NewReader(body))
			return apiError("create index "+s.cfg.Index, cres)
		}
	}
	return s.checkSchema(ctx)
}

// checkSchema refuses an index that was not created from jejak's template
// (an older index under the same name, or one made by another tool): its
// mapping could reject or silently not index our fields.
func (s *Store) checkSchema(ctx context.Context) error {
	res, err := s.client.Indices.GetMapping(s.client.Indices.GetMapping.WithIndex(s.cfg.Index),
		s.client.Indices.GetMapping.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("read mapping of %s: %w", s.cfg.Index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return apiError("read mapping of "+s.cfg.Index, res)
	}
	var m map[string]struct {
		Mappings struct {
			Meta struct {
				Schema int `json:"jejak_schema"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		return fmt.Errorf("read mapping of %s: %w", s.cfg.Index, err)
	}
	for name, idx := range m {
		if idx.Mappings.Meta.Schema != SchemaVersion {
			return fmt.Errorf("index %s exists but was not created by this jejak (schema %d, want %d): choose another --index or delete it",
				name, idx.Mappings.Meta.Schema, SchemaVersion)
		}
	}
	return nil
}

// Close releases the client. Writes are synchronous, so nothing is pending.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(s.client.Close(ctx), s.bulkClient.Close(ctx))
	})
	return err
}
