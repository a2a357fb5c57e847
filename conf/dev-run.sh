#!/bin/sh
# `make run`: the whole suite in the foreground from the source tree, with
# the embedded store under ./var and a demo user to log in with.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
mkdir -p var/data
if [ "$(id -u)" = 0 ]; then
	chown nobody:nogroup var/data
fi
# the demo user lives in the store; creating it twice is harmless
if "$build/wdctl" -c conf/dev.yaml user create demo demo demo@localhost >/dev/null 2>&1; then
	echo "created the demo user (password: demo)"
fi
cat <<MSG
wildduck-c is starting with conf/dev.yaml (Ctrl-C stops it).
  IMAP  127.0.0.1:1143   user demo, password demo (plain login allowed on loopback)
  POP3  127.0.0.1:1110   same account
  LMTP  127.0.0.1:2424   deliver to demo@localhost
  API   http://127.0.0.1:18080/
  status: $build/wdctl -c conf/dev.yaml status
  try:    python3 -c "import imaplib; m=imaplib.IMAP4('127.0.0.1',1143); m.login('demo','demo'); print(m.list())"
MSG
exec "$build/wildduck" -F -c conf/dev.yaml
