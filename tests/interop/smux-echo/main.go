// smux-echo is the Go peer of gost-smux's interoperability test (tests/tests/smux_go.rs).
//
// It speaks github.com/xtaci/smux at the version Go gost pins, over one TCP connection:
//
//	-mode server: listen on -addr, print "listening ADDR", accept one connection, echo every
//	              stream (until the peer closes it), and when the session ends print
//	              "served streams=N bytes=B ids=I1,I2,..." and exit 0.
//	-mode client: dial -addr, open -streams streams, send -size bytes on each while reading the
//	              echo, check it byte for byte, print "ok streams=N bytes=B" and exit 0; exit 1 on
//	              any error or mismatch.
//
// The test builds it outside the repository (go.sum is created there, not here).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xtaci/smux"
)

func main() {
	mode := flag.String("mode", "server", "server or client")
	version := flag.Int("version", 1, "smux protocol version, 1 or 2")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (server) or dial (client)")
	streams := flag.Int("streams", 16, "client: number of streams")
	size := flag.Int("size", 256*1024, "client: bytes echoed per stream")
	flag.Parse()

	cfg := smux.DefaultConfig()
	cfg.Version = *version
	if err := smux.VerifyConfig(cfg); err != nil {
		fail(err)
	}
	var err error
	switch *mode {
	case "server":
		err = serve(*addr, cfg)
	case "client":
		err = client(*addr, cfg, *streams, *size)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "smux-echo:", err)
	os.Exit(1)
}

func serve(addr string, cfg *smux.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	conn, err := ln.Accept()
	ln.Close()
	if err != nil {
		return err
	}
	sess, err := smux.Server(conn, cfg)
	if err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		ids   []int
		total int64
		wg    sync.WaitGroup
	)
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			break // the session ended: the peer closed the connection
		}
		mu.Lock()
		ids = append(ids, int(st.ID()))
		mu.Unlock()
		wg.Add(1)
		go func(st *smux.Stream) {
			defer wg.Done()
			defer st.Close()
			n, _ := io.Copy(st, st)
			mu.Lock()
			total += n
			mu.Unlock()
		}(st)
	}
	wg.Wait()
	sort.Ints(ids)
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = fmt.Sprint(id)
	}
	fmt.Printf("served streams=%d bytes=%d ids=%s\n", len(ids), total, strings.Join(list, ","))
	return nil
}

// pattern returns size bytes that depend on seed (xorshift).
func pattern(size int, seed uint64) []byte {
	x := seed*0x9E3779B97F4A7C15 | 1
	out := make([]byte, size)
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = byte(x)
	}
	return out
}

func client(addr string, cfg *smux.Config, streams, size int) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	sess, err := smux.Client(conn, cfg)
	if err != nil {
		return err
	}
	defer sess.Close()
	errs := make(chan error, streams)
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		st, err := sess.OpenStream()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func(i int, st *smux.Stream) {
			defer wg.Done()
			// Close (FIN) only after the whole echo is back: smux has no half-close.
			defer st.Close()
			st.SetDeadline(time.Now().Add(60 * time.Second))
			data := pattern(size, uint64(i))
			werr := make(chan error, 1)
			go func() {
				_, err := st.Write(data)
				werr <- err
			}()
			got := make([]byte, size)
			if _, err := io.ReadFull(st, got); err != nil {
				errs <- fmt.Errorf("stream %d: read: %w", st.ID(), err)
				return
			}
			if err := <-werr; err != nil {
				errs <- fmt.Errorf("stream %d: write: %w", st.ID(), err)
				return
			}
			if !bytes.Equal(got, data) {
				errs <- fmt.Errorf("stream %d: echo differs", st.ID())
			}
		}(i, st)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Printf("ok streams=%d bytes=%d\n", streams, streams*size)
	return nil
}
