package typedstore

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// Open returns a Store on a Redis client that it builds from a Redis URL,
// for callers that have no client of their own. [Store.Close] closes that
// client.
//
// The URL is one that go-redis parses:
//
//	redis://[user:password@]host[:port][/db][?options]    a single server
//	rediss://…                                             the same, over TLS
//	unix://[user:password@]/path/to/socket[?db=N]          a Unix socket
//	redis://host:port?addr=host2:port2&addr=host3:port3    a Redis Cluster
//	redis://s1:26379?master_name=mymaster&addr=s2:26379    through Sentinels
//
// A redis:// or rediss:// URL with a master_name parameter names Sentinels
// (its host and any addr parameters) and the master they watch
// (redis.ParseFailoverURL: the client follows failovers); one with addr
// parameters and no master_name is read as a cluster's seed nodes
// (redis.ParseClusterURL); any other by redis.ParseURL.
// Options in the query string are go-redis's (dial_timeout, pool_size, …).
// The client honours context deadlines (go-redis's ContextTimeoutEnabled).
// Open does not contact Redis. An empty or malformed URL is an error whose
// message never repeats the URL, which may hold a password.
func Open[T any](rawURL string, opts Options[T]) (*Store[T], error) {
	client, err := clientFromURL(rawURL)
	if err != nil {
		return nil, err
	}
	s, err := New(client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	s.owned.Store(true)
	return s, nil
}

func clientFromURL(rawURL string) (redis.UniversalClient, error) {
	if rawURL == "" {
		return nil, errors.New("typedstore: Open: the Redis URL is empty (want redis://host:port, rediss://…, unix://… or a cluster URL)")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, password included: keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("typedstore: Open: invalid Redis URL: %w", err)
	}
	if (u.Scheme == "redis" || u.Scheme == "rediss") && u.Query().Has("master_name") {
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("typedstore: Open: %w", err)
		}
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	}
	if (u.Scheme == "redis" || u.Scheme == "rediss") && u.Query().Has("addr") {
		o, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("typedstore: Open: %w", err)
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("typedstore: Open: %w", err)
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o), nil
}
