// Package storage keeps modgate's state behind the interfaces that package
// moderation declares: in memory for one process (the default), or in Redis
// for several processes that must behave as one.
package storage
