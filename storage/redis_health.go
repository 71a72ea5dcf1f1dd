package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Check asks every server that holds modgate's keys whether it serves: the
// one server, the master of a Sentinel group, or every master of a Cluster
// (its keys are spread over all of them), which must also see the cluster's
// state as ok. A Cluster's map of masters is read afresh each time, so a
// fail-over is seen at the next check. The error names each failing server.
func (r *Redis) Check(ctx context.Context) error {
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
		if err := c.Ping(ctx).Err(); err != nil {
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
