package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Check asks every server that holds modgate's keys whether it serves: the
// one server, the master of a Sentinel group (that it is a master), or every
// master of a Cluster (its keys are spread over all of them), which must
// also see the cluster's state as ok; and it fails while the breaker of one
// of them is open, when messages' calls fail at once. A Cluster's map of
// masters is read afresh each time, so a fail-over is seen at the next
// check. The error names each failing server.
func (r *Redis) Check(ctx context.Context) error {
	if err := r.serversAsked(ctx); err != nil {
		r.seen.Store(r.trips.Load()) // reported as it is
		return err
	}
	// The servers may answer the check and messages still fail, or have
	// failed since the last check: a fail-over shorter than a check (go-redis
	// dials until the new master answers), a server that answers a ping and
	// not a script.
	n := r.trips.Load()
	tripped := r.seen.Swap(n) != n
	if err := r.breakersOpen(); err != nil {
		return err
	}
	if tripped {
		return errors.New("messages' calls failed several times in a row since the last check")
	}
	return nil
}

// breakersOpen reports the servers whose calls fail at once for now.
func (r *Redis) breakersOpen() error {
	now := time.Now()
	if r.breaker.open(now) {
		return errors.New("messages' calls fail: several in a row failed")
	}
	r.breakers.mu.Lock()
	defer r.breakers.mu.Unlock()
	var errs []error
	for addr, b := range r.breakers.m {
		if b.open(now) {
			errs = append(errs, fmt.Errorf("master %s: messages' calls fail: several in a row failed", addr))
		}
	}
	return errors.Join(errs...)
}

func (r *Redis) serversAsked(ctx context.Context) error {
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		var errs []error
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			info, err := node.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = errors.New("the cluster's state is not ok there")
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("master %s: %w", node.Options().Addr, err))
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading the cluster's masters: %w", err)
		}
		return errors.Join(errs...)
	case *redis.Client:
		// ROLE rather than PING: a replica answers PING too, but refuses
		// the scripts (a server that was a master until a fail-over).
		role, err := c.Do(ctx, "ROLE").Slice()
		if err == nil && (len(role) == 0 || role[0] != "master") {
			err = fmt.Errorf("it is not a master (role %v)", role[0])
		}
		if err != nil {
			addr := c.Options().Addr
			if addr == "FailoverClient" { // go-redis's name for a Sentinel group's master
				addr = "the Sentinel group's master"
			}
			return fmt.Errorf("%s: %w", addr, err)
		}
	default:
		if err := r.client.Ping(ctx).Err(); err != nil {
			return err
		}
	}
	return nil
}
