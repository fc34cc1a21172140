# A burst of sign-ins against a running server: THREADS clients sign in as fast as they can
# for SECONDS, while one more reads a page of leads every 50 ms; prints the sign-ins per second
# and the reads' latency. Usage: python3 bench/sign-ins.py BASE_URL THREADS SECONDS
import json, sys, threading, time, urllib.request, statistics
base = sys.argv[1]; n_threads = int(sys.argv[2]); secs = float(sys.argv[3])
body = json.dumps({"username": "admin", "password": "bench-password-1"}).encode()
def login():
    r = urllib.request.Request(base + "/api/auth/login", data=body, headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(r, timeout=60))["token"]
tok = login()
stop = time.time() + secs
done = [0]
def flood():
    while time.time() < stop:
        try: login(); done[0] += 1
        except Exception as e: print("login error", e)
lat = []
def probe():
    while time.time() < stop:
        t = time.time()
        r = urllib.request.Request(base + "/api/leads?page=1&limit=20", headers={"authorization": "Bearer " + tok})
        urllib.request.urlopen(r, timeout=60).read()
        lat.append(time.time() - t); time.sleep(0.05)
ts = [threading.Thread(target=flood) for _ in range(n_threads)] + [threading.Thread(target=probe)]
[t.start() for t in ts]; [t.join() for t in ts]
lat.sort()
print(f"logins={done[0]} ({done[0]/secs:.1f}/s) probe n={len(lat)} p50={statistics.median(lat)*1000:.1f}ms p99={lat[int(len(lat)*0.99)-1]*1000:.1f}ms max={lat[-1]*1000:.1f}ms")
