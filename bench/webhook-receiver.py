# A webhook receiver for bench/webhooks.sh: answers every POST with 204 after checking its
# Switchboard-Signature against SECRET (a bad one is counted, and answered 400), and writes
# "received=N bad=N first=T last=T" (epoch seconds) to OUT at each request.
# Usage: python3 bench/webhook-receiver.py PORT SECRET OUT
import hashlib, hmac, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, secret, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
lock = threading.Lock()
state = {"received": 0, "bad": 0, "first": 0.0, "last": 0.0}
class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        t, _, v1 = self.headers.get("switchboard-signature", "").partition(",v1=")
        want = hmac.new(secret, t.removeprefix("t=").encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, v1)
        with lock:
            now = time.time()
            state["received"] += 1
            state["bad"] += 0 if ok else 1
            state["first"] = state["first"] or now
            state["last"] = now
            line = "received={received} bad={bad} first={first:.3f} last={last:.3f}\n".format(**state)
            with open(out, "w") as f: f.write(line)
        self.send_response(204 if ok else 400)
        self.send_header("content-length", "0")
        self.end_headers()
ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()
