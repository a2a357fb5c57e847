// ferretdb-test: a MongoDB-wire test server for the store contract suite and
// the e2e tests, FerretDB v1.24's embeddable package over its SQLite backend
// (Debian has no MongoDB server). Test-only: never a production store.
//
//	ferretdb-test ADDR DATADIR     e.g. ferretdb-test 127.0.0.1:0 /tmp/x
//
// Prints "mongodb://HOST:PORT/" on stdout once it accepts connections (so
// port 0 picks a free port), then serves until SIGTERM/SIGINT or until its
// stdin closes (so a test runner that dies takes the server with it).
//
// Why a proxy in front of FerretDB: FerretDB's SQLite handler applies an
// update by reading the document, changing it in Go and writing it back,
// with nothing in between to stop a concurrent writer; findAndModify with
// $inc then hands out the same value twice (a probe: 4 threads x 500 $inc
// on one document ended at 1164 with 539 duplicates). Real MongoDB makes
// every single-document write atomic and the store driver relies on exactly
// that (UID/MODSEQ allocation, reference counts), so this server restores
// it the bluntest way: one request at a time, across all connections.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

const (
	opMsg       = 2013
	moreToCome  = 1 << 1
	maxMsgBytes = 48 << 20
)

// serial is held from sending a request to FerretDB until its reply is read.
var serial sync.Mutex

// readMsg reads one wire-protocol message (header included).
func readMsg(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n < 16 || n > maxMsgBytes {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	buf := make([]byte, n)
	copy(buf, hdr[:])
	_, err := io.ReadFull(r, buf[4:])
	return buf, err
}

// expectsReply is false for OP_MSG with moreToCome (w:0 writes).
func expectsReply(msg []byte) bool {
	if binary.LittleEndian.Uint32(msg[12:16]) != opMsg || len(msg) < 20 {
		return true
	}
	return binary.LittleEndian.Uint32(msg[16:20])&moreToCome == 0
}

func serve(client net.Conn, backendAddr string) {
	defer client.Close()
	backend, err := net.Dial("tcp", backendAddr)
	if err != nil {
		return
	}
	defer backend.Close()
	for {
		req, err := readMsg(client)
		if err != nil {
			return
		}
		serial.Lock()
		var reply []byte
		_, err = backend.Write(req)
		if err == nil && expectsReply(req) {
			reply, err = readMsg(backend)
		}
		serial.Unlock()
		if err != nil {
			return
		}
		if reply != nil {
			if _, err = client.Write(reply); err != nil {
				return
			}
		}
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ferretdb-test ADDR DATADIR")
		os.Exit(2)
	}
	dir, err := filepath.Abs(os.Args[2])
	if err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-test:", err)
		os.Exit(1)
	}
	level := slog.LevelWarn
	if os.Getenv("FERRETDB_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-test:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-test:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if os.Getenv("FERRETDB_TEST_KEEP_STDIN") == "" {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	done := make(chan struct{})
	go func() {
		_ = f.Run(ctx)
		close(done)
	}()
	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-test:", err)
		os.Exit(1)
	}
	backendAddr := u.Host
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					fmt.Fprintln(os.Stderr, "ferretdb-test: accept:", err)
				}
				return
			}
			go serve(c, backendAddr)
		}
	}()
	fmt.Printf("mongodb://%s/\n", ln.Addr().String())
	<-ctx.Done()
	ln.Close()
	<-done
}
