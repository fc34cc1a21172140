#!/usr/bin/env python3
"""Keep writing through the API until a file appears: a new lead, then a note on one of the
first N leads, one request every 20 ms. Each request's start, duration and status go to OUT,
a line each.

Usage: python3 bench/writer.py BASE_URL TOKEN N STOP_FILE OUT
Standard library only.
"""

import http.client
import json
import os
import random
import sys
import time
from urllib.parse import urlparse

base, token, n, stop, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
u = urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
rng = random.Random(7)
with open(out, "w") as f:
    i = 0
    while not os.path.exists(stop):
        if i % 2 == 0:
            method, path = "POST", "/api/leads"
            body = {"phone": f"+1907{5_000_000 + i:07d}", "name": f"writer {i}"}
        else:
            method, path = "PATCH", f"/api/leads/{rng.randint(1, n)}"
            body = {"notes": f"note {i}"}
        t0 = time.time()
        conn.request(method, path, body=json.dumps(body), headers=headers)
        r = conn.getresponse()
        r.read()
        f.write(f"{t0:.6f} {time.time() - t0:.6f} {r.status}\n")
        i += 1
        time.sleep(0.02)
