// Package harness is what the two programs of the benchmarks module, the
// comparison driver (package main in benchmarks) and the owner-index
// benchmark (benchmarks/owners), share: a private redis-server, the counts
// of the commands it ran, the CPU that other processes took during a
// measurement, the loop of callers that a measurement runs, and the
// helpers that turn the results into the tables' cells.
//
// # The server
//
// [StartServer] starts redis-server from the PATH on a free port of
// 127.0.0.1, never 6379, without persistence, and [Server.Stop] kills it by
// its pid: a run never touches a Redis it did not start. [CommandCalls] and
// [DiffCalls] read what the server ran from INFO commandstats.
//
// # Interference
//
// The machine a benchmark runs on may be busy with other work (a CI job, a
// developer's tests). A [CPUWatch] reads /proc to tell how many cores
// processes outside the benchmark used during a measurement, and
// [LeastDisturbed] runs a disturbed measurement again, keeping the least
// disturbed run; an [Interference] tallies both for the notes under a
// table. Where /proc is missing, every measurement counts as undisturbed.
//
// # Left out
//
// The sessions, their ids and the preloads stay in each program: the owner
// benchmark's session has a string user id, its owner, where the
// comparison's has a number, and its ids are built without a set of a
// million strings; sharing either would change the bytes one of them
// measures. The wording of the notes and the rounding of the larger
// numbers in the owner benchmark's tables stay in each program too, since
// they differ.
package harness
