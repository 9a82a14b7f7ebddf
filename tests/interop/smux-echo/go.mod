module gost-rs/smux-echo

go 1.21

require github.com/xtaci/smux v1.5.31
