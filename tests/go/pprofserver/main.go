// A small Go service for profcol's scrape test: it serves the standard library's
// net/http/pprof endpoints and keeps two recognisable workloads busy.
package main

import (
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"time"
)

var sink [][]byte

// burnCPU spins on arithmetic so CPU profiles show it.
func burnCPU(n int) uint64 {
	var x uint64 = 1
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// allocateBuffers allocates steadily so allocation profiles grow between scrapes.
func allocateBuffers() {
	b := make([]byte, 64<<10)
	sink = append(sink, b)
	if len(sink) > 64 {
		sink = sink[1:]
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pprofserver ADDR")
		os.Exit(2)
	}
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	go func() {
		for {
			burnCPU(5_000_000)
		}
	}()
	go func() {
		for {
			allocateBuffers()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
