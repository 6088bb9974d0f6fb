module github.com/typedstore/typedstore/cmd/typedstore

go 1.26.0

replace github.com/typedstore/typedstore => ../..

require (
	github.com/goccy/go-json v0.12.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/schollz/progressbar/v3 v3.19.1
	github.com/typedstore/typedstore v0.0.0-00010101000000-000000000000
	golang.org/x/term v0.48.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
