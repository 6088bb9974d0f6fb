package typedstore

import (
	"context"
	"maps"
)

// MigrateOptions configures [Store.Migrate].
type MigrateOptions struct {
	// DryRun counts and checks without writing: Migrate reports how many
	// sessions are stored in each version and which would fail to migrate.
	DryRun bool
	// Progress, when set, receives the report so far after each batch of
	// sessions (ScanCount of them), on the goroutine that called Migrate.
	Progress func(MigrateReport)
}

// MigrateReport counts what [Store.Migrate] found and did.
type MigrateReport struct {
	// Sessions is the number of sessions read.
	Sessions int
	// Versions counts the sessions read by the version they were stored
	// with (0: no version member).
	Versions map[int]int
	// OldKey counts the sessions read that were sealed under one of
	// Options.EncryptionKeys other than the first, or, under
	// Options.AcceptPlaintext, not sealed at all, and that Migrate reseals
	// under the first key (in a dry run, would). Those that cannot be
	// decoded or encoded again count in Failed instead.
	OldKey int
	// Migrated is the number of sessions written back in the current shape
	// and under the first of Options.EncryptionKeys (in a dry run, that
	// would have been).
	Migrated int
	// Changed is the number of sessions that another writer changed
	// between Migrate's read and its write: theirs stands, and is in the
	// current shape if that writer is.
	Changed int
	// Failed is the number of sessions that cannot be decoded, migrated or
	// encoded again (within MaxSize), in the current version as in older
	// ones. Errors holds the first hundred of them, each wrapping a
	// [*CorruptError] that carries the session's id (its name, under
	// Options.IDHashKey).
	Failed int
	Errors []error
}

// Migrate brings every session under the store's prefix up to the current
// [Options.Version] and under the first of [Options.EncryptionKeys], as a
// read of each would, without waiting for its owner's next request: the
// operator's path through a deploy that changes the session type, and
// through a rotation of keys. It walks the keys as [Store.All] does (streaming, in
// batches of ScanCount, over every master of a cluster), decodes each
// session stored in an older version through [Options.Migrations], or
// sealed under an older key, and writes it back with the compare-and-set of a migrating read, which keeps
// its time to live and leaves alone a session changed meanwhile. Sessions
// already in the current version, or stored by a newer program, are
// decoded, to report those that cannot be, and counted.
//
// A Migrate that is interrupted (ctx done, a Redis error) returns what it
// did so far with the error; run it again to resume: what it migrated is
// in the current version and only counted the second time. It never
// applies [Options.OnDecodeError]: failures are reported, and left as they
// are. Without Version, every session counts as version 0, and only
// those sealed under an older key are written.
func (s *Store[T]) Migrate(ctx context.Context, opts MigrateOptions) (MigrateReport, error) {
	ctx, p := s.observe(ctx, OpMigrate)
	var res Result
	ended := false
	defer p.unwind(ctx, &ended, &res)
	r, err := s.migrate(ctx, p, opts)
	ended, res = true, Result{Err: err, Sessions: r.Sessions}
	p.end(ctx, res)
	return r, err
}

// migrate is Migrate, under p.
func (s *Store[T]) migrate(ctx context.Context, p probe, opts MigrateOptions) (MigrateReport, error) {
	const op = "migrate"
	r := MigrateReport{Versions: map[int]int{}}
	fail := func(err error) {
		p.corrupt(ctx, err)
		r.fail(err)
	}
	err := s.scanKeys(ctx, true, func(ctx context.Context, keys []string, vals []fetched) (bool, error) {
		for i, key := range keys {
			data, id := vals[i].data, key[len(s.opts.Prefix):]
			if vals[i].err != nil {
				fail(opErr(op, &CorruptError{ID: id, Err: vals[i].err}))
				continue
			}
			if data == nil {
				continue // expired since the SCAN
			}
			r.Sessions++
			plain, st, err := s.unseal(op, id, key, data)
			if err != nil {
				fail(err)
				continue
			}
			ver := 0
			if s.opts.Version > 0 {
				if ver, err = s.versionOf(plain); err != nil {
					fail(opErr(op, &CorruptError{ID: id, Err: err}))
					continue
				}
			}
			r.Versions[ver]++
			v, unknown, stale, err := s.decodePlain(op, id, plain, true)
			if err != nil {
				fail(err)
				continue
			}
			if st == sealedFirst && !stale {
				continue
			}
			next, err := s.encode(op, key, v, unknown)
			if err != nil {
				fail(opErr(op, &CorruptError{ID: id, Err: err}))
				continue
			}
			if st != sealedFirst {
				r.OldKey++
			}
			if opts.DryRun {
				r.Migrated++
				continue
			}
			n, err := upgradeScript.Run(ctx, s.client, []string{key}, data, next).Int()
			if err != nil {
				return false, s.wrapErr(ctx, op, err)
			}
			if n == 1 {
				r.Migrated++
			} else {
				r.Changed++
			}
		}
		if opts.Progress != nil {
			opts.Progress(r.clone())
		}
		return true, nil
	})
	return r, err
}

// fail records a session that cannot be migrated.
func (r *MigrateReport) fail(err error) {
	r.Failed++
	if len(r.Errors) < maxReportedCorrupt {
		r.Errors = append(r.Errors, err)
	}
}

// clone returns a copy of r that later batches do not change.
func (r MigrateReport) clone() MigrateReport {
	r.Versions = maps.Clone(r.Versions)
	r.Errors = append([]error(nil), r.Errors...)
	return r
}
